"""What an agent author writes: one async function per capability, and how it says "not done".

A handler takes the task and a :class:`~planexec_agent.TaskContext` and returns the task's
output (any JSON value). The SDK turns what happens into the last event of the attempt:

- it returns: ``task_complete`` with the output;
- it raises :class:`RetryLater`: ``task_failed`` with ``retryable: true`` (the coordinator tries
  again as a new attempt, after ``retry_after`` seconds if given and longer than its back-off);
- it raises :class:`GiveUp`: ``task_failed`` with ``retryable: false`` (no new attempt, the
  execution is BLOCKED until an operator acts);
- it raises :class:`Release`: ``task_released`` (handed back unfinished, e.g. while shutting
  down; dispatched again without counting as a failure);
- it raises anything else: a retryable ``task_failed`` naming the exception, so a bug or a
  passing network error in a handler never stops the agent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import TaskContext
    from .wire import TaskAssignment

__all__ = ["Handler", "TaskError", "RetryLater", "GiveUp", "Release", "failure_body"]

#: ``async def handle(task, ctx) -> output``: does one task of one capability.
Handler = Callable[["TaskAssignment", "TaskContext"], Awaitable[Any]]


class TaskError(Exception):
    """Base of the errors a handler raises to say how its task ended without completing."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        """The event that reports this ending."""
        raise NotImplementedError


class RetryLater(TaskError):
    """A passing failure (a busy line, a 503, a rate limit): try again as a new attempt.

    ``retry_after`` (seconds) asks the coordinator not to retry sooner.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"event_type": "task_failed", "error": self.message, "retryable": True}
        if self.retry_after is not None:
            body["retry_after_seconds"] = float(self.retry_after)
        return body


class GiveUp(TaskError):
    """Retrying cannot help (an invalid address, a permanent refusal): the execution blocks."""

    def body(self) -> dict[str, Any]:
        return {"event_type": "task_failed", "error": self.message, "retryable": False}


class Release(TaskError):
    """Hand the task back unfinished; another attempt is dispatched without counting a failure."""

    def body(self) -> dict[str, Any]:
        return {"event_type": "task_released", "reason": self.message or None}


def failure_body(error: BaseException) -> dict[str, Any]:
    """The event for a handler that raised ``error``."""
    if isinstance(error, TaskError):
        return error.body()
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return RetryLater(f"the handler raised {text}").body()
