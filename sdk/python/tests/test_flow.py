"""Plans run to the end through the SDK, over HTTP and over NATS, against the real coordinator:
completion, retry later, give up, bounded concurrency, heartbeats."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import nats

from planexec_agent import Agent, GiveUp, RetryLater, TaskAssignment, TaskContext

from .conftest import Recorder, Running, fast_options
from .stack import LARRY, Stack, fixture_zip


def serving_all(handler: Callable[[TaskAssignment, TaskContext], Any]) -> dict[str, Any]:
    return {capability: handler for capability in LARRY}


async def quick(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
    await ctx.progress(50, f"halfway through {task.title}", status="working")
    await ctx.log("info", f"did {task.wbs}")
    return {"wbs": task.wbs, "done": True}


def agent_events(history: list[dict[str, Any]], task_id: str | None = None) -> list[dict[str, Any]]:
    return [e for e in history if e["source"] == "agent" and (task_id is None or e["task_id"] == task_id)]


async def test_an_agent_runs_a_real_planexe_plan_to_completed(
    stack: Stack, transport: str, run_agent: Callable[[Agent], Running]
) -> None:
    registered = await stack.register(f"larry-{transport}")
    plan = await stack.import_zip(fixture_zip(), "dog_breeder_prospecting.zip")
    execution = await stack.execute(plan, registered.agent_id, max_parallel=4)
    recorder = Recorder()
    options = fast_options(stack, transport, registered.credentials, observer=recorder)
    running = run_agent(Agent(options, serving_all(quick)))

    done = await stack.until_status(execution, "COMPLETED")
    report = await running.stop()

    assert done["leaves_done"] == done["leaves_total"] > 5
    assert report.tasks_completed == done["leaves_total"]
    assert (report.tasks_failed, report.events_lost) == (0, 0)
    history = await stack.history(execution)
    recorded = [e for e in agent_events(history)]
    assert all(e["disposition"] == "applied" for e in recorded), [e for e in recorded if e["disposition"] != "applied"]
    # Every event the agent saw confirmed is in the history once, under the id the SDK made.
    ids = [e["id"] for e in recorded]
    assert sorted(ids) == sorted(e.event_id for e in recorder.delivered_events)
    assert len(set(ids)) == len(ids)
    kinds = [e["event_type"] for e in recorded]
    assert kinds.count("task_complete") == kinds.count("task_started") == done["leaves_total"]


async def test_a_retry_later_error_is_retried_as_a_new_attempt_which_completes(
    stack: Stack, transport: str, run_agent: Callable[[Agent], Running]
) -> None:
    registered = await stack.register(f"retrier-{transport}", ("send_email",))
    execution = await stack.execute(await stack.import_tasks(["send_email"]), registered.agent_id)

    async def flaky(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
        if task.attempt == 1:
            raise RetryLater("the mail server answered 451", retry_after=0.2)
        return {"sent": True, "attempt": task.attempt}

    running = run_agent(Agent(fast_options(stack, transport, registered.credentials), {"send_email": flaky}))
    await stack.until_status(execution, "COMPLETED")
    report = await running.stop()

    assert (report.tasks_failed, report.tasks_completed) == (1, 1)
    history = agent_events(await stack.history(execution))
    failed = [e for e in history if e["event_type"] == "task_failed"]
    assert [(e["attempt"], e["output"]["retryable"], e["output"]["error"]) for e in failed] == [
        (1, True, "the mail server answered 451")
    ]
    complete = [e for e in history if e["event_type"] == "task_complete"]
    assert [(e["attempt"], e["output"]["output"]) for e in complete] == [(2, {"sent": True, "attempt": 2})]


async def test_an_exception_in_a_handler_fails_the_attempt_retryably_and_the_agent_carries_on(
    stack: Stack, transport: str, run_agent: Callable[[Agent], Running]
) -> None:
    registered = await stack.register(f"buggy-{transport}", ("manage_csv",))
    execution = await stack.execute(await stack.import_tasks(["manage_csv"]), registered.agent_id)

    async def buggy(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
        if task.attempt == 1:
            raise KeyError("column")
        return {"rows": 3}

    running = run_agent(Agent(fast_options(stack, transport, registered.credentials), {"manage_csv": buggy}))
    await stack.until_status(execution, "COMPLETED")
    await running.stop()
    failed = [e for e in agent_events(await stack.history(execution)) if e["event_type"] == "task_failed"]
    assert len(failed) == 1 and failed[0]["output"]["retryable"] is True
    assert "KeyError" in failed[0]["output"]["error"]


async def test_a_give_up_error_blocks_the_execution_without_another_attempt(
    stack: Stack, transport: str, run_agent: Callable[[Agent], Running]
) -> None:
    registered = await stack.register(f"quitter-{transport}", ("send_email",))
    execution = await stack.execute(await stack.import_tasks(["send_email", "send_email"]), registered.agent_id, 1)
    attempts: list[int] = []

    async def hopeless(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
        attempts.append(task.attempt)
        raise GiveUp("the address does not exist")

    running = run_agent(Agent(fast_options(stack, transport, registered.credentials), {"send_email": hopeless}))
    blocked = await stack.until_status(execution, "BLOCKED")
    report = await running.stop()

    assert blocked["blocked_reason"] is not None
    assert attempts == [1] and report.tasks_failed == 1
    failed = [e for e in agent_events(await stack.history(execution)) if e["event_type"] == "task_failed"]
    assert [(e["attempt"], e["output"]["retryable"]) for e in failed] == [(1, False)]


async def test_no_more_tasks_run_at_once_than_the_concurrency(
    stack: Stack, transport: str, run_agent: Callable[[Agent], Running]
) -> None:
    registered = await stack.register(f"bounded-{transport}", ("search_google_maps",))
    plan = await stack.import_tasks(["search_google_maps"] * 6)
    execution = await stack.execute(plan, registered.agent_id, max_parallel=6)
    running_now, most = 0, 0
    two_running = asyncio.Event()

    async def search(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
        nonlocal running_now, most
        running_now += 1
        most = max(most, running_now)
        if running_now == 2:
            two_running.set()
        # Hold the slot until a second task runs beside this one, so the bound is reached.
        await asyncio.wait_for(two_running.wait(), timeout=30)
        await asyncio.sleep(0.05)
        running_now -= 1
        return {"found": 3}

    options = fast_options(stack, transport, registered.credentials, concurrency=2)
    running = run_agent(Agent(options, {"search_google_maps": search}))
    await stack.until_status(execution, "COMPLETED")
    report = await running.stop()
    assert most == 2 and report.tasks_completed == 6


async def test_nats_heartbeats_carry_the_tasks_in_flight(stack: Stack, run_agent: Callable[[Agent], Running]) -> None:
    registered = await stack.register("beating", ("conduct_interview",))
    nc = await nats.connect(stack.nats_url)
    beats: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def heard(msg: Any) -> None:
        await beats.put(json.loads(msg.data))

    await nc.subscribe(f"{stack.namespace}.heartbeats.{registered.agent_id}", cb=heard)
    release = asyncio.Event()

    async def interview(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
        await release.wait()
        return {"notes": "fine"}

    execution = await stack.execute(await stack.import_tasks(["conduct_interview"]), registered.agent_id)
    running = run_agent(Agent(fast_options(stack, "nats", registered.credentials), {"conduct_interview": interview}))
    try:
        while True:
            beat = await asyncio.wait_for(beats.get(), timeout=30)
            assert beat["agent_id"] == registered.agent_id and beat["timestamp"].endswith("Z")
            if beat["in_flight"] == 1:
                break
    finally:
        release.set()
        await nc.close()
    await stack.until_status(execution, "COMPLETED")
    await running.stop()
