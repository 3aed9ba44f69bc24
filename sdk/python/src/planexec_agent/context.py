"""What a handler can do besides returning: report progress and log lines, and notice that it
should stop (its attempt was cancelled, or the agent is shutting down)."""

from __future__ import annotations

import asyncio
from typing import Any

from .outbox import Outbox
from .wire import LogLevel, TaskKey, new_event

__all__ = ["TaskContext"]


class TaskContext:
    """Handed to a handler with each task.

    ``cancelled`` is set when the coordinator cancels this attempt, or when the shutdown grace
    has run out; the handler should return soon (it is cancelled after ``stop_grace``).
    ``shutting_down`` is set when graceful shutdown begins: a long handler may raise
    :class:`~planexec_agent.Release` at once rather than wait for the grace to run out.
    """

    def __init__(
        self,
        agent_id: str,
        key: TaskKey,
        outbox: Outbox,
        cancelled: asyncio.Event,
        shutting_down: asyncio.Event,
    ) -> None:
        self.agent_id = agent_id
        self.key = key
        self.cancelled = cancelled
        self.shutting_down = shutting_down
        self._outbox = outbox

    @property
    def execution_id(self) -> str:
        return self.key.execution_id

    @property
    def task_id(self) -> str:
        return self.key.task_id

    @property
    def attempt(self) -> int:
        return self.key.attempt

    async def progress(self, percent: float, message: str = "", status: str | None = None) -> None:
        """Reports ``percent`` of this task done (clamped to 0..100) and what is going on.

        ``status`` is a short label of what the agent is doing ("dialling", at most 64
        characters). Waits only while the agent's event buffer is full.
        """
        body: dict[str, Any] = {"event_type": "task_progress", "progress": percent}
        if message:
            body["message"] = message
        await self._outbox.push(new_event(self.key, body, status))

    async def log(self, level: LogLevel, message: str) -> None:
        """Adds a line to the task's history (``debug``, ``info``, ``warn`` or ``error``)."""
        await self._outbox.push(new_event(self.key, {"event_type": "log", "level": level, "message": message}))

    async def wait_cancelled(self) -> None:
        """Returns when this attempt is cancelled (use it in ``asyncio.wait`` beside the work)."""
        await self.cancelled.wait()
