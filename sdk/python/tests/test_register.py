"""Registration: through the gateway with the operator token, and over NATS with the
coordinators' ``register_agent`` command, where the agent makes its own token."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from planexec_agent import (
    Agent,
    AgentOptions,
    CommandRefused,
    GatewayClient,
    HttpTransport,
    Namespace,
    NatsTransport,
    RegisterViaGateway,
    RegisterViaNats,
    Registration,
    TaskAssignment,
    TaskContext,
    register,
    token_hash,
)

from .conftest import Running
from .stack import OPERATOR, Stack


async def draft(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
    return {"draft": task.title}


async def test_registering_over_nats_gives_a_token_that_names_the_agent_and_works_at_the_gateway(stack: Stack) -> None:
    via = RegisterViaNats(stack.nats_url)
    registration = Registration("self-made", ("draft_document",), role="script")
    registered = await register(via, registration, Namespace(stack.namespace))
    assert registered.token.startswith(f"pxa_{registered.agent_id.replace('-', '')}_")
    assert len(token_hash(registered.token)) == 64
    assert registered.capabilities == ("draft_document",) and registered.role == "script"
    # The secret never crossed the wire, yet the gateway knows the agent by it.
    client = GatewayClient(stack.url, registered.token)
    try:
        assert await client.poll(registered.agent_id, 0) is None
    finally:
        await client.close()


async def test_an_invalid_registration_over_nats_is_refused_with_its_fields(stack: Stack) -> None:
    namespace = Namespace(stack.namespace)
    with pytest.raises(CommandRefused) as refused:
        await register(RegisterViaNats(stack.nats_url), Registration("bad", ("Not A Capability",)), namespace)
    assert refused.value.kind == "invalid" and not refused.value.transient
    assert [e.field for e in refused.value.errors] == ["capabilities[0]"]


@pytest.mark.parametrize("via", ["gateway", "nats"])
async def test_an_agent_told_to_register_does_so_with_its_handlers_capabilities_and_runs(
    stack: Stack, via: str, transport: str, run_agent: Callable[[Agent], Running]
) -> None:
    where = RegisterViaGateway(stack.url, OPERATOR) if via == "gateway" else RegisterViaNats(stack.nats_url)
    options = AgentOptions(
        HttpTransport(stack.url) if transport == "http" else NatsTransport(stack.nats_url),
        registration=Registration(f"newcomer-{via}-{transport}"),
        register_via=where,
        namespace=stack.namespace,
        poll_wait=2.0,
        min_backoff=0.05,
        max_backoff=0.5,
    )
    agent = Agent(options, {"draft_document": draft, "manage_csv": draft})
    running = run_agent(agent)
    agents: list[dict[str, Any]] = []
    while not agents:
        page = await stack.api("GET", "/api/agents")
        agents = [a for a in page["agents"] if a["name"] == f"newcomer-{via}-{transport}"]
        await asyncio.sleep(0.05)
    assert sorted(agents[0]["capabilities"]) == ["draft_document", "manage_csv"]
    execution = await stack.execute(await stack.import_tasks(["manage_csv"]), agents[0]["id"])
    await stack.until_status(execution, "COMPLETED")
    report = await running.stop()
    assert report.registered is not None and report.registered.agent_id == agents[0]["id"]
    assert report.tasks_completed == 1
