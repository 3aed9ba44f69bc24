"""planexec-agent: write a planexec agent in Python.

Write one async handler per capability and run it with an :class:`Agent`::

    import asyncio
    from planexec_agent import Agent, AgentOptions, Credentials, HttpTransport, GiveUp

    agent = Agent(AgentOptions(HttpTransport("http://127.0.0.1:8080"),
                               credentials=Credentials(agent_id, token)))

    @agent.handles("send_email")
    async def send_email(task, ctx):
        await ctx.progress(50, "message written")
        if "to" not in task.params:
            raise GiveUp("params.to is missing")
        return {"sent_to": task.params["to"]}

    asyncio.run(agent.run_until_signalled())

The SDK does everything around the handlers: takes each task off the agent's queue, reports
``task_started``, then ``task_complete`` / ``task_failed`` / ``task_released`` from what the
handler returns or raises, delivers every event at least once under its own UUIDv7 (buffered in
order and re-sent with the same id while the server is away), beats, stops a handler the
coordinator cancels, and shuts down gracefully.

Modules:

- :mod:`~planexec_agent.agent`: :class:`Agent` and :class:`RunReport`: the runner, shutdown.
- :mod:`~planexec_agent.handler`: handlers and :class:`RetryLater`, :class:`GiveUp`, :class:`Release`.
- :mod:`~planexec_agent.context`: :class:`TaskContext`: progress, logs, cancellation.
- :mod:`~planexec_agent.options`: :class:`AgentOptions`, transports, registration settings.
- :mod:`~planexec_agent.register`: registering through the gateway or over NATS, tokens.
- :mod:`~planexec_agent.errors`: every error the SDK raises (:class:`PlanexecError`).
- :mod:`~planexec_agent.wire`: tasks, cancels and events as typed values.
- :mod:`~planexec_agent.uuid7`: UUIDv7 event ids (RFC 9562) on any Python >= 3.10.
- :mod:`~planexec_agent.observer`: :class:`Observer`, a window onto the traffic.
- ``intake``, ``tasks``, ``outbox``, ``transport.http``, ``transport.nats``, ``backoff``,
  ``subjects``, ``aio``: the machinery.
- :mod:`~planexec_agent.example`: the ``planexec-agent-example`` command.
"""

from .agent import Agent, RunReport
from .context import TaskContext
from .errors import (
    CommandRefused,
    FieldError,
    Forbidden,
    HttpError,
    Interrupted,
    InvalidMessage,
    InvalidRequest,
    NatsError,
    NatsRefused,
    NotFound,
    OptionsError,
    PlanexecError,
    Problem,
    ProtocolError,
    ServerError,
    TooLarge,
    Unauthorised,
    UnknownAgent,
    Unreachable,
)
from .handler import GiveUp, Handler, Release, RetryLater, TaskError
from .observer import Observer
from .options import (
    AgentOptions,
    Credentials,
    HttpTransport,
    NatsTransport,
    Registration,
    RegisterViaGateway,
    RegisterViaNats,
)
from .register import RegisteredAgent, new_token, register, token_hash
from .subjects import Namespace
from .transport.http import GatewayClient
from .uuid7 import new_event_id, uuid7
from .wire import AgentEvent, LogLevel, TaskAssignment, TaskCancel, TaskKey

__all__ = [
    "Agent",
    "AgentEvent",
    "AgentOptions",
    "CommandRefused",
    "Credentials",
    "FieldError",
    "Forbidden",
    "GatewayClient",
    "GiveUp",
    "Handler",
    "HttpError",
    "HttpTransport",
    "Interrupted",
    "InvalidMessage",
    "InvalidRequest",
    "LogLevel",
    "Namespace",
    "NatsError",
    "NatsRefused",
    "NatsTransport",
    "NotFound",
    "Observer",
    "OptionsError",
    "PlanexecError",
    "Problem",
    "ProtocolError",
    "RegisterViaGateway",
    "RegisterViaNats",
    "RegisteredAgent",
    "Registration",
    "Release",
    "RetryLater",
    "RunReport",
    "ServerError",
    "TaskAssignment",
    "TaskCancel",
    "TaskContext",
    "TaskError",
    "TaskKey",
    "TooLarge",
    "Unauthorised",
    "UnknownAgent",
    "Unreachable",
    "new_event_id",
    "new_token",
    "register",
    "token_hash",
    "uuid7",
]

__version__ = "0.1.0"
