"""A NATS server with decentralised authentication: the agent connects with its own
credentials file (``user_credentials``), and a refused login stops it with a clear error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from planexec_agent import Agent, NatsRefused, NatsTransport, OptionsError, TaskAssignment, TaskContext

from .conftest import Running, fast_options
from .nats_auth import AuthNats
from .stack import Stack


@pytest_asyncio.fixture(loop_scope="session")
async def secured(tmp_path: Path) -> AsyncIterator[tuple[Stack, AuthNats]]:
    """planexec on a nats-server that lets in only holders of a credentials file."""
    server = await AuthNats(tmp_path).start()
    stack = Stack(tmp_path, nats=server.url, nats_creds=server.creds("planexec"))
    try:
        await stack.start()
        yield stack, server
    finally:
        await stack.close()
        server.stop()


async def review(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
    await ctx.progress(50, "reading")
    return {"approved": True}


async def test_an_agent_with_its_credentials_file_runs_a_plan_over_nats(
    secured: tuple[Stack, AuthNats], run_agent: Callable[[Agent], Running]
) -> None:
    stack, server = secured
    registered = await stack.register("credentialed", ("human_review",))
    execution = await stack.execute(await stack.import_tasks(["human_review"] * 3), registered.agent_id, 3)
    options = fast_options(stack, "nats", registered.credentials)
    # A comma-separated list: the first server is not there, the second is.
    options.transport = NatsTransport(f"nats://127.0.0.1:1,{server.url}", credentials_file=server.creds("agent"))
    running = run_agent(Agent(options, {"human_review": review}))
    await stack.until_status(execution, "COMPLETED")
    assert (await running.stop()).tasks_completed == 3


async def test_an_agent_without_credentials_is_refused_at_once(secured: tuple[Stack, AuthNats]) -> None:
    stack, _ = secured
    registered = await stack.register("anonymous", ("human_review",))
    agent = Agent(fast_options(stack, "nats", registered.credentials), {"human_review": review})
    with pytest.raises(NatsRefused) as refused:
        await asyncio.wait_for(agent.run(), 30)
    assert refused.value.fatal and "refused no credentials" in str(refused.value)


async def test_a_missing_credentials_file_is_an_options_error(stack: Stack, tmp_path: Path) -> None:
    registered = await stack.register("misconfigured", ("human_review",))
    options = fast_options(stack, "nats", registered.credentials)
    options.transport = NatsTransport(stack.nats_url, credentials_file=str(tmp_path / "nowhere.creds"))
    with pytest.raises(OptionsError, match="nowhere.creds"):
        await asyncio.wait_for(Agent(options, {"human_review": review}).run(), 30)
