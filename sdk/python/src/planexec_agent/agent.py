"""The agent runner: registers (when asked), takes tasks, runs the handlers, reports, beats,
and shuts down gracefully.

Shutdown, in order: stop taking tasks; hand back tasks taken but not started
(``task_released``); give running tasks the grace to finish, then hand the rest back; deliver
what is still buffered (given as long again); stop heartbeats; close the connections.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .aio import Stopped, race
from .backoff import Backoff, pause
from .errors import Interrupted, OptionsError, PlanexecError
from .handler import Handler
from .intake import IntakeOptions
from .link import HttpWiring, Link, NatsWiring
from .options import AgentOptions, Credentials, HttpTransport, Registration, nats_servers
from .outbox import Delivery, DeliveryReport, Outbox
from .register import RegisteredAgent, register
from .subjects import Namespace
from .tasks import Tasks
from .transport.http import GatewayClient
from .transport.nats import NatsLink, connect
from .wire import AgentMessage, TaskAssignment

__all__ = ["Agent", "RunReport"]

log = logging.getLogger("planexec_agent")


@dataclass(frozen=True)
class RunReport:
    """What a run did, returned when it ends."""

    agent_id: str
    #: The agent registered by this run, with its token (shown this once).
    registered: RegisteredAgent | None
    tasks_completed: int
    tasks_failed: int
    tasks_released: int
    tasks_cancelled: int
    events_delivered: int
    #: Events that never reached the server (refused, or still buffered at the end).
    events_lost: int
    #: Delivery tries that failed and were made again.
    delivery_failures: int


class Agent:
    """An agent: its options and one handler per capability.

    >>> agent = Agent(options)
    >>> @agent.handles("send_email")
    ... async def send_email(task, ctx): ...
    >>> report = await agent.run(stop)
    """

    def __init__(self, options: AgentOptions, handlers: Mapping[str, Handler] | None = None) -> None:
        self.options = options
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self._namespace = options.check()

    def handles(self, capability: str) -> Callable[[Handler], Handler]:
        """Decorator: the function does the tasks of ``capability``."""

        def add(handler: Handler) -> Handler:
            self.handlers[capability] = handler
            return handler

        return add

    async def run(self, stop: asyncio.Event | None = None) -> RunReport:
        """Runs until ``stop`` is set (then shuts down gracefully) or the agent's credentials are
        refused (then it shuts down gracefully and raises the error)."""
        if not self.handlers:
            raise OptionsError("an agent needs at least one handler (Agent.handles)")
        stop = stop or asyncio.Event()
        backoff = Backoff(self.options.min_backoff, self.options.max_backoff)
        credentials, registered = await self._identify(backoff, stop)
        return await _Run(self.options, self._namespace, self.handlers, credentials, registered, backoff).run(stop)

    async def run_until_signalled(self) -> RunReport:
        """Runs until SIGTERM or SIGINT, then shuts down gracefully (a second signal is ignored:
        the shutdown is bounded by its graces)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            return await self.run(stop)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    async def _identify(self, backoff: Backoff, stop: asyncio.Event) -> tuple[Credentials, RegisteredAgent | None]:
        """The given credentials, or new ones by registering (tried again while the server is
        unreachable, until ``stop``)."""
        if self.options.credentials is not None:
            return self.options.credentials, None
        assert self.options.registration is not None and self.options.register_via is not None
        wanted = self.options.registration
        registration = Registration(wanted.name, wanted.capabilities or tuple(self.handlers), wanted.role)
        schedule = backoff.schedule()
        while True:
            try:
                registered = await race(register(self.options.register_via, registration, self._namespace), stop)
                log.info("registered agent %s (%s)", registered.agent_id, registered.name)
                return registered.credentials, registered
            except Stopped:
                raise Interrupted("the agent was stopped before it could register") from None
            except PlanexecError as e:
                if not e.transient:
                    raise
                log.warning("registration failed (%s); trying again", e)
            if not await pause(schedule.next_delay(), stop):
                raise Interrupted("the agent was stopped before it could register")


class _Run:
    """One run of an agent, from connecting to the end of its shutdown."""

    def __init__(
        self,
        options: AgentOptions,
        namespace: Namespace,
        handlers: Mapping[str, Handler],
        credentials: Credentials,
        registered: RegisteredAgent | None,
        backoff: Backoff,
    ) -> None:
        self.o = options
        self.ns = namespace
        self.handlers = handlers
        self.credentials = credentials
        self.registered = registered
        self.backoff = backoff
        self.intake_options = IntakeOptions(options.poll_wait, backoff)

    async def run(self, stop: asyncio.Event) -> RunReport:
        agent_id = self.credentials.agent_id
        link = await self._link(stop)
        outbox = Outbox(self.o.event_buffer)
        next_messages: asyncio.Queue[AgentMessage] = asyncio.Queue()
        tasks = Tasks(
            self.handlers, agent_id, outbox, self.o.observer, self.o.concurrency, self.o.stop_grace, link.max_event_bytes
        )

        def on_next(message: AgentMessage) -> None:
            _on_next(tasks, next_messages, message)

        delivery = Delivery(link, outbox, link.window, self.backoff, self.o.observer, on_next)
        closing, abandon, beats_stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
        delivering = asyncio.ensure_future(delivery.run(closing, abandon))
        beating = asyncio.ensure_future(_heartbeats(link, tasks, self.o.heartbeat_interval, beats_stop))
        taking = asyncio.ensure_future(link.intake(tasks, next_messages, self.intake_options, stop))
        log.info("agent %s running (concurrency %d)", agent_id, self.o.concurrency)
        try:
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({stopping, taking}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            stop.set()
            failure = await self._shut_down(tasks, taking, next_messages, delivering, closing, abandon)
        finally:
            beats_stop.set()
            await asyncio.wait({beating})
            await _quiet_close(link)
        report = self._report(tasks, delivery.report)
        log.info("agent %s stopped: %s", agent_id, report)
        if failure is not None:
            raise failure
        return report

    async def _link(self, stop: asyncio.Event) -> Link:
        if isinstance(self.o.transport, HttpTransport):
            client = GatewayClient(self.o.transport.gateway, self.credentials.token, self.o.publish_timeout)
            return HttpWiring(client, self.credentials.agent_id)
        nc = await self._connect_nats(stop)
        return NatsWiring(NatsLink(nc, self.ns, self.credentials.agent_id, self.o.publish_timeout))

    async def _shut_down(
        self,
        tasks: Tasks,
        taking: asyncio.Future[Any],
        next_messages: asyncio.Queue[AgentMessage],
        delivering: asyncio.Future[DeliveryReport],
        closing: asyncio.Event,
        abandon: asyncio.Event,
    ) -> PlanexecError | None:
        """The graceful shutdown; returns the fatal error that caused it, if one did."""
        grace = self.o.shutdown_grace
        log.info("shutting down: taking no more tasks (%d running, grace %.1f s)", tasks.in_flight, grace)
        tasks.shutting_down.set()
        deadline = time.monotonic() + grace
        failure: PlanexecError | None = None
        backlog: list[Any] = []
        # An HTTP poll is never abandoned half-way: the gateway may already have taken its task
        # off the queue. It ends within its wait, and what it brings is released below.
        limit = grace
        if isinstance(self.o.transport, HttpTransport):
            limit = max(grace, min(self.o.poll_wait, 30) + self.o.publish_timeout + 1)
        done, _ = await asyncio.wait({taking}, timeout=limit)
        if not done:
            taking.cancel()
        elif taking.exception() is not None:
            error = taking.exception()
            if isinstance(error, PlanexecError):
                failure = error
            else:
                log.error("the intake loop failed: %r", error)
        else:
            backlog = list(taking.result())
        # From here on, a task that comes with an event's answer is handed back at once.
        tasks.intake_closed = True
        while not next_messages.empty():
            message = next_messages.get_nowait()
            if isinstance(message, TaskAssignment):
                backlog.append(message)
        for task in backlog:
            await tasks.release_unstarted(task)
        if tasks.in_flight and not await _within(tasks.wait_all(), deadline - time.monotonic()):
            log.warning("the grace is over; handing %d unfinished task(s) back", tasks.in_flight)
            tasks.release_all.set()
            await tasks.wait_all()
        closing.set()
        if not await _within(asyncio.shield(delivering), grace):
            abandon.set()
        await asyncio.wait({delivering})
        return failure

    async def _connect_nats(self, stop: asyncio.Event) -> Any:
        assert not isinstance(self.o.transport, HttpTransport)
        servers = nats_servers(self.o.transport.servers)
        schedule = self.backoff.schedule()
        while True:
            try:
                name = f"planexec-agent-{self.credentials.agent_id}"
                return await race(connect(servers, self.o.transport.credentials_file, name), stop)
            except Stopped:
                raise Interrupted("the agent was stopped before it could connect to NATS") from None
            except PlanexecError as e:
                if not e.transient:
                    raise
                log.warning("%s", e)
            if not await pause(schedule.next_delay(), stop):
                raise Interrupted("the agent was stopped before it could connect to NATS")

    def _report(self, tasks: Tasks, delivered: DeliveryReport) -> RunReport:
        c = tasks.counters
        return RunReport(
            agent_id=self.credentials.agent_id,
            registered=self.registered,
            tasks_completed=c.completed,
            tasks_failed=c.failed,
            tasks_released=c.released,
            tasks_cancelled=c.cancelled,
            events_delivered=delivered.delivered,
            events_lost=delivered.lost,
            delivery_failures=delivered.failed_attempts,
        )


def _on_next(tasks: Tasks, next_messages: asyncio.Queue[AgentMessage], message: AgentMessage) -> None:
    """Over HTTP an event's answer may carry the agent's next task, already taken off its queue:
    it goes to the intake, or, once the agent takes no more tasks, straight back."""
    if not tasks.intake_closed:
        next_messages.put_nowait(message)
    elif isinstance(message, TaskAssignment):
        tasks.release_now(message)


async def _within(work: Any, timeout: float) -> bool:
    """Whether ``work`` finished within ``timeout`` seconds (it is cancelled if not)."""
    try:
        await asyncio.wait_for(work, timeout=max(0.0, timeout))
        return True
    except asyncio.TimeoutError:
        return False


async def _quiet_close(link: Link) -> None:
    try:
        await link.close()
    except Exception as e:  # noqa: BLE001 - closing is best effort
        log.debug("closing a connection failed: %s", e)


async def _heartbeats(link: Link, tasks: Tasks, interval: float, stop: asyncio.Event) -> None:
    """A sign of life every ``interval`` for as long as the agent runs, shutdown included (tasks
    finishing within the grace must not look abandoned)."""
    while await pause(interval, stop):
        try:
            await link.beat(tasks)
        except PlanexecError as e:
            log.warning("heartbeat not sent: %s", e)
