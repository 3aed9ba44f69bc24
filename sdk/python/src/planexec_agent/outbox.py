"""The outbox: events wait here, in order, until the server confirms them.

Handlers and the runner push events into a bounded queue (a full queue makes them wait: the
agent slows down rather than forget what it did). One delivery loop sends them in windows: a
window is sent at once and its confirmations awaited in order, so at most ``window``
confirmations are ever outstanding. An event whose delivery failed for a passing reason
(unreachable, a 5xx, no JetStream ack) goes back to the head of the queue and is sent again,
with the same ``event_id``, after a back-off; the server and the coordinator drop the copies.
An event refused for good (a 4xx) is logged, reported to the observer and dropped, so that it
cannot hold up the events behind it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, Union

from .aio import Stopped, race
from .backoff import Backoff, pause
from .errors import PlanexecError, ProtocolError
from .observer import Observer
from .wire import AgentEvent, AgentMessage

__all__ = ["Delivered", "Deliver", "Outbox", "Delivery", "DeliveryReport"]

log = logging.getLogger("planexec_agent.outbox")

#: What became of one event: confirmed (with, over HTTP, maybe the agent's next message), or an
#: error (its ``transient`` decides whether it is sent again).
Delivered = Union[AgentMessage, None, PlanexecError]


class Deliver(Protocol):
    """Something that delivers events to planexec, in order, one result per event."""

    async def deliver(self, events: Sequence[AgentEvent]) -> list[Delivered]: ...


class Outbox:
    """The sending side, shared by the runner and every task's context."""

    def __init__(self, capacity: int) -> None:
        self.queue: asyncio.Queue[AgentEvent] = asyncio.Queue(maxsize=max(1, capacity))
        self.closed = False

    async def push(self, event: AgentEvent) -> bool:
        """Queues ``event``, waiting while the queue is full. False when the agent has stopped
        delivering (the event is lost, and logged as such)."""
        if self.closed:
            log.warning("the agent has stopped delivering events; %s %s is lost", event.event_type, event.event_id)
            return False
        await self.queue.put(event)
        return True


@dataclass
class DeliveryReport:
    """What the delivery loop did."""

    delivered: int = 0
    lost: int = 0
    failed_attempts: int = 0


class Delivery:
    """The receiving side: sends the outbox's events until told to stop."""

    def __init__(
        self,
        deliver: Deliver,
        outbox: Outbox,
        window: int,
        backoff: Backoff,
        observer: Observer,
        on_next: Callable[[AgentMessage], None] | None = None,
    ) -> None:
        self._deliver = deliver
        self._outbox = outbox
        self._window = max(1, window)
        self._backoff = backoff
        self._observer = observer
        self._on_next = on_next
        self._pending: deque[AgentEvent] = deque()
        self.report = DeliveryReport()

    async def run(self, closing: asyncio.Event, abandon: asyncio.Event) -> DeliveryReport:
        """Delivers until ``closing`` is set and every queued event is confirmed, or until
        ``abandon`` is set (what is left then is lost)."""
        schedule = self._backoff.schedule()
        queue = self._outbox.queue
        while not abandon.is_set():
            if not self._pending:
                if closing.is_set():
                    # No new events are taken; those already queued are still delivered.
                    self._outbox.closed = True
                    if queue.empty():
                        break
                    self._pending.append(queue.get_nowait())
                else:
                    try:
                        self._pending.append(await race(queue.get(), closing, abandon))
                    except Stopped:
                        continue
            while len(self._pending) < self._window and not queue.empty():
                self._pending.append(queue.get_nowait())
            window = [self._pending.popleft() for _ in range(min(self._window, len(self._pending)))]
            try:
                results = await race(self._deliver.deliver(window), abandon)
            except Stopped:
                self._pending.extendleft(reversed(window))
                break
            retry = self._settle(window, results)
            if not retry:
                schedule = self._backoff.schedule()
                continue
            # Failed events go back to the head, in their order, ahead of newer ones.
            self._pending.extendleft(reversed(retry))
            if not await pause(schedule.next_delay(), abandon):
                break
        self._abandon_rest()
        return self.report

    def _settle(self, window: list[AgentEvent], results: list[Delivered]) -> list[AgentEvent]:
        retry: list[AgentEvent] = []
        for i, event in enumerate(window):
            result: Delivered = results[i] if i < len(results) else ProtocolError("no delivery result")
            if isinstance(result, PlanexecError):
                if result.transient:
                    self.report.failed_attempts += 1
                    log.debug("delivering %s %s failed (%s); will send again", event.event_type, event.event_id, result)
                    self._observer.delivery_failed(event, result)
                    retry.append(event)
                else:
                    self.report.lost += 1
                    log.error(
                        "the %s event %s about task %s was refused and is dropped: %s",
                        event.event_type, event.event_id, event.key.task_id, result,
                    )
                    self._observer.lost(event, str(result))
                continue
            self.report.delivered += 1
            self._observer.delivered(event)
            if result is not None and self._on_next is not None:
                self._on_next(result)
        return retry

    def _abandon_rest(self) -> None:
        self._outbox.closed = True
        while not self._outbox.queue.empty():
            self._pending.append(self._outbox.queue.get_nowait())
        for event in self._pending:
            self.report.lost += 1
            log.error("the agent stopped before the %s event %s could be delivered", event.event_type, event.event_id)
            self._observer.lost(event, "the agent stopped before it could be delivered")
        self._pending.clear()

