"""The ``planexec-agent-example`` command, exactly as the acceptance check runs it: a real
PlanExe run to COMPLETED over HTTP and over NATS, then SIGTERM and a graceful exit."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from .stack import Stack, fixture_zip, planexe_runs


def example_command() -> str:
    beside = Path(sys.executable).parent / "planexec-agent-example"
    found = str(beside) if beside.exists() else shutil.which("planexec-agent-example")
    assert found, "planexec-agent-example is not installed (pip install sdk/python)"
    return found


async def test_the_example_agent_completes_a_real_plan_and_stops_on_sigterm(
    stack: Stack, transport: str, tmp_path: Path
) -> None:
    registered = await stack.register(f"example-{transport}")
    runs = planexe_runs()
    run = next((r for r in runs if "debris" in r.name), runs[0] if runs else None)
    data, name = (run.read_bytes(), run.name) if run else (fixture_zip(), "dog_breeder_prospecting.zip")
    execution = await stack.execute(await stack.import_zip(data, name), registered.agent_id)
    command = [
        example_command(), "--transport", transport, "--gateway", stack.url,
        "--agent-id", registered.agent_id, "--token", registered.token,
        "--nats", stack.nats_url, "--nats-namespace", stack.namespace, "--concurrency", "8",
        # The last poll is let finish on SIGTERM (over HTTP it may bring a task): keep it short.
        "--poll-wait", "3",
    ]
    log = tmp_path / "agent.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        done = await stack.until_status(execution, "COMPLETED")
        assert process.poll() is None, f"the example exited early: {log.read_text()[-800:]}"
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 60)
    text = log.read_text()
    assert code == 0, text[-800:]
    assert f"done: {done['leaves_total']} completed" in text and ", 0 lost" in text, text[-800:]
