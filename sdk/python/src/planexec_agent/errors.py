"""What can go wrong between an agent and planexec, as exceptions an agent author can catch.

Every error of the SDK is a :class:`PlanexecError`. Two properties say what to do about it:

- ``transient``: trying again later may succeed (the server is away, overloaded, or timed out).
  The SDK itself retries these with back-off, and re-sends events under the same ``event_id``.
- ``fatal``: the agent cannot go on (its token is refused, it is not registered, it asks for
  another agent's work). :meth:`planexec_agent.Agent.run` shuts down gracefully and raises it.

Everything else is a refusal that will not change (an invalid event, an unknown execution): the
SDK drops the event with a log line rather than send it again unchanged.

HTTP answers that are not a success are RFC 9457 problem documents; :class:`HttpError` and its
subclasses carry the parsed :class:`Problem`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PlanexecError",
    "OptionsError",
    "Unreachable",
    "NatsError",
    "NatsRefused",
    "Problem",
    "FieldError",
    "HttpError",
    "Unauthorised",
    "Forbidden",
    "NotFound",
    "UnknownAgent",
    "InvalidRequest",
    "ServerError",
    "CommandRefused",
    "TooLarge",
    "ProtocolError",
    "InvalidMessage",
    "Interrupted",
    "error_for_status",
]


class PlanexecError(Exception):
    """Base of every error the SDK raises."""

    #: Trying again later may succeed.
    transient: bool = False
    #: The agent cannot go on with these credentials or this identity.
    fatal: bool = False


class OptionsError(PlanexecError):
    """The options cannot work as given (a bad URL, a concurrency of zero, ...)."""


class Unreachable(PlanexecError):
    """The server cannot be reached: connection refused, timed out, DNS, TLS."""

    transient = True

    def __init__(self, what: str, message: str) -> None:
        super().__init__(f"cannot reach {what}: {message}; the agent keeps trying with back-off")
        self.what = what


class NatsRefused(PlanexecError):
    """NATS refused the connection's credentials (none, a wrong or expired ``.creds`` file)."""

    fatal = True


class NatsError(PlanexecError):
    """A NATS or JetStream operation failed for a passing reason (no ack, a disconnect)."""

    transient = True


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with one field of a request (`capabilities[0]`, `progress`)."""

    field: str
    message: str


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 problem document, as the gateway answers every error."""

    type: str
    title: str
    status: int
    detail: str
    errors: tuple[FieldError, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, status: int, body: bytes) -> Problem:
        """The problem in `body`, or one made up from the status when the body is not one."""
        import json

        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            text = body.decode("utf-8", "replace")[:500]
            return cls("about:blank", f"HTTP {status}", status, text)
        errors = tuple(
            FieldError(str(e.get("field", "")), str(e.get("message", "")))
            for e in data.get("errors") or []
            if isinstance(e, dict)
        )
        return cls(
            type=str(data.get("type", "about:blank")),
            title=str(data.get("title", f"HTTP {status}")),
            status=int(data.get("status", status)),
            detail=str(data.get("detail", "")),
            errors=errors,
            raw=data,
        )


class HttpError(PlanexecError):
    """The gateway answered with an error; ``status`` and ``problem`` say which."""

    def __init__(self, status: int, problem: Problem, what: str = "the gateway") -> None:
        super().__init__(f"{what} answered {status} ({problem.title}): {problem.detail}")
        self.status = status
        self.problem = problem


class Unauthorised(HttpError):
    """401: the token is missing or wrong. Check the agent id and token (or the operator token)."""

    fatal = True


class Forbidden(HttpError):
    """403: a valid token, but not for this: another agent's work, or a task no longer yours."""

    fatal = True


class NotFound(HttpError):
    """404: an unknown execution or task (an event about it is dropped)."""


class UnknownAgent(PlanexecError):
    """The agent is not registered (in this namespace): register it and use the id it gets."""

    fatal = True

    def __init__(self, agent_id: str, detail: str) -> None:
        super().__init__(
            f"agent {agent_id} is not registered ({detail}); register it first (POST /api/agents "
            "or the register_agent command) and use the id it returns"
        )
        self.agent_id = agent_id


class InvalidRequest(HttpError):
    """400, 413, 415 or 422: the request is malformed, too large or invalid; never re-send it.

    ``problem.errors`` lists what is wrong per field.
    """

    @property
    def errors(self) -> tuple[FieldError, ...]:
        return self.problem.errors


class ServerError(HttpError):
    """5xx (or 408, 429): the server is away or overloaded; try again with back-off."""

    transient = True


class CommandRefused(PlanexecError):
    """The coordinator refused a command sent over NATS (registration): ``kind`` says why."""

    def __init__(self, kind: str, message: str, errors: tuple[FieldError, ...] = ()) -> None:
        super().__init__(f"the coordinator refused the command ({kind}): {message}")
        self.kind = kind
        self.errors = errors
        self.transient = kind == "internal"


class TooLarge(PlanexecError):
    """An event larger than the transport carries (a huge task output); sending it again won't help."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the event is {size} bytes, more than the transport's limit of {limit}")
        self.size = size
        self.limit = limit


class ProtocolError(PlanexecError):
    """An answer that does not match the protocol (an unexpected status, a body that does not parse)."""


class InvalidMessage(PlanexecError):
    """A message on the agent's queue that is not a task or a cancel; it is discarded."""


class Interrupted(PlanexecError):
    """The agent was told to stop before it could do what was asked (register, connect)."""


def error_for_status(status: int, body: bytes, agent_id: str | None = None) -> HttpError | PlanexecError:
    """The error an unsuccessful HTTP answer means.

    ``agent_id`` is given for the agent's own endpoints (work, heartbeat), where a 404 means that
    the agent itself is unknown.
    """
    problem = Problem.parse(status, body)
    if status == 401:
        return Unauthorised(status, problem)
    if status == 403:
        return Forbidden(status, problem)
    if status == 404:
        if agent_id is not None:
            return UnknownAgent(agent_id, problem.detail)
        return NotFound(status, problem)
    if status >= 500 or status in (408, 429):
        return ServerError(status, problem)
    if status in (400, 413, 415, 422):
        return InvalidRequest(status, problem)
    return HttpError(status, problem)
