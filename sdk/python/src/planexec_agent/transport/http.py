"""The HTTP transport, through the gateway, for agents without NATS access.

- ``GET /api/agents/{id}/work?wait=s``: a long poll; ``200`` a task or cancel, ``204`` nothing
  yet. The gateway takes the message off the agent's queue before it answers, so a poll is
  never abandoned half-way (its answer could be a task nobody else will get).
- ``POST /api/executions/{execution_id}/events``: one event, with its ``event_id`` (the same
  when re-sent); the answer's ``next`` may carry the agent's next task, already taken off its
  queue, which the agent must run.
- ``POST /api/agents/{id}/heartbeat``: a sign of life while polling is paused.

Errors are RFC 9457 problem documents, raised as the typed errors of :mod:`planexec_agent.errors`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import PlanexecError, ProtocolError, Unreachable, error_for_status
from ..outbox import Delivered
from ..wire import AgentEvent, AgentMessage, message_from_json, parse_message

__all__ = ["GatewayClient", "EventAnswer", "HttpLink", "MAX_WAIT_SECONDS", "MAX_EVENT_BYTES"]

log = logging.getLogger("planexec_agent.http")

#: The gateway's long poll accepts waits of 0 to 30 seconds.
MAX_WAIT_SECONDS = 30
#: Events larger than this are not sent (the gateway's body limit is 1 MiB).
MAX_EVENT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class EventAnswer:
    """What became of a reported event (``disposition``: applied, duplicate or rejected)."""

    event_id: str
    disposition: str
    reason: str | None
    execution_status: str
    progress: float
    #: The next task, already taken off the agent's queue: run it.
    next: AgentMessage | None


class GatewayClient:
    """The gateway's agent endpoints with one bearer token (an agent's, or the operator's to
    register). ``timeout`` bounds every request beyond a poll's own wait."""

    def __init__(self, gateway: str, token: str, timeout: float = 10.0) -> None:
        self.gateway = gateway.rstrip("/")
        self._timeout = timeout
        self._client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}", "User-Agent": "planexec-agent-python"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        timeout: float | None = None,
        agent_id: str | None = None,
        expect_body: bool = True,
    ) -> Any:
        """Sends one request; the decoded JSON answer (None for 204), or a typed error."""
        try:
            response = await self._client.request(
                method,
                self.gateway + path,
                json=body,
                timeout=timeout if timeout is not None else self._timeout,
            )
        except httpx.TransportError as e:
            raise Unreachable(f"the gateway at {self.gateway}", str(e) or type(e).__name__) from None
        if response.status_code >= 400:
            raise error_for_status(response.status_code, response.content, agent_id)
        if response.status_code == 204 or not expect_body:
            return None
        try:
            return json.loads(response.content)
        except ValueError as e:
            raise ProtocolError(f"the gateway's answer to {method} {path} is not JSON: {e}") from None

    async def poll(self, agent_id: str, wait: float) -> AgentMessage | None:
        """Waits up to ``wait`` seconds (at most 30) for the agent's next task or cancel."""
        seconds = max(0, min(MAX_WAIT_SECONDS, int(wait)))
        path = f"/api/agents/{agent_id}/work?wait={seconds}"
        try:
            response = await self._client.get(self.gateway + path, timeout=seconds + self._timeout)
        except httpx.TransportError as e:
            raise Unreachable(f"the gateway at {self.gateway}", str(e) or type(e).__name__) from None
        if response.status_code == 204:
            return None
        if response.status_code != 200:
            raise error_for_status(response.status_code, response.content, agent_id)
        return parse_message(response.content)

    async def heartbeat(self, agent_id: str) -> None:
        """Tells the gateway the agent is alive."""
        await self.request("POST", f"/api/agents/{agent_id}/heartbeat", agent_id=agent_id, expect_body=False)

    async def report(self, event: AgentEvent) -> EventAnswer:
        """Reports one event (re-sending is safe: the same ``event_id`` is recognised)."""
        answer = await self.request("POST", f"/api/executions/{event.key.execution_id}/events", event.to_http())
        if not isinstance(answer, dict):
            raise ProtocolError("the answer to an event is not a JSON object")
        step = answer.get("next") or {}
        next_message = None
        if isinstance(step, dict) and step.get("kind") == "task":
            next_message = message_from_json({"type": "task", **step.get("task", {})})
        return EventAnswer(
            event_id=str(answer.get("event_id", event.event_id)),
            disposition=str(answer.get("disposition", "")),
            reason=answer.get("reason"),
            execution_status=str(answer.get("execution_status", "")),
            progress=float(answer.get("progress") or 0.0),
            next=next_message,
        )


class HttpLink:
    """One agent's events through the gateway."""

    def __init__(self, client: GatewayClient, agent_id: str) -> None:
        self.client = client
        self.agent_id = agent_id

    async def deliver(self, events: Sequence[AgentEvent]) -> list[Delivered]:
        """One request per event, in order. After a passing failure the rest of the window is
        not sent, so that no event overtakes an earlier one."""
        results: list[Delivered] = []
        stalled = False
        for event in events:
            if stalled:
                results.append(Unreachable("the gateway", "not sent: an earlier event waits to be sent again"))
                continue
            try:
                answer = await self.client.report(event)
            except PlanexecError as e:
                stalled = e.transient
                results.append(e)
                continue
            if answer.disposition == "rejected":
                log.info("the coordinator recorded event %s but did not apply it: %s", event.event_id, answer.reason)
            results.append(answer.next)
        return results
