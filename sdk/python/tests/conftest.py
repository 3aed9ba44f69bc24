"""Fixtures: one real planexec for the session (``stack``), fresh stacks for tests that restart
theirs, and agents run in the background of a test."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from planexec_agent import (
    Agent,
    AgentEvent,
    AgentOptions,
    Credentials,
    HttpTransport,
    NatsTransport,
    Observer,
    PlanexecError,
    RunReport,
)
from planexec_agent.options import Transport

from .stack import Stack


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """The session's planexec (its own database and NATS namespace)."""
    s = Stack(tmp_path_factory.mktemp("stack"))
    await s.start()
    yield s
    await s.close()


@pytest_asyncio.fixture(loop_scope="session")
async def own_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """A planexec of the test's own, for tests that stop or restart it."""
    s = Stack(tmp_path)
    await s.start()
    yield s
    await s.close()


@dataclass
class Recorder(Observer):
    """Remembers what went by: messages received, events delivered, failures, losses."""

    received_messages: list[Any] = field(default_factory=list)
    delivered_events: list[AgentEvent] = field(default_factory=list)
    failed: list[tuple[AgentEvent, PlanexecError]] = field(default_factory=list)
    lost_events: list[tuple[AgentEvent, str]] = field(default_factory=list)
    failure_seen: asyncio.Event = field(default_factory=asyncio.Event)

    def received(self, message: Any) -> None:
        self.received_messages.append(message)

    def delivered(self, event: AgentEvent) -> None:
        self.delivered_events.append(event)

    def delivery_failed(self, event: AgentEvent, error: PlanexecError) -> None:
        self.failed.append((event, error))
        self.failure_seen.set()

    def lost(self, event: AgentEvent, reason: str) -> None:
        self.lost_events.append((event, reason))


def transport_for(stack: Stack, kind: str) -> Transport:
    return HttpTransport(stack.url) if kind == "http" else NatsTransport(stack.nats_url)


def fast_options(stack: Stack, kind: str, credentials: Credentials, **changes: Any) -> AgentOptions:
    """Options with timings fit for tests: short polls, quick back-offs, short graces."""
    options = AgentOptions(
        transport_for(stack, kind),
        credentials=credentials,
        namespace=stack.namespace,
        poll_wait=2.0,
        heartbeat_interval=1.0,
        min_backoff=0.05,
        max_backoff=0.5,
        shutdown_grace=5.0,
        stop_grace=1.0,
        publish_timeout=2.0,
    )
    for name, value in changes.items():
        setattr(options, name, value)
    return options


class Running:
    """An agent running in the background of a test."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.stop_signal = asyncio.Event()
        self.task: asyncio.Task[RunReport] = asyncio.ensure_future(agent.run(self.stop_signal))

    async def stop(self) -> RunReport:
        """Shuts the agent down gracefully and returns its report."""
        self.stop_signal.set()
        return await asyncio.wait_for(self.task, timeout=60)


@pytest_asyncio.fixture(loop_scope="session")
async def run_agent() -> AsyncIterator[Callable[[Agent], Running]]:
    """Starts agents in the background; those still running at the end are stopped."""
    started: list[Running] = []

    def start(agent: Agent) -> Running:
        running = Running(agent)
        started.append(running)
        return running

    yield start
    for running in started:
        if not running.task.done():
            running.stop_signal.set()
        try:
            await asyncio.wait_for(asyncio.shield(running.task), timeout=60)
        except BaseException as e:  # noqa: BLE001 - the test itself judged the run
            logging.getLogger("tests").debug("agent ended with %r", e)


@pytest.fixture(params=["http", "nats"])
def transport(request: pytest.FixtureRequest) -> str:
    """Runs a test over each transport."""
    return str(request.param)
