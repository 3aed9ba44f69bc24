"""Cancels and graceful shutdown, against the real coordinator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from planexec_agent import Agent, Release, TaskAssignment, TaskContext

from .conftest import Recorder, Running, fast_options
from .stack import Stack
from .test_flow import agent_events


async def test_cancelling_the_execution_stops_the_running_handler_and_nothing_more_is_reported(
    stack: Stack, transport: str, run_agent: Callable[[Agent], Running]
) -> None:
    registered = await stack.register(f"cancelled-{transport}", ("make_phone_call",))
    execution = await stack.execute(await stack.import_tasks(["make_phone_call"] * 2), registered.agent_id, 1)
    seen: asyncio.Queue[str] = asyncio.Queue()

    async def call(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
        await ctx.progress(10, "dialling")
        await seen.put("started")
        await ctx.wait_cancelled()
        await seen.put("saw the cancel")
        # Whatever a cancelled handler returns is not reported.
        return {"too": "late"}

    running = run_agent(Agent(fast_options(stack, transport, registered.credentials), {"make_phone_call": call}))
    assert await asyncio.wait_for(seen.get(), 30) == "started"
    await stack.until(execution, "running its first task", lambda e: e["current_task"] is not None)

    await stack.cancel(execution)
    assert await asyncio.wait_for(seen.get(), 30) == "saw the cancel"
    report = await running.stop()

    assert (report.tasks_cancelled, report.tasks_completed) == (1, 0)
    assert (await stack.execution(execution))["status"] == "CANCELLED"
    kinds = [e["event_type"] for e in agent_events(await stack.history(execution))]
    assert "task_complete" not in kinds and "task_released" not in kinds, kinds


async def test_a_handler_that_ignores_a_cancel_is_cancelled_after_the_stop_grace(
    stack: Stack, run_agent: Callable[[Agent], Running]
) -> None:
    registered = await stack.register("stubborn", ("make_phone_call",))
    execution = await stack.execute(await stack.import_tasks(["make_phone_call"]), registered.agent_id)
    started, dropped = asyncio.Event(), asyncio.Event()

    async def stubborn(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
        started.set()
        try:
            await asyncio.Event().wait()  # never looks at ctx.cancelled
        except asyncio.CancelledError:
            dropped.set()
            raise
        return {}

    options = fast_options(stack, "http", registered.credentials, stop_grace=0.2)
    running = run_agent(Agent(options, {"make_phone_call": stubborn}))
    await asyncio.wait_for(started.wait(), 30)
    await stack.until(execution, "running", lambda e: e["current_task"] is not None)
    await stack.cancel(execution)
    await asyncio.wait_for(dropped.wait(), 30)
    assert (await running.stop()).tasks_cancelled == 1


async def test_graceful_shutdown_hands_an_unfinished_task_back_and_it_is_dispatched_again(
    stack: Stack, transport: str, run_agent: Callable[[Agent], Running]
) -> None:
    first = await stack.register(f"leaving-{transport}", ("draft_document",))
    execution = await stack.execute(await stack.import_tasks(["draft_document"]), first.agent_id)
    started = asyncio.Event()

    async def endless(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
        started.set()
        await ctx.wait_cancelled()  # set when the shutdown grace is over
        return {"never": "reported"}

    options = fast_options(stack, transport, first.credentials, shutdown_grace=0.5)
    leaving = run_agent(Agent(options, {"draft_document": endless}))
    await asyncio.wait_for(started.wait(), 30)
    await stack.until(execution, "running", lambda e: e["current_task"] is not None)
    report = await leaving.stop()
    assert (report.tasks_released, report.tasks_completed, report.events_lost) == (1, 0, 0)


    # Handed back without counting a failure: the next attempt is dispatched again.
    async def draft(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
        return {"draft": "v1", "attempt": task.attempt}

    back = run_agent(Agent(fast_options(stack, transport, first.credentials), {"draft_document": draft}))
    await stack.until_status(execution, "COMPLETED")
    await back.stop()
    events = agent_events(await stack.history(execution))
    released = [e for e in events if e["event_type"] == "task_released"]
    assert [e["attempt"] for e in released] == [1]
    # Over HTTP the answer to the release may hand the next attempt straight back to the leaving
    # agent, which cannot return it without being handed it again: it comes back after its
    # queue timeout, so the attempt that completes is 2 or 3.
    completed = [e["attempt"] for e in events if e["event_type"] == "task_complete"]
    assert completed == [2] if transport == "nats" else completed in ([2], [3]), completed
    assert not [e for e in events if e["event_type"] == "task_failed"]


async def test_graceful_shutdown_lets_a_task_that_finishes_within_the_grace_complete(
    stack: Stack, transport: str, run_agent: Callable[[Agent], Running]
) -> None:
    registered = await stack.register(f"finisher-{transport}", ("document_findings",))
    execution = await stack.execute(await stack.import_tasks(["document_findings"]), registered.agent_id)
    started = asyncio.Event()

    async def finish_soon(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
        started.set()
        await ctx.shutting_down.wait()
        await ctx.progress(90, "wrapping up")
        return {"summary": "written during the grace"}

    running = run_agent(Agent(fast_options(stack, transport, registered.credentials), {"document_findings": finish_soon}))
    await asyncio.wait_for(started.wait(), 30)
    report = await running.stop()
    assert (report.tasks_completed, report.tasks_released, report.events_lost) == (1, 0, 0)
    await stack.until_status(execution, "COMPLETED")


async def test_tasks_taken_but_not_started_are_released_on_shutdown_over_http(
    stack: Stack, run_agent: Callable[[Agent], Running]
) -> None:
    registered = await stack.register("backlogged", ("send_email",))
    execution = await stack.execute(await stack.import_tasks(["send_email"] * 2), registered.agent_id, 2)
    recorder = Recorder()
    started = asyncio.Event()

    async def busy(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
        started.set()
        await ctx.shutting_down.wait()
        raise Release("shutting down")

    # One slot: the second task is taken by a quick poll for cancels and waits in the backlog.
    options = fast_options(stack, "http", registered.credentials, concurrency=1, poll_wait=0.5, observer=recorder)
    running = run_agent(Agent(options, {"send_email": busy}))
    await asyncio.wait_for(started.wait(), 30)
    while len(recorder.received_messages) < 2:
        await asyncio.sleep(0.05)
    report = await running.stop()

    assert report.tasks_released == 2 and report.events_lost == 0
    events = agent_events(await stack.history(execution))
    waiting = recorder.received_messages[1]
    of_waiting = [e["event_type"] for e in events if e["task_id"] == waiting.task_id]
    assert of_waiting == ["task_released"], of_waiting
    assert (await stack.execution(execution))["status"] == "RUNNING"
