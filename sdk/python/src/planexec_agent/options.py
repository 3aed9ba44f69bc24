"""How an agent runs: who it is, how it reaches planexec, and its tunables."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Union
from urllib.parse import urlsplit

from .errors import OptionsError
from .observer import Observer
from .subjects import Namespace

__all__ = [
    "POLL_INTERVAL_ENV",
    "poll_interval_cap",
    "Credentials",
    "HttpTransport",
    "NatsTransport",
    "Transport",
    "Registration",
    "RegisterViaGateway",
    "RegisterViaNats",
    "RegisterVia",
    "AgentOptions",
    "nats_servers",
]

#: Environment variable capping every back-off (seconds); 300 when unset.
POLL_INTERVAL_ENV = "PLANEXE_AGENT_POLL_INTERVAL_SECONDS"


def poll_interval_cap() -> float:
    """``$PLANEXE_AGENT_POLL_INTERVAL_SECONDS``, or 300 s when unset or not a positive number."""
    try:
        value = float(os.environ.get(POLL_INTERVAL_ENV, ""))
    except ValueError:
        return 300.0
    return value if math.isfinite(value) and value > 0 else 300.0


def nats_servers(servers: str | Sequence[str]) -> list[str]:
    """A server list from ``"nats://a:4222,nats://b:4222"`` or a list of URLs."""
    items = servers.split(",") if isinstance(servers, str) else list(servers)
    return [s.strip() for s in items if s.strip()]


@dataclass(frozen=True)
class Credentials:
    """A registered agent's id and secret token (``Authorization: Bearer <token>``)."""

    agent_id: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class HttpTransport:
    """Through the gateway's HTTP API (long polling): ``http://host:8080``."""

    gateway: str


@dataclass(frozen=True)
class NatsTransport:
    """Directly on NATS (JetStream). ``servers``: a URL, a comma-separated list, or a list.

    ``credentials_file`` is a NATS ``.creds`` file (JWT and NKey seed) for servers with
    decentralised authentication.
    """

    servers: str | Sequence[str]
    credentials_file: str | None = None


Transport = Union[HttpTransport, NatsTransport]


@dataclass(frozen=True)
class Registration:
    """What a new agent says about itself. No capabilities: those of its handlers."""

    name: str
    capabilities: tuple[str, ...] = ()
    #: Free text: "assistant", "script", "person".
    role: str = "assistant"


@dataclass(frozen=True)
class RegisterViaGateway:
    """``POST {url}/api/agents`` with the operator token."""

    url: str
    operator_token: str = field(repr=False)


@dataclass(frozen=True)
class RegisterViaNats:
    """The coordinators' ``<ns>.cmd.register_agent`` command; the agent makes its own token."""

    servers: str | Sequence[str]
    credentials_file: str | None = None


RegisterVia = Union[RegisterViaGateway, RegisterViaNats]


@dataclass
class AgentOptions:
    """Everything :class:`planexec_agent.Agent` needs; the defaults are the documented ones.

    Give either ``credentials`` (an agent registered before) or ``registration`` and
    ``register_via`` (register when the agent starts).
    """

    transport: Transport
    credentials: Credentials | None = None
    registration: Registration | None = None
    register_via: RegisterVia | None = None
    #: Prefix of every NATS subject and stream; must match the coordinator's.
    namespace: str = "planexec"
    #: Tasks run at once.
    concurrency: int = 4
    #: Seconds between signs of life; an agent silent for a minute is marked offline.
    heartbeat_interval: float = 10.0
    #: Seconds one poll (HTTP, at most 30) or fetch (NATS) waits when nothing is queued.
    poll_wait: float = 20.0
    #: First and longest back-off (seconds) while a server is unreachable.
    min_backoff: float = 0.2
    max_backoff: float = field(default_factory=poll_interval_cap)
    #: On shutdown, seconds running tasks get to finish before they are handed back with
    #: ``task_released``; buffered events get as long again to be delivered.
    shutdown_grace: float = 30.0
    #: Seconds a cancelled handler gets to return before it is cancelled.
    stop_grace: float = 2.0
    #: Seconds to wait for the server to confirm one event (also each HTTP request's timeout).
    publish_timeout: float = 5.0
    #: Most events buffered while the server is away; beyond, handlers wait when they report.
    event_buffer: int = 10_000
    #: Sees every message received and event delivered.
    observer: Observer = field(default_factory=Observer)

    def check(self) -> Namespace:
        """Says what cannot work, before anything connects; returns the namespace."""
        if self.concurrency < 1:
            raise OptionsError("concurrency must be at least 1")
        if self.event_buffer < 1:
            raise OptionsError("event_buffer must be at least 1")
        for name in ("heartbeat_interval", "poll_wait", "publish_timeout", "max_backoff"):
            if not getattr(self, name) > 0:
                raise OptionsError(f"{name} must be more than zero")
        if self.credentials is None and (self.registration is None or self.register_via is None):
            raise OptionsError("give credentials, or a registration and where to register (register_via)")
        if isinstance(self.transport, HttpTransport):
            check_http_url(self.transport.gateway, "the gateway URL")
        elif not nats_servers(self.transport.servers):
            raise OptionsError("the NATS server list is empty")
        if isinstance(self.register_via, RegisterViaGateway):
            check_http_url(self.register_via.url, "the registration gateway URL")
        return Namespace(self.namespace)


def check_http_url(url: str, what: str) -> str:
    """``url`` without a trailing slash, when it is an http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise OptionsError(f"{what} {url!r} must be http:// or https:// with a host")
    return url.rstrip("/")
