"""NATS names under a namespace (``planexec`` by default), as the coordinator makes them:
subjects start with the namespace, stream names with it upper-cased."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import OptionsError

__all__ = ["Namespace"]

_VALID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class Namespace:
    """The prefix of every subject and stream; it must match the coordinator's."""

    prefix: str = "planexec"

    def __post_init__(self) -> None:
        if not _VALID.match(self.prefix):
            raise OptionsError(f"NATS namespace {self.prefix!r} must be 1 to 32 letters, digits, '-' or '_'")

    @property
    def tasks_stream(self) -> str:
        """The work-queue stream of tasks and cancels (``PLANEXEC_TASKS``)."""
        return self.prefix.upper().replace("-", "_") + "_TASKS"

    def agent_consumer(self, agent_id: str) -> str:
        """The agent's durable pull consumer on the tasks stream, made when it registers."""
        return f"agent-{agent_id}"

    def tasks_subject(self, agent_id: str) -> str:
        return f"{self.prefix}.tasks.{agent_id}"

    def events_subject(self, agent_id: str, execution_id: str) -> str:
        """Where the agent publishes its events: the subject proves the sender."""
        return f"{self.prefix}.events.{agent_id}.{execution_id}"

    def heartbeats_subject(self, agent_id: str) -> str:
        return f"{self.prefix}.heartbeats.{agent_id}"

    def command_subject(self, verb: str) -> str:
        """Request/reply to the coordinators (``planexec.cmd.register_agent``)."""
        return f"{self.prefix}.cmd.{verb}"
