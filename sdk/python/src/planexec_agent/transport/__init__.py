"""The two ways an agent reaches planexec: HTTP polling through the gateway, and NATS directly."""
