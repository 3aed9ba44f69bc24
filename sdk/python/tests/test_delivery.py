"""Delivery when the server goes away: events buffered in order and re-sent under the same
event ids until confirmed, after a gateway restart (HTTP) and a broken NATS connection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from planexec_agent import Agent, HttpTransport, NatsTransport, ServerError, TaskAssignment, TaskContext

from .conftest import Recorder, Running, fast_options
from .proxy import Proxy
from .stack import Stack
from .test_flow import agent_events


def pausing_handler(working: asyncio.Event, go: asyncio.Event) -> Callable[[TaskAssignment, TaskContext], Any]:
    async def write(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
        await ctx.progress(20, "drafting")
        working.set()
        await go.wait()
        await ctx.progress(80, "written while the server was away")
        await ctx.log("info", "still here")
        return {"message_id": "m-1"}

    return write


def assert_delivered_once_under_their_ids(history: list[dict[str, Any]], recorder: Recorder) -> None:
    recorded = [e["id"] for e in agent_events(history)]
    assert len(recorded) == len(set(recorded)), "an event was recorded twice"
    failed_ids = {event.event_id for event, _ in recorder.failed}
    assert failed_ids, "no delivery failed: the outage was not seen"
    assert failed_ids <= set(recorded), "an event that failed was re-sent under another id"
    assert sorted(recorded) == sorted(e.event_id for e in recorder.delivered_events)


async def test_events_buffered_while_the_gateway_restarts_are_resent_with_the_same_ids(
    own_stack: Stack, run_agent: Callable[[Agent], Running]
) -> None:
    stack = own_stack
    registered = await stack.register("patient", ("send_email",))
    execution = await stack.execute(await stack.import_tasks(["send_email"]), registered.agent_id)
    working, go = asyncio.Event(), asyncio.Event()
    recorder = Recorder()
    options = fast_options(stack, "http", registered.credentials, observer=recorder)
    running = run_agent(Agent(options, {"send_email": pausing_handler(working, go)}))
    await asyncio.wait_for(working.wait(), 30)
    await stack.until_agent_events(execution, 2)

    await stack.stop()
    go.set()
    await asyncio.wait_for(recorder.failure_seen.wait(), 30)
    assert recorder.failed[0][0].event_type == "task_progress"
    await stack.start()

    await stack.until_status(execution, "COMPLETED")
    report = await running.stop()
    assert report.events_lost == 0 and report.delivery_failures >= 1
    history = await stack.history(execution)
    assert_delivered_once_under_their_ids(history, recorder)
    kinds = [e["event_type"] for e in agent_events(history)]
    assert kinds == ["task_started", "task_progress", "task_progress", "log", "task_complete"], kinds


async def test_events_the_gateway_answers_with_a_5xx_are_resent_with_the_same_ids(
    own_stack: Stack, run_agent: Callable[[Agent], Running]
) -> None:
    stack = own_stack
    # The agent talks to a gateway of its own, which stays up while every coordinator is away.
    gateway = await stack.start_gateway()
    registered = await stack.register("persistent", ("send_email",))
    execution = await stack.execute(await stack.import_tasks(["send_email"]), registered.agent_id)
    working, go = asyncio.Event(), asyncio.Event()
    recorder = Recorder()
    # Long enough for the gateway's own answer: without a coordinator it is a 5xx, not silence.
    options = fast_options(stack, "http", registered.credentials, observer=recorder, publish_timeout=40.0)
    options.transport = HttpTransport(gateway)
    running = run_agent(Agent(options, {"send_email": pausing_handler(working, go)}))
    await asyncio.wait_for(working.wait(), 30)
    await stack.until_agent_events(execution, 2)

    await stack.stop()
    go.set()
    await asyncio.wait_for(recorder.failure_seen.wait(), 30)
    event, error = recorder.failed[0]
    assert event.event_type == "task_progress"
    assert isinstance(error, ServerError) and error.status >= 500, error
    await stack.start()

    await stack.until_status(execution, "COMPLETED")
    report = await running.stop()
    assert report.events_lost == 0
    assert_delivered_once_under_their_ids(await stack.history(execution), recorder)


async def test_events_buffered_while_nats_is_unreachable_are_resent_with_the_same_ids(
    stack: Stack, run_agent: Callable[[Agent], Running]
) -> None:
    proxy = await Proxy(stack.nats_url).start()
    registered = await stack.register("reconnecting", ("send_email",))
    execution = await stack.execute(await stack.import_tasks(["send_email"]), registered.agent_id)
    working, go = asyncio.Event(), asyncio.Event()
    recorder = Recorder()
    options = fast_options(stack, "nats", registered.credentials, observer=recorder)
    options.transport = NatsTransport(proxy.url)
    running = run_agent(Agent(options, {"send_email": pausing_handler(working, go)}))
    try:
        await asyncio.wait_for(working.wait(), 30)
        await stack.until_agent_events(execution, 2)
        proxy.cut()
        go.set()
        await asyncio.wait_for(recorder.failure_seen.wait(), 30)
        assert (await stack.execution(execution))["status"] == "RUNNING", "nothing got through the cut"
        proxy.restore()
        await stack.until_status(execution, "COMPLETED")
        report = await running.stop()
    finally:
        await proxy.close()
    assert report.events_lost == 0 and report.delivery_failures >= 1
    assert_delivered_once_under_their_ids(await stack.history(execution), recorder)
