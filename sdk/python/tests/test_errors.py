"""Refusals are typed errors: a bad token (401), another agent's work (403), an invalid request
(422), an agent nobody registered; a refused event is dropped, not re-sent for ever."""

from __future__ import annotations

import asyncio

import pytest

from planexec_agent import (
    Agent,
    AgentEvent,
    Credentials,
    Forbidden,
    GatewayClient,
    InvalidRequest,
    NotFound,
    RegisterViaGateway,
    Registration,
    TaskAssignment,
    TaskContext,
    TaskKey,
    Unauthorised,
    UnknownAgent,
    new_event_id,
    register,
)
from planexec_agent.backoff import Backoff
from planexec_agent.observer import Observer
from planexec_agent.outbox import Delivery, Outbox
from planexec_agent.transport.http import HttpLink
from planexec_agent.wire import new_event, now_rfc3339

from .conftest import Recorder, fast_options
from .stack import Stack


async def never(task: TaskAssignment, ctx: TaskContext) -> None:
    raise AssertionError("no task should reach an agent that is refused")


async def test_an_http_agent_with_a_wrong_token_stops_with_unauthorised(stack: Stack) -> None:
    registered = await stack.register("forgetful", ("send_email",))
    wrong = Credentials(registered.agent_id, registered.token[:-4] + "0000")
    agent = Agent(fast_options(stack, "http", wrong), {"send_email": never})
    with pytest.raises(Unauthorised) as refused:
        await asyncio.wait_for(agent.run(), 30)
    assert refused.value.status == 401 and refused.value.fatal
    assert refused.value.problem.type.startswith("https://")


async def test_polling_for_another_agents_work_stops_with_forbidden(stack: Stack) -> None:
    mine = await stack.register("nosy", ("send_email",))
    theirs = await stack.register("neighbour", ("send_email",))
    borrowed = Credentials(theirs.agent_id, mine.token)
    agent = Agent(fast_options(stack, "http", borrowed), {"send_email": never})
    with pytest.raises(Forbidden) as refused:
        await asyncio.wait_for(agent.run(), 30)
    assert refused.value.status == 403


async def test_a_nats_agent_nobody_registered_stops_with_unknown_agent(stack: Stack) -> None:
    stranger = Credentials(new_event_id(), "pxa_unused")
    agent = Agent(fast_options(stack, "nats", stranger), {"send_email": never})
    with pytest.raises(UnknownAgent) as refused:
        await asyncio.wait_for(agent.run(), 30)
    assert stranger.agent_id in str(refused.value)


async def test_an_invalid_registration_is_refused_with_the_fields_that_are_wrong(stack: Stack) -> None:
    via = RegisterViaGateway(stack.url, "py-sdk-operator-token-0123456789abcdef")
    with pytest.raises(InvalidRequest) as refused:
        await register(via, Registration("bad", ("Send Email!",)))
    assert refused.value.status == 422
    assert [e.field for e in refused.value.errors] == ["capabilities[0]"]
    with pytest.raises(Unauthorised):
        await register(RegisterViaGateway(stack.url, "not-the-operator"), Registration("x", ("send_email",)))


async def test_an_event_the_gateway_refuses_is_dropped_and_the_next_one_still_delivered(stack: Stack) -> None:
    registered = await stack.register("sloppy", ("send_email",))
    execution = await stack.execute(await stack.import_tasks(["send_email"]), registered.agent_id)
    client = GatewayClient(stack.url, registered.token)
    try:
        task = None
        while task is None:
            task = await client.poll(registered.agent_id, 2)
        assert isinstance(task, TaskAssignment)
        # Built by hand past the SDK's own checks: the coordinator allows 0..100 only.
        invalid = AgentEvent(new_event_id(), task.key, now_rfc3339(), {"event_type": "task_progress", "progress": 150})
        with pytest.raises(InvalidRequest) as refused:
            await client.report(invalid)
        assert refused.value.status == 422 and refused.value.errors[0].field == "progress"

        recorder = Recorder()
        outbox = Outbox(10)
        delivery = Delivery(HttpLink(client, registered.agent_id), outbox, 16, Backoff(0.05, 0.5), recorder)
        started = new_event(task.key, {"event_type": "task_started"})
        for event in (started, invalid, new_event(task.key, {"event_type": "task_complete", "output": {"ok": 1}})):
            await outbox.push(event)
        closing, abandon = asyncio.Event(), asyncio.Event()
        closing.set()
        report = await asyncio.wait_for(delivery.run(closing, abandon), 30)
    finally:
        await client.close()
    assert (report.delivered, report.lost, report.failed_attempts) == (2, 1, 0)
    assert [e.event_id for e, _ in recorder.lost_events] == [invalid.event_id]
    assert "422" in recorder.lost_events[0][1]
    await stack.until_status(execution, "COMPLETED")


async def test_an_event_about_an_unknown_execution_is_not_found(stack: Stack) -> None:
    registered = await stack.register("lost", ("send_email",))
    client = GatewayClient(stack.url, registered.token)
    try:
        key = TaskKey(new_event_id(), new_event_id(), 1)
        with pytest.raises(NotFound) as refused:
            await client.report(new_event(key, {"event_type": "task_started"}))
    finally:
        await client.close()
    assert refused.value.status == 404 and not refused.value.transient and not refused.value.fatal


def test_an_observer_needs_to_override_nothing() -> None:
    Observer().lost(new_event(TaskKey("e", "t", 1), {"event_type": "task_started"}), "why")
