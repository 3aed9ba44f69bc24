"""The official Conductor Python SDK, unmodified and with only its standard settings, works a real
PlanExe plan to COMPLETED against planexec's Conductor routes: it logs in with POST /api/token
(key id = agent id, key secret = agent token) and sends the answer as X-Authorization, batch-polls
with its host name as worker id, reports through update-v2, and a worker that answers IN_PROGRESS
with callbackAfterSeconds is offered its task again after the delay.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.stack import LARRY, Stack, fixture_zip, planexe_runs

HERE = Path(__file__).resolve().parent


async def test_the_conductor_sdk_completes_a_real_plan(stack: Stack, tmp_path: Path) -> None:
    registered = await stack.register("conductor-sdk")
    runs = planexe_runs()
    run = next((r for r in runs if "debris" in r.name), runs[0] if runs else None)
    data, name = (run.read_bytes(), run.name) if run else (fixture_zip(), "dog_breeder_prospecting.zip")
    execution = await stack.execute(await stack.import_zip(data, name), registered.agent_id)
    env = {
        **os.environ,
        "CONDUCTOR_SERVER_URL": f"{stack.url}/api",
        "CONDUCTOR_AUTH_KEY": registered.agent_id,
        "CONDUCTOR_AUTH_SECRET": registered.token,
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen([sys.executable, str(HERE / "worker.py"), ",".join(LARRY)],
                                  stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        done = await stack.until(execution, "COMPLETED (or the worker exited)",
                                 lambda e: e["status"] == "COMPLETED" or worker.poll() is not None)
        assert worker.poll() is None, f"the worker exited early: {log.read_text()[-3000:]}"
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            await asyncio.to_thread(worker.wait, 30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
    assert done["leaves_done"] == done["leaves_total"] > 0
    history = await stack.history(execution, disposition="all")
    rejected = [e for e in history if e.get("disposition") == "rejected"]
    assert not rejected, rejected[:3]
    completes = [e for e in history if e["event_type"] == "task_complete"]
    assert len(completes) == done["leaves_total"]
    # Long-running tasks were answered IN_PROGRESS first, then offered again and completed.
    outputs = [e["output"]["output"] for e in completes]
    assert all(o["summary"].endswith("done by the Conductor SDK") for o in outputs), outputs[:3]
    drafts = [o for o in outputs if o["summary"].startswith("draft_document")]
    if drafts:
        assert all(o["polls"] >= 2 for o in drafts), drafts[:3]
        assert any(e["event_type"] == "task_progress" for e in history)
    assert any(e["event_type"] == "log" for e in history), "the task context's logs arrive"
