"""The tasks an agent is running: starting one, cancelling one, and the life of each.

Each task runs its handler in an asyncio task of its own (an exception fails the attempt, not
the agent) and reports exactly one final event: ``task_complete``, ``task_failed`` or
``task_released``, or nothing at all when the coordinator cancelled it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .context import TaskContext
from .handler import GiveUp, Handler, Release, failure_body
from .observer import Observer
from .outbox import Outbox
from .wire import TaskAssignment, TaskCancel, TaskKey, new_event

__all__ = ["Slots", "Counters", "Tasks"]

log = logging.getLogger("planexec_agent.tasks")

_UNSTARTED = {"event_type": "task_released", "reason": "the agent shut down before starting the task"}

#: Room left in a message for its envelope (headers, subject, ids) beyond the output's JSON.
ENVELOPE_BYTES = 4096


class Slots:
    """``concurrency`` places for running tasks. Only the intake loop waits for one."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.free = size
        self._freed = asyncio.Event()

    def try_take(self) -> bool:
        if self.free == 0:
            return False
        self.free -= 1
        return True

    async def wait_free(self) -> None:
        """Returns once a slot is free (without taking it)."""
        while self.free == 0:
            self._freed.clear()
            await self._freed.wait()

    def give_back(self) -> None:
        self.free += 1
        self._freed.set()


@dataclass
class Counters:
    """How many tasks ended which way."""

    completed: int = 0
    failed: int = 0
    released: int = 0
    cancelled: int = 0


class Tasks:
    """What every task of one agent shares."""

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        agent_id: str,
        outbox: Outbox,
        observer: Observer,
        concurrency: int,
        stop_grace: float,
        max_event_bytes: int,
    ) -> None:
        self.handlers = dict(handlers)
        self.agent_id = agent_id
        self.outbox = outbox
        self.observer = observer
        self.slots = Slots(concurrency)
        self.stop_grace = stop_grace
        self.max_event_bytes = max_event_bytes
        self.counters = Counters()
        #: Set when graceful shutdown begins.
        self.shutting_down = asyncio.Event()
        #: Set when the shutdown grace is over: unfinished tasks are handed back.
        self.release_all = asyncio.Event()
        self._running: dict[TaskKey, asyncio.Event] = {}
        self._workers: set[asyncio.Task[None]] = set()
        #: Set when the agent takes no more tasks (shutdown): tasks that still come are handed back.
        self.intake_closed = False
        #: Tasks handed back by this run, so that one handed to the agent again is not bounced for ever.
        self.released_tasks: set[str] = set()
        # Attempts cancelled lately, so that an assignment arriving after its cancel is skipped.
        self._cancelled: OrderedDict[TaskKey, None] = OrderedDict()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def was_cancelled(self, key: TaskKey) -> bool:
        return key in self._cancelled

    def cancel(self, cancel: TaskCancel) -> None:
        """Stops the handler of a cancelled attempt (if it runs here) and remembers the cancel."""
        self._cancelled[cancel.key] = None
        while len(self._cancelled) > 10_000:
            self._cancelled.popitem(last=False)
        stop = self._running.get(cancel.key)
        if stop is None:
            log.debug("cancel for task %s attempt %d, which is not running here", cancel.task_id, cancel.attempt)
            return
        log.info("the coordinator cancelled task %s attempt %d: %s", cancel.task_id, cancel.attempt, cancel.reason)
        stop.set()

    def start(self, task: TaskAssignment) -> None:
        """Starts ``task`` in a slot already taken, unless it was cancelled or runs already."""
        key = task.key
        if self.was_cancelled(key) or key in self._running:
            log.info("skipping task %s attempt %d: cancelled or running already", task.task_id, task.attempt)
            self.slots.give_back()
            return
        stop = asyncio.Event()
        self._running[key] = stop
        worker = asyncio.ensure_future(self._run(task, stop))
        self._workers.add(worker)
        worker.add_done_callback(lambda w: self._ended(w, key))

    def _ended(self, worker: asyncio.Task[None], key: TaskKey) -> None:
        self._workers.discard(worker)
        self._running.pop(key, None)
        self.slots.give_back()
        if not worker.cancelled() and worker.exception() is not None:
            log.error("a task worker failed: %r", worker.exception())

    async def wait_all(self) -> None:
        """Returns when no task is running."""
        while self._workers:
            await asyncio.wait(set(self._workers))

    async def release_unstarted(self, task: TaskAssignment) -> None:
        """Hands back a task that was taken but never started (shutdown)."""
        self.counters.released += 1
        self.released_tasks.add(task.task_id)
        await self.outbox.push(new_event(task.key, _UNSTARTED))

    def release_now(self, task: TaskAssignment) -> None:
        """Hands back, without waiting, a task that came after the agent stopped taking tasks
        (over HTTP, with the answer to an event)."""
        if task.task_id in self.released_tasks:
            # Releasing it frees the agent, and the gateway hands the next attempt straight back:
            # bounce it once, not for ever. It returns when its queue time runs out.
            log.warning(
                "the gateway handed task %s (attempt %d) back to an agent that is shutting down; "
                "it is dispatched again when its queue timeout passes", task.task_id, task.attempt,
            )
            return
        self.counters.released += 1
        self.released_tasks.add(task.task_id)
        try:
            self.outbox.queue.put_nowait(new_event(task.key, _UNSTARTED))
        except asyncio.QueueFull:
            log.error("the event buffer is full: task %s (attempt %d) cannot be handed back", task.task_id, task.attempt)

    async def _run(self, task: TaskAssignment, stop: asyncio.Event) -> None:
        key = task.key
        handler = self.handlers.get(task.capability)
        if handler is None:
            served = ", ".join(sorted(self.handlers))
            refusal = GiveUp(f"this agent does not serve the capability {task.capability!r} (it serves: {served})")
            await self._finish(key, error=refusal)
            return
        await self.outbox.push(new_event(key, {"event_type": "task_started"}))
        ctx = TaskContext(self.agent_id, key, self.outbox, stop, self.shutting_down)
        work = asyncio.ensure_future(handler(task, ctx))
        stopper = asyncio.ensure_future(stop.wait())
        releaser = asyncio.ensure_future(self.release_all.wait())
        try:
            await asyncio.wait({work, stopper, releaser}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            releaser.cancel()
        if stop.is_set():
            # Cancelled by the coordinator (even if the handler returned meanwhile): report
            # nothing more about this attempt.
            await self._stop(work)
            self.counters.cancelled += 1
        elif work.done():
            error = work.exception() if not work.cancelled() else Release("the handler was cancelled")
            await self._finish(key, output=None if error else work.result(), error=error)
        else:
            stop.set()
            await self._stop(work)
            await self._finish(key, error=Release("the agent shut down before the task finished"))

    async def _stop(self, work: asyncio.Future[Any]) -> None:
        """Gives a stopped handler ``stop_grace`` to return (its answer is ignored), then cancels it."""
        done, _ = await asyncio.wait({work}, timeout=self.stop_grace)
        if not done:
            work.cancel()
            await asyncio.wait({work})
        if not work.cancelled():
            work.exception()  # retrieved, so asyncio does not warn about it

    async def _finish(self, key: TaskKey, output: Any = None, error: BaseException | None = None) -> None:
        """Reports the final event of an attempt."""
        if error is None:
            body = self._complete(output)
        else:
            body = failure_body(error)
            if body["event_type"] == "task_released":
                self.counters.released += 1
                self.released_tasks.add(key.task_id)
            else:
                self.counters.failed += 1
                log.info("task %s attempt %d failed: %s", key.task_id, key.attempt, body["error"])
        await self.outbox.push(new_event(key, body))

    def _complete(self, output: Any) -> dict[str, Any]:
        """``task_complete``, or a give-up when the output cannot be carried."""
        try:
            size = len(json.dumps(output, allow_nan=False).encode())
        except (TypeError, ValueError) as e:
            self.counters.failed += 1
            return GiveUp(f"the task's output is not JSON ({e}); return dicts, lists, strings, numbers").body()
        limit = self.max_event_bytes - ENVELOPE_BYTES
        if size > limit:
            self.counters.failed += 1
            return GiveUp(
                f"the task's output is {size} bytes, more than the {limit} bytes an event may carry; "
                "store large results elsewhere and return a reference"
            ).body()
        self.counters.completed += 1
        return {"event_type": "task_complete", "output": output}
