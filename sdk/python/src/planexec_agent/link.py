"""The transport an agent runs on, as one interface the runner holds: how events are delivered
(and how many at once), how it beats, how it takes work, and how it closes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from .intake import IntakeOptions, http_intake, nats_intake
from .outbox import Delivered
from .tasks import Tasks
from .transport.http import MAX_EVENT_BYTES, GatewayClient, HttpLink
from .transport.nats import NatsLink
from .wire import AgentEvent, AgentMessage, TaskAssignment

__all__ = ["Link", "HttpWiring", "NatsWiring"]


class Link:
    """What the runner needs of a transport."""

    #: Events sent before their confirmations are awaited.
    window: int
    #: The largest event the transport carries.
    max_event_bytes: int

    async def deliver(self, events: Sequence[AgentEvent]) -> list[Delivered]:
        raise NotImplementedError

    async def beat(self, tasks: Tasks) -> None:
        raise NotImplementedError

    async def intake(
        self, tasks: Tasks, next_messages: asyncio.Queue[AgentMessage], options: IntakeOptions, stop: asyncio.Event
    ) -> list[TaskAssignment]:
        """Takes work until ``stop``; returns the tasks taken but never started."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class HttpWiring(Link):
    """Through the gateway. HTTP sends one request at a time anyway, so a small window keeps a
    retry cheap; every poll counts as a sign of life, so heartbeats go only while tasks run
    (when polling may pause)."""

    window = 16
    max_event_bytes = MAX_EVENT_BYTES

    def __init__(self, client: GatewayClient, agent_id: str) -> None:
        self.client = client
        self.agent_id = agent_id
        self._events = HttpLink(client, agent_id)

    async def deliver(self, events: Sequence[AgentEvent]) -> list[Delivered]:
        return await self._events.deliver(events)

    async def beat(self, tasks: Tasks) -> None:
        if tasks.in_flight:
            await self.client.heartbeat(self.agent_id)

    async def intake(
        self, tasks: Tasks, next_messages: asyncio.Queue[AgentMessage], options: IntakeOptions, stop: asyncio.Event
    ) -> list[TaskAssignment]:
        return await http_intake(tasks, self.client, self.agent_id, next_messages, options, stop)

    async def close(self) -> None:
        await self.client.close()


class NatsWiring(Link):
    """Directly on NATS: JetStream confirms in bulk, so the window is wide; heartbeats always
    go (with ``in_flight``)."""

    window = 256

    def __init__(self, link: NatsLink) -> None:
        self.link = link
        self.max_event_bytes = link.max_event_bytes

    async def deliver(self, events: Sequence[AgentEvent]) -> list[Delivered]:
        return await self.link.deliver(events)

    async def beat(self, tasks: Tasks) -> None:
        await self.link.heartbeat(tasks.in_flight)

    async def intake(
        self, tasks: Tasks, next_messages: asyncio.Queue[AgentMessage], options: IntakeOptions, stop: asyncio.Event
    ) -> list[TaskAssignment]:
        await nats_intake(tasks, self.link, options, stop)
        # Tasks are acked only when taken, so none is ever held back unstarted.
        return []

    async def close(self) -> None:
        await self.link.client.close()
