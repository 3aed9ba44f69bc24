"""A real planexec for the tests: ``planexec up`` on a free port, on its own fresh database and
NATS namespace on the servers of ``DATABASE_URL`` and ``NATS_URL``, driven through its API.

- The binary: ``$PLANEXEC``, else ``/work/bin/planexec``.
- PostgreSQL: ``$DATABASE_URL`` (a server where the user may create databases), else
  ``postgres://postgres@127.0.0.1:5432/postgres``. NATS: ``$NATS_URL``, else
  ``nats://127.0.0.1:4222`` (JetStream on).
- Real PlanExe runs: ``$PLANEXE_RUNS_DIR``, else the nearest ``shared/planexe-runs`` above
  the repository (as the Rust tests find them); the repository's fixture run otherwise.

Nothing is skipped: a server that cannot be reached fails the test and says how to provide it.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import nats
import psycopg
from nats.aio.client import Client
import pytest

from planexec_agent import RegisteredAgent

REPO = Path(__file__).resolve().parents[3]
FIXTURE_RUN = REPO / "fixtures" / "planexe" / "dog_breeder_prospecting"
OPERATOR = "py-sdk-operator-token-0123456789abcdef"
LARRY = (
    "send_email", "make_phone_call", "search_google_maps", "schedule_calendar_event",
    "conduct_interview", "document_findings", "draft_document", "manage_csv", "human_review",
)
#: How long a test waits for an execution to get where it should (seconds).
PATIENCE = 120.0


def binary() -> str:
    path = os.environ.get("PLANEXEC") or "/work/bin/planexec"
    if not os.access(path, os.X_OK):
        pytest.fail(f"no planexec binary at {path}: build it (cargo build -p planexec) and set PLANEXEC", pytrace=False)
    return path


def admin_url() -> str:
    return os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"


def nats_url() -> str:
    return os.environ.get("NATS_URL") or "nats://127.0.0.1:4222"


def planexe_runs() -> list[Path]:
    """The real PlanExe run zips, sorted (empty when none are at hand)."""
    env = os.environ.get("PLANEXE_RUNS_DIR")
    folder = Path(env) if env else next(
        (p / "shared" / "planexe-runs" for p in REPO.parents if (p / "shared" / "planexe-runs").is_dir()), None
    )
    return sorted(folder.glob("*.zip")) if folder else []


def fixture_zip() -> bytes:
    """The repository's prospecting run, zipped the way PlanExe exports a run."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for f in sorted(FIXTURE_RUN.iterdir()):
            z.write(f, f"{FIXTURE_RUN.name}/{f.name}")
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    """One ``planexec up`` on its own database and namespace; :meth:`restart` keeps both."""

    def __init__(self, workdir: Path, nats: str | None = None, nats_creds: str | None = None) -> None:
        suffix = secrets.token_hex(6)
        self.database = f"planexec_py_{suffix}"
        self.namespace = f"py{suffix}"
        self.nats_url = nats or nats_url()
        #: The coordinator's own NATS credentials file, for a server with decentralised auth.
        self.nats_creds = nats_creds
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.gateways: list[subprocess.Popen[bytes]] = []
        parts = urlsplit(admin_url())
        self.database_url = urlunsplit(parts._replace(path="/" + self.database))
        self.http = httpx.AsyncClient(base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {OPERATOR}"})

    # --- life ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Creates the database (first time), starts ``planexec up`` and waits for ``/healthz``."""
        if self.process is None and not (self.workdir / "up.log").exists():
            _create_database(self.database)
            await _check_jetstream(self.nats_url, self.nats_creds)
        self.process = await self._spawn("up", self.port)

    async def start_gateway(self) -> str:
        """One more gateway (``planexec gateway``) on the same database and namespace; its URL.
        It keeps answering while ``planexec up``, and so every coordinator, is stopped."""
        port = free_port()
        self.gateways.append(await self._spawn("gateway", port))
        return f"http://127.0.0.1:{port}"

    def _env(self, port: int) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PLANEXE_DATABASE_URL": self.database_url,
            "PLANEXE_NATS_URL": self.nats_url,
            "PLANEXE_NATS_NAMESPACE": self.namespace,
            "PLANEXE_OPERATOR_TOKEN": OPERATOR,
            "PLANEXE_LISTEN": f"127.0.0.1:{port}",
            "PLANEXE_DATA_DIR": str(self.workdir / "data"),
            "PLANEXE_RETRY_BACKOFF_SECONDS": "0.2",
            "PLANEXE_RETRY_MAX_BACKOFF_SECONDS": "1",
            "PLANEXE_SHUTDOWN_GRACE_SECONDS": "5",
            # A task handed to an agent that then left is dispatched again this soon.
            "PLANEXE_QUEUE_TIMEOUT_SECONDS": "10",
            # Without a coordinator, a command fails after this long (503/504) instead of 60 s.
            "PLANEXE_REQUEST_TIMEOUT_SECONDS": "35",
            "PLANEXE_LOG": os.environ.get("PLANEXE_LOG", "warn"),
        }
        if self.nats_creds:
            env["PLANEXE_NATS_CREDS"] = self.nats_creds
        return env

    async def _spawn(self, role: str, port: int) -> subprocess.Popen[bytes]:
        log = open(self.workdir / "up.log", "ab")
        process = subprocess.Popen(
            [binary(), role], cwd=self.workdir, env=self._env(port), stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"planexec {role} exited {process.returncode}: {self.log_tail()}", pytrace=False)
            try:
                if (await self.http.get(f"http://127.0.0.1:{port}/healthz", timeout=2)).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        pytest.fail(f"planexec {role} answered no /healthz within 60 s: {self.log_tail()}", pytrace=False)

    async def stop(self) -> None:
        """Stops ``planexec up`` (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is not None:
            await _terminate(self.process)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def close(self) -> None:
        """Stops everything and drops the database and the namespace's streams."""
        await self.stop()
        for gateway in self.gateways:
            await _terminate(gateway)
        await self.http.aclose()
        try:
            nc = await _nats(self.nats_url, self.nats_creds)
            js = nc.jetstream()
            for stream in (f"{self.namespace.upper()}_EVENTS", f"{self.namespace.upper()}_TASKS"):
                try:
                    await js.delete_stream(stream)
                except Exception:  # noqa: BLE001 - already gone
                    pass
            await nc.close()
        except Exception:  # noqa: BLE001 - cleaning up is best effort
            pass
        _drop_database(self.database)

    def log_tail(self) -> str:
        try:
            return (self.workdir / "up.log").read_text(errors="replace")[-1500:]
        except OSError:
            return "(no log)"

    # --- the API ---------------------------------------------------------------------------

    async def api(self, method: str, path: str, body: Any = None, raw: bytes | None = None,
                  content_type: str = "application/json", expect: tuple[int, ...] = (200, 201, 202, 204)) -> Any:
        headers = {"Content-Type": content_type} if raw is not None or body is not None else {}
        content = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        response = await self.http.request(method, path, content=content, headers=headers)
        assert response.status_code in expect, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json() if response.content else None

    async def register(self, name: str, capabilities: tuple[str, ...] = LARRY) -> RegisteredAgent:
        body = {"name": name, "role": "script", "capabilities": list(capabilities)}
        return RegisteredAgent.from_json(await self.api("POST", "/api/agents", body))

    async def import_zip(self, data: bytes, name: str) -> str:
        plan = await self.api("POST", f"/api/plans?name={name}", raw=data, content_type="application/zip")
        await self.api("POST", f"/api/plans/{plan['id']}/approve", {})
        return str(plan["id"])

    async def import_tasks(self, capabilities: list[str], title: str = "Python SDK test plan") -> str:
        """A plan of one phase whose tasks are leaves of the given capabilities, in order."""
        tasks = [{"key": f"t{n}", "title": f"Task number {n}", "capability": c, "params": {"n": n}}
                 for n, c in enumerate(capabilities)]
        plan = await self.api("POST", "/api/plans", {"title": title, "phases": [{"key": "p", "title": "Phase", "tasks": tasks}]})
        await self.api("POST", f"/api/plans/{plan['id']}/approve", {})
        return str(plan["id"])

    async def execute(self, plan_id: str, agent_id: str, max_parallel: int | None = None) -> str:
        body: dict[str, Any] = {"plan_id": plan_id, "agent_id": agent_id}
        if max_parallel is not None:
            body["max_parallel"] = max_parallel
        return str((await self.api("POST", "/api/executions", body))["id"])

    async def execution(self, execution_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.api("GET", f"/api/executions/{execution_id}")
        return result

    async def until(self, execution_id: str, what: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Waits (polling the API) until ``check`` holds for the execution."""
        deadline = time.monotonic() + PATIENCE
        while True:
            execution = await self.execution(execution_id)
            if check(execution):
                return execution
            assert time.monotonic() < deadline, f"the execution never became {what}: {execution}"
            await asyncio.sleep(0.05)

    async def until_status(self, execution_id: str, status: str) -> dict[str, Any]:
        return await self.until(execution_id, status, lambda e: e["status"] == status)

    async def history(self, execution_id: str, disposition: str = "all") -> list[dict[str, Any]]:
        """The execution's whole history, oldest first."""
        events: list[dict[str, Any]] = []
        offset = 0
        while True:
            query = f"disposition={disposition}&limit=1000&offset={offset}"
            page = await self.api("GET", f"/api/executions/{execution_id}/events?{query}")
            items = page["events"]
            events += items
            if len(items) < 1000:
                return list(reversed(events))
            offset += len(items)

    async def until_agent_events(self, execution_id: str, n: int) -> list[dict[str, Any]]:
        """Waits until the history holds at least ``n`` applied events reported by agents."""
        deadline = time.monotonic() + PATIENCE
        while True:
            events = [e for e in await self.history(execution_id, "applied") if e["source"] == "agent"]
            if len(events) >= n:
                return events
            assert time.monotonic() < deadline, f"only {len(events)} agent events were recorded, not {n}"
            await asyncio.sleep(0.05)

    async def cancel(self, execution_id: str) -> None:
        await self.api("PATCH", f"/api/executions/{execution_id}", {"status": "CANCELLED", "reason": "the test called it off"})


async def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.to_thread(process.wait, 10)
    except subprocess.TimeoutExpired:
        process.kill()
        await asyncio.to_thread(process.wait)


def _admin() -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(admin_url(), autocommit=True, connect_timeout=5)
    except psycopg.Error as e:
        pytest.fail(
            f"cannot connect to PostgreSQL at DATABASE_URL ({_redact(admin_url())}): {e}. Start one, or set "
            "DATABASE_URL to a server where the user may create databases (scripts/test-python does)",
            pytrace=False,
        )


def _create_database(name: str) -> None:
    with _admin() as conn:
        conn.execute(f"CREATE DATABASE {name}")  # a name made here, not input


def _drop_database(name: str) -> None:
    try:
        with _admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except BaseException:  # noqa: BLE001 - cleaning up is best effort
        pass


async def _nats(url: str, creds: str | None) -> Client:
    extra = {"user_credentials": creds} if creds else {}
    return await nats.connect(url, connect_timeout=3, allow_reconnect=False, max_reconnect_attempts=0, **extra)


async def _check_jetstream(url: str, creds: str | None = None) -> None:
    try:
        nc = await _nats(url, creds)
    except Exception as e:  # noqa: BLE001 - any failure means no server
        pytest.fail(f"cannot connect to NATS at NATS_URL ({url}): {e}. Start nats-server -js, or set NATS_URL", pytrace=False)
    try:
        await nc.jetstream().account_info()
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"NATS at {url} has no JetStream ({e}): start nats-server with -js", pytrace=False)
    finally:
        await nc.close()


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{parts.hostname}:{parts.port}"))
    return url
