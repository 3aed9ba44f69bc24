"""The messages on the wire (see the repository's ``schemas/json``), as typed Python values.

- :class:`TaskAssignment` and :class:`TaskCancel` arrive on the agent's queue (NATS) or as the
  answer to a poll (HTTP), tagged by ``type``; :func:`parse_message` reads either.
- :class:`AgentEvent` is what the agent reports. Over NATS it is sent whole; over HTTP without
  ``execution_id`` (the URL names it). Its ``event_id`` is fixed when it is made, so a re-sent
  event is recognised and dropped by the server and the coordinator.

Events the SDK builds are kept within the coordinator's field rules (:func:`sanitise`): a
progress of 140 % or a 30 000-character log line would be refused, and an event the SDK sends on
a handler's behalf must never be lost that way.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, Union

from .errors import InvalidMessage
from .uuid7 import new_event_id

__all__ = [
    "LogLevel",
    "RetryPolicy",
    "WbsNode",
    "TaskAssignment",
    "TaskCancel",
    "AgentMessage",
    "TaskKey",
    "AgentEvent",
    "parse_message",
    "message_from_json",
    "new_event",
    "sanitise",
    "now_rfc3339",
    "TEXT_LIMIT",
    "LABEL_LIMIT",
]

#: Longest text field of an event (characters).
TEXT_LIMIT = 20_000
#: Longest ``status`` label (characters).
LABEL_LIMIT = 64
#: Longest ``retry_after_seconds`` the coordinator accepts (a week).
RETRY_AFTER_LIMIT = 7 * 24 * 3600.0

LogLevel = Literal["debug", "info", "warn", "error"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently the coordinator tries a failed task again."""

    max_attempts: int
    initial_backoff_seconds: float
    multiplier: float
    max_backoff_seconds: float


@dataclass(frozen=True)
class WbsNode:
    """The WBS number and title of a node around a task (its parent, its phase)."""

    wbs: str
    title: str


@dataclass(frozen=True)
class TaskKey:
    """The (execution, task, attempt) an event is about: the attempt is the fencing token."""

    execution_id: str
    task_id: str
    attempt: int


@dataclass(frozen=True)
class TaskAssignment:
    """One task handed to this agent for one attempt."""

    execution_id: str
    task_id: str
    attempt: int
    plan_id: str
    wbs: str
    title: str
    description: str
    capability: str
    params: Any
    resources_needed: tuple[str, ...]
    timeout_seconds: int
    retry_policy: RetryPolicy
    dispatched_at: str
    parent: WbsNode | None = None
    phase: WbsNode | None = None
    #: The message as it came, fields this version does not know included.
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> TaskKey:
        return TaskKey(self.execution_id, self.task_id, self.attempt)


@dataclass(frozen=True)
class TaskCancel:
    """The coordinator tells the agent to stop one attempt (and report nothing more about it)."""

    execution_id: str
    task_id: str
    attempt: int
    reason: str

    @property
    def key(self) -> TaskKey:
        return TaskKey(self.execution_id, self.task_id, self.attempt)


AgentMessage = Union[TaskAssignment, TaskCancel]


def _get(data: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise InvalidMessage(f"field {name!r} is missing or not {getattr(kind, '__name__', kind)}")
    return value


def _node(value: Any) -> WbsNode | None:
    if isinstance(value, dict) and isinstance(value.get("wbs"), str):
        return WbsNode(value["wbs"], str(value.get("title", "")))
    return None


def _retry_policy(value: Any) -> RetryPolicy:
    if not isinstance(value, dict):
        raise InvalidMessage("field 'retry_policy' is missing")
    try:
        return RetryPolicy(
            max_attempts=int(value["max_attempts"]),
            initial_backoff_seconds=float(value["initial_backoff_seconds"]),
            multiplier=float(value["multiplier"]),
            max_backoff_seconds=float(value["max_backoff_seconds"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidMessage(f"field 'retry_policy' is invalid: {e}") from None


def message_from_json(data: Any) -> AgentMessage:
    """A task or a cancel from its decoded JSON; :class:`InvalidMessage` when it is neither."""
    if not isinstance(data, dict):
        raise InvalidMessage("a message must be a JSON object")
    kind = data.get("type")
    if kind == "cancel":
        return TaskCancel(
            execution_id=_get(data, "execution_id", str),
            task_id=_get(data, "task_id", str),
            attempt=_get(data, "attempt", int),
            reason=str(data.get("reason", "")),
        )
    if kind != "task":
        raise InvalidMessage(f"unknown message type {kind!r} (expected 'task' or 'cancel')")
    resources = data.get("resources_needed") or []
    return TaskAssignment(
        execution_id=_get(data, "execution_id", str),
        task_id=_get(data, "task_id", str),
        attempt=_get(data, "attempt", int),
        plan_id=_get(data, "plan_id", str),
        wbs=_get(data, "wbs", str),
        title=_get(data, "title", str),
        description=str(data.get("description", "")),
        capability=_get(data, "capability", str),
        params=data.get("params"),
        resources_needed=tuple(str(r) for r in resources if isinstance(r, str)),
        timeout_seconds=int(data.get("timeout_seconds") or 0),
        retry_policy=_retry_policy(data.get("retry_policy")),
        dispatched_at=str(data.get("dispatched_at", "")),
        parent=_node(data.get("parent")),
        phase=_node(data.get("phase")),
        raw=data,
    )


def parse_message(payload: bytes) -> AgentMessage:
    """A task or a cancel from the bytes of a message or a poll's answer."""
    try:
        data = json.loads(payload)
    except ValueError as e:
        raise InvalidMessage(f"not JSON: {e}") from None
    return message_from_json(data)


def now_rfc3339() -> str:
    """The current UTC time as RFC 3339 with milliseconds (`2026-11-25T16:50:01.155Z`)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AgentEvent:
    """One event about one attempt. ``body`` holds ``event_type`` and that type's fields."""

    event_id: str
    key: TaskKey
    timestamp: str
    body: dict[str, Any]
    status: str | None = None

    @property
    def event_type(self) -> str:
        return str(self.body.get("event_type", ""))

    def to_nats(self) -> dict[str, Any]:
        """The whole event, as published on ``<ns>.events.<agent>.<execution>``."""
        return {"execution_id": self.key.execution_id, **self.to_http()}

    def to_http(self) -> dict[str, Any]:
        """The body of ``POST /api/executions/{execution_id}/events``."""
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "task_id": self.key.task_id,
            "attempt": self.key.attempt,
            "timestamp": self.timestamp,
            **self.body,
        }
        if self.status is not None:
            out["status"] = self.status
        return out


def _cut(text: str, limit: int = TEXT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    mark = " [cut]"
    return text[: limit - len(mark)] + mark


def _non_empty(text: str, fallback: str) -> str:
    return text if text.strip() else fallback


def sanitise(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` within the coordinator's limits: texts cut, progress and delays clamped."""
    out = dict(body)
    kind = out.get("event_type")
    if kind == "task_progress":
        p = out.get("progress")
        value = float(p) if isinstance(p, (int, float)) and not isinstance(p, bool) else 0.0
        out["progress"] = min(100.0, max(0.0, value)) if math.isfinite(value) else 0.0
        if out.get("message") is not None:
            out["message"] = _cut(str(out["message"]))
    elif kind == "task_failed":
        out["error"] = _non_empty(_cut(str(out.get("error", ""))), "the agent failed without saying why")
        after = out.get("retry_after_seconds")
        if isinstance(after, (int, float)) and math.isfinite(after):
            out["retry_after_seconds"] = min(RETRY_AFTER_LIMIT, max(0.0, float(after)))
        else:
            out.pop("retry_after_seconds", None)
    elif kind == "task_released":
        if out.get("reason") is not None:
            out["reason"] = _cut(str(out["reason"]))
    elif kind == "log":
        out["message"] = _non_empty(_cut(str(out.get("message", ""))), "(empty log line)")
    return out


def new_event(key: TaskKey, body: dict[str, Any], status: str | None = None) -> AgentEvent:
    """A new event about ``key``: a fresh UUIDv7, the current time, the body kept valid."""
    label = _cut(status, LABEL_LIMIT) if status else None
    return AgentEvent(new_event_id(), key, now_rfc3339(), sanitise(body), label)
