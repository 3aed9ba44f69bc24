"""A window onto an agent's traffic, for event logs, metrics and tests: every message received,
every event confirmed, every failed try, every event given up on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .errors import PlanexecError
    from .wire import AgentEvent, AgentMessage

__all__ = ["Observer"]


class Observer:
    """Override what you need; every method is called on the agent's event loop and must not block."""

    def received(self, message: AgentMessage) -> None:
        """A task or a cancel reached the agent."""

    def delivered(self, event: AgentEvent) -> None:
        """The server confirmed ``event`` (in the order it received them)."""

    def delivery_failed(self, event: AgentEvent, error: PlanexecError) -> None:
        """Sending ``event`` failed for a passing reason; it is sent again, under the same id."""

    def lost(self, event: AgentEvent, reason: str) -> None:
        """``event`` was refused for good, or the agent stopped before it could be delivered."""
