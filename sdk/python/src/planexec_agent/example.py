"""``planexec-agent-example``: an agent serving every capability Larry has, with quick fake
work, that completes every task it is given. It runs until SIGTERM or SIGINT, then shuts down
gracefully.

    planexec-agent-example --transport http --gateway http://127.0.0.1:8080 \\
        --agent-id 01a2139d-... --token pxa_...
    planexec-agent-example --transport nats --nats nats://127.0.0.1:4222 [--nats-creds agent.creds] \\
        --gateway http://127.0.0.1:8080 --agent-id 01a2139d-... --token pxa_...
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
from typing import Any

from . import Agent, AgentOptions, Credentials, HttpTransport, NatsTransport, PlanexecError, TaskAssignment, TaskContext
from .options import Transport

#: Larry's capabilities, and what a quick fake of each hands back.
CAPABILITIES: dict[str, str] = {
    "send_email": "sending the email",
    "make_phone_call": "dialling",
    "search_google_maps": "searching the map",
    "schedule_calendar_event": "booking the slot",
    "conduct_interview": "interviewing",
    "document_findings": "writing up",
    "draft_document": "drafting",
    "manage_csv": "updating the sheet",
    "human_review": "reviewing",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="planexec-agent-example", description=__doc__.split("\n\n")[0])
    p.add_argument("--transport", choices=["http", "nats"], default="http")
    p.add_argument("--gateway", default=os.environ.get("PLANEXE_GATEWAY_URL", "http://127.0.0.1:8080"),
                   help="the gateway's base URL (the HTTP transport)")
    p.add_argument("--agent-id", required=True, help="the id the agent was registered with")
    p.add_argument("--token", default=os.environ.get("PLANEXE_AGENT_TOKEN"), help="the agent's token (or PLANEXE_AGENT_TOKEN)")
    p.add_argument("--nats", default=os.environ.get("PLANEXE_NATS_URL", "nats://127.0.0.1:4222"),
                   help="NATS server URL, or a comma-separated list (the NATS transport)")
    p.add_argument("--nats-creds", default=os.environ.get("PLANEXE_NATS_CREDS"), help="a NATS credentials file")
    p.add_argument("--nats-namespace", default=os.environ.get("PLANEXE_NATS_NAMESPACE", "planexec"))
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--work-seconds", type=float, default=0.05, help="how long each fake task takes")
    p.add_argument("--poll-wait", type=float, default=20.0,
                   help="seconds a poll waits for work; over HTTP a shutdown lets the last poll finish")
    p.add_argument("--log-level", default=os.environ.get("PLANEXE_LOG_LEVEL", "INFO"))
    args = p.parse_args(argv)
    if not args.token:
        p.error("--token (or PLANEXE_AGENT_TOKEN) is required")
    return args


def make_handler(capability: str, doing: str, seconds: float) -> Any:
    async def handle(task: TaskAssignment, ctx: TaskContext) -> dict[str, Any]:
        for step in (1, 2):
            await asyncio.sleep(seconds * random.uniform(0.5, 1.5) / 2)
            await ctx.progress(50.0 * step, f"{doing}: {task.title}", status=doing)
        return {"capability": capability, "wbs": task.wbs, "summary": f"{doing} done for {task.title!r}"}

    return handle


def build(args: argparse.Namespace) -> Agent:
    transport: Transport
    if args.transport == "nats":
        transport = NatsTransport(args.nats, credentials_file=args.nats_creds)
    else:
        transport = HttpTransport(args.gateway)
    options = AgentOptions(
        transport,
        credentials=Credentials(args.agent_id, args.token),
        namespace=args.nats_namespace,
        concurrency=args.concurrency,
        poll_wait=args.poll_wait,
    )
    agent = Agent(options)
    for capability, doing in CAPABILITIES.items():
        agent.handles(capability)(make_handler(capability, doing, args.work_seconds))
    return agent


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        report = asyncio.run(build(args).run_until_signalled())
    except PlanexecError as e:
        logging.getLogger("planexec_agent.example").error("%s", e)
        return 1
    print(f"done: {report.tasks_completed} completed, {report.tasks_released} released, "
          f"{report.events_delivered} events delivered, {report.events_lost} lost", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
