"""Taking work: the loops that bring tasks and cancels to the agent, one per transport.

Both stop taking tasks as soon as ``stop`` is set. A fatal answer (bad token, unknown agent)
sets ``stop`` itself and is raised, so the runner shuts down gracefully and says why.

- NATS: asks for as many messages as there are free slots (at least one, so that cancels still
  arrive while every slot is busy). A task that finds no free slot is NAKed with a short delay;
  it is acked only when taken.
- HTTP: the gateway takes a message off the queue when it answers a poll, and the answer to an
  event may carry the next task too, so tasks cannot be handed back: they wait in a small
  backlog (at most ``concurrency``). While every slot is busy the agent holds no long poll (its
  answer could wait for a slot); it polls without waiting every few seconds, for cancels, and
  stops even that while the backlog is full.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass

from nats.aio.msg import Msg

from .aio import Stopped, race
from .backoff import Backoff, pause
from .errors import InvalidMessage, PlanexecError
from .tasks import Tasks
from .transport.http import GatewayClient
from .transport.nats import NatsLink
from .wire import AgentMessage, TaskAssignment, TaskCancel, parse_message

__all__ = ["IntakeOptions", "nats_intake", "http_intake"]

log = logging.getLogger("planexec_agent.intake")

#: While every slot is busy, how often an HTTP agent looks for cancels (seconds).
BUSY_CHECK = 5.0


@dataclass(frozen=True)
class IntakeOptions:
    poll_wait: float
    backoff: Backoff


async def nats_intake(tasks: Tasks, link: NatsLink, options: IntakeOptions, stop: asyncio.Event) -> None:
    """Takes tasks from the agent's JetStream consumer until ``stop``."""
    schedule = options.backoff.schedule()
    sub = None
    while not stop.is_set():
        try:
            if sub is None:
                sub = await race(link.subscription(), stop)
            messages = await race(link.fetch(sub, tasks.slots.free, options.poll_wait), stop)
        except Stopped:
            # Messages of an unanswered request come back after the consumer's ack wait.
            break
        except PlanexecError as e:
            if e.fatal:
                stop.set()
                raise
            log.warning("cannot take tasks (%s); trying again", e)
            sub = None  # look the consumer up again: if it was deleted, that says so
            if not await pause(schedule.next_delay(), stop):
                break
            continue
        schedule = options.backoff.schedule()
        for msg in messages:
            if stop.is_set():
                # Not ours after all: back on the queue at once rather than after the ack wait.
                await _quietly(msg.nak())
                continue
            await _take_nats(tasks, msg, options.poll_wait)


async def _take_nats(tasks: Tasks, msg: Msg, max_delay: float) -> None:
    """Acts on one message from the queue."""
    try:
        message = parse_message(msg.data)
    except InvalidMessage as e:
        log.error("discarding a message that is not a task or a cancel (%s): %s", msg.subject, e)
        await _quietly(msg.term())
        return
    tasks.observer.received(message)
    if isinstance(message, TaskCancel):
        await _quietly(msg.ack())
        tasks.cancel(message)
        return
    if tasks.was_cancelled(message.key):
        await _quietly(msg.ack())
        log.info("skipping task %s attempt %d: it was cancelled", message.task_id, message.attempt)
        return
    if not tasks.slots.try_take():
        # Back soon, a little later each time it is returned: a busy agent looks again shortly.
        await _quietly(msg.nak(delay=min(1.0, 0.1 * _deliveries(msg), max_delay)))
        return
    try:
        await msg.ack_sync(timeout=5)
    except Exception as e:  # noqa: BLE001 - any failure means the task was not taken
        tasks.slots.give_back()
        log.warning("could not take task %s (%s); it comes back after the ack wait", message.task_id, e)
        return
    tasks.start(message)


def _deliveries(msg: Msg) -> int:
    try:
        return max(1, msg.metadata.num_delivered or 1)
    except Exception:  # noqa: BLE001 - not a JetStream message: count it as the first delivery
        return 1


async def _quietly(action: Awaitable[object]) -> None:
    try:
        await action
    except Exception as e:  # noqa: BLE001 - an unacknowledged message is simply delivered again
        log.debug("acknowledging a message failed: %s", e)


async def http_intake(
    tasks: Tasks,
    client: GatewayClient,
    agent_id: str,
    next_messages: asyncio.Queue[AgentMessage],
    options: IntakeOptions,
    stop: asyncio.Event,
) -> list[TaskAssignment]:
    """Polls the gateway until ``stop``; returns the tasks taken but never started."""
    backlog: deque[TaskAssignment] = deque()
    schedule = options.backoff.schedule()
    while True:
        while not next_messages.empty():
            _accept(tasks, backlog, next_messages.get_nowait())
        while backlog and tasks.slots.try_take():
            tasks.start(backlog.popleft())
        if stop.is_set():
            return list(backlog)
        wait = options.poll_wait
        if tasks.slots.free == 0 or backlog:
            # Busy: a long poll could hold a task that a freed slot waits for. Wait for a slot
            # (or a task that came with an event's answer), and now and then look for cancels.
            freed = asyncio.ensure_future(tasks.slots.wait_free())
            came = asyncio.ensure_future(next_messages.get())
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait(
                {freed, came, stopping}, timeout=min(options.poll_wait, BUSY_CHECK), return_when=asyncio.FIRST_COMPLETED
            )
            for future in (freed, came, stopping):
                if not future.done():
                    future.cancel()
            if came.done() and not came.cancelled():
                _accept(tasks, backlog, came.result())
            if done:
                continue
            if len(backlog) >= tasks.slots.size:
                continue
            wait = 0
        # Never abandoned half-way: its answer may be a task already taken off the queue.
        try:
            message = await client.poll(agent_id, wait)
        except InvalidMessage as e:
            log.error("the gateway sent something that is not a task or a cancel: %s", e)
            continue
        except PlanexecError as e:
            if e.fatal:
                stop.set()
                raise
            log.warning("polling for work failed (%s); trying again", e)
            if not await pause(schedule.next_delay(), stop):
                return list(backlog)
            continue
        schedule = options.backoff.schedule()
        if message is not None:
            _accept(tasks, backlog, message)


def _accept(tasks: Tasks, backlog: deque[TaskAssignment], message: AgentMessage) -> None:
    tasks.observer.received(message)
    if isinstance(message, TaskCancel):
        for task in [t for t in backlog if t.key == message.key]:
            backlog.remove(task)
        tasks.cancel(message)
    elif tasks.was_cancelled(message.key):
        log.info("skipping task %s attempt %d: it was cancelled", message.task_id, message.attempt)
    else:
        backlog.append(message)

