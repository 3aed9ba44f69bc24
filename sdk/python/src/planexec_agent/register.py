"""Registering an agent: through the gateway (``POST /api/agents`` with the operator token) or
straight to the coordinators over NATS (``<ns>.cmd.register_agent``), where the agent makes its
own token and sends only its SHA-256, so the secret never crosses the wire."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from .errors import CommandRefused, FieldError, ProtocolError, Unreachable
from .options import Credentials, Registration, RegisterVia, RegisterViaGateway, check_http_url, nats_servers
from .subjects import Namespace
from .transport.http import GatewayClient
from .uuid7 import new_event_id

__all__ = ["RegisteredAgent", "register", "register_over_nats", "new_token", "token_hash"]


@dataclass(frozen=True)
class RegisteredAgent:
    """A new agent and its token (shown this once: keep it)."""

    agent_id: str
    name: str
    role: str
    capabilities: tuple[str, ...]
    token: str = field(repr=False)
    #: The agent's own NATS credentials (a ``.creds`` file's text), when the installation mints them.
    nats_credentials: str | None = field(default=None, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.agent_id, self.token)

    @classmethod
    def from_json(cls, data: Any, token: str | None = None) -> RegisteredAgent:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise ProtocolError(f"the registered agent does not parse: {str(data)[:200]}")
        token = token if token is not None else data.get("token")
        if not isinstance(token, str):
            raise ProtocolError("the registration answer carries no token")
        creds = data.get("nats_credentials")
        return cls(
            agent_id=data["id"],
            name=str(data.get("name", "")),
            role=str(data.get("role", "")),
            capabilities=tuple(str(c) for c in data.get("capabilities") or []),
            token=token,
            nats_credentials=creds if isinstance(creds, str) else None,
            raw=data,
        )


def new_token(agent_id: str) -> str:
    """A fresh token for agent ``agent_id``: ``pxa_<id without dashes>_<64 random hex>``."""
    return f"pxa_{agent_id.replace('-', '')}_{secrets.token_hex(32)}"


def token_hash(token: str) -> str:
    """What the coordinator stores of a token: its hex SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


async def register(
    via: RegisterVia,
    registration: Registration,
    namespace: Namespace | None = None,
    timeout: float = 10.0,
) -> RegisteredAgent:
    """Registers a new agent; raises :class:`~planexec_agent.InvalidRequest` (gateway) or
    :class:`~planexec_agent.CommandRefused` (NATS) with the fields that are wrong."""
    body = {"name": registration.name, "role": registration.role, "capabilities": list(registration.capabilities)}
    if isinstance(via, RegisterViaGateway):
        client = GatewayClient(check_http_url(via.url, "the gateway URL"), via.operator_token, timeout)
        try:
            return RegisteredAgent.from_json(await client.request("POST", "/api/agents", body))
        finally:
            await client.close()
    from .transport.nats import connect

    nc = await connect(nats_servers(via.servers), via.credentials_file, "planexec-agent-registration")
    try:
        return await register_over_nats(nc, namespace or Namespace(), registration, timeout)
    finally:
        await nc.close()


async def register_over_nats(
    nc: Any, namespace: Namespace, registration: Registration, timeout: float = 10.0
) -> RegisteredAgent:
    """Registers through the coordinators on an open NATS connection (a ``nats.aio.client.Client``)."""
    # The id is chosen here so that the token can name it (the gateway finds the agent by it).
    agent_id = new_event_id()
    token = new_token(agent_id)
    command = {
        "id": agent_id,
        "name": registration.name,
        "role": registration.role,
        "capabilities": list(registration.capabilities),
        "token_hash": token_hash(token),
    }
    import nats.errors

    try:
        answer = await nc.request(namespace.command_subject("register_agent"), json.dumps(command).encode(), timeout=timeout)
    except (asyncio.TimeoutError, nats.errors.NoRespondersError) as e:
        raise Unreachable("the coordinator (register_agent)", str(e) or f"no answer within {timeout} s") from None
    try:
        reply = json.loads(answer.data)
    except ValueError as e:
        raise ProtocolError(f"the answer to register_agent is not JSON: {e}") from None
    if isinstance(reply, dict) and isinstance(reply.get("error"), dict):
        error = reply["error"]
        errors = tuple(FieldError(str(e.get("field", "")), str(e.get("message", ""))) for e in error.get("errors") or [])
        message = error.get("message") or "; ".join(f"{e.field}: {e.message}" for e in errors) or json.dumps(error)
        raise CommandRefused(str(error.get("kind", "unknown")), str(message), errors)
    if not isinstance(reply, dict) or "ok" not in reply:
        raise ProtocolError(f"unexpected answer to register_agent: {str(reply)[:200]}")
    return RegisteredAgent.from_json(reply["ok"], token=token)
