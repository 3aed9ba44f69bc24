"""The NATS transport: tasks from the agent's durable pull consumer, events to JetStream,
heartbeats on core NATS.

- Tasks: stream ``<NS>_TASKS``, subject ``<ns>.tasks.<agent_id>``, durable consumer
  ``agent-<agent_id>`` (made by the coordinator when the agent registers). A task is acked when
  the agent takes it; one it cannot take yet (every slot busy) is NAKed with a short delay so
  that cancels queued behind it still get through. A message that is not a task or a cancel is
  terminated, so that it never comes back.
- Events: ``<ns>.events.<agent_id>.<execution_id>`` with ``Nats-Msg-Id`` = ``event_id``, so a
  copy re-sent after a reconnect is dropped by the stream (and by the coordinator).
- Heartbeats: ``<ns>.heartbeats.<agent_id>``, ``{"agent_id", "timestamp", "in_flight"}``, fire
  and forget.

Only nats-server 2.9 features are used.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Sequence
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from ..aio import Stopped, race
from ..errors import NatsError, NatsRefused, OptionsError, PlanexecError, TooLarge, Unreachable, UnknownAgent
from ..outbox import Delivered
from ..subjects import Namespace
from ..wire import AgentEvent, now_rfc3339

__all__ = ["connect", "NatsLink"]

log = logging.getLogger("planexec_agent.nats")


async def connect(servers: list[str], credentials_file: str | None, name: str) -> Client:
    """Connects to the first server of ``servers`` that answers; the client reconnects by
    itself later, for ever. Unreachable at first is :class:`Unreachable` (transient); a server
    that refuses the credentials is :class:`NatsRefused` (fatal: retrying cannot help)."""
    if credentials_file is not None and not os.path.isfile(credentials_file):
        raise OptionsError(f"the NATS credentials file {credentials_file!r} does not exist")
    refused = asyncio.Event()
    reasons: list[str] = []

    async def on_error(e: Exception) -> None:
        if _is_refusal(e):
            reasons.append(str(e))
            refused.set()
        log.warning("NATS: %s", e)

    async def on_disconnect() -> None:
        log.warning("disconnected from NATS; reconnecting")

    async def on_reconnect() -> None:
        log.info("reconnected to NATS")

    options: dict[str, Any] = {
        "servers": servers,
        "name": name,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 1,
        "connect_timeout": 5,
        "error_cb": on_error,
        "disconnected_cb": on_disconnect,
        "reconnected_cb": on_reconnect,
    }
    if credentials_file is not None:
        options["user_credentials"] = credentials_file
    client = Client()
    try:
        # With reconnects on, nats-py would try a refused login for ever: stop at the first no.
        await race(client.connect(**options), refused)
    except Stopped:
        await client.close()
        with_creds = f"the credentials in {credentials_file}" if credentials_file else "no credentials"
        raise NatsRefused(f"NATS at {', '.join(servers)} refused {with_creds}: {reasons[0]}") from None
    except (OSError, asyncio.TimeoutError, nats.errors.Error) as e:
        await client.close()
        raise Unreachable(f"NATS at {', '.join(servers)}", str(e) or type(e).__name__) from None
    return client


def _is_refusal(error: Exception) -> bool:
    text = str(error).lower()
    return isinstance(error, nats.errors.AuthorizationError) or "authorization violation" in text or "authentication" in text


class NatsLink:
    """One agent's view of NATS."""

    def __init__(self, client: Client, ns: Namespace, agent_id: str, publish_timeout: float) -> None:
        self.client = client
        self.js: JetStreamContext = client.jetstream(timeout=publish_timeout)
        self.ns = ns
        self.agent_id = agent_id
        self._publish_timeout = publish_timeout

    @property
    def max_event_bytes(self) -> int:
        """The largest message the server accepts (its ``max_payload``, 1 MiB by default)."""
        return self.client.max_payload or 1024 * 1024

    async def subscription(self) -> JetStreamContext.PullSubscription:
        """The agent's task consumer; it exists once the agent is registered."""
        stream, durable = self.ns.tasks_stream, self.ns.agent_consumer(self.agent_id)
        try:
            await self.js.consumer_info(stream, durable)
            return await self.js.pull_subscribe_bind(durable=durable, stream=stream)
        except nats.js.errors.NotFoundError:
            raise UnknownAgent(self.agent_id, f"no consumer {durable} on stream {stream}") from None
        except (asyncio.TimeoutError, nats.errors.Error) as e:
            raise NatsError(f"opening the consumer {durable}: {e or type(e).__name__}") from None

    async def fetch(self, sub: JetStreamContext.PullSubscription, want: int, wait: float) -> list[Msg]:
        """At most ``want`` messages arriving within ``wait`` seconds (none: an empty list)."""
        try:
            return await sub.fetch(batch=max(1, want), timeout=wait)
        except asyncio.TimeoutError:
            return []
        except nats.errors.Error as e:
            raise NatsError(f"asking for tasks: {e or type(e).__name__}") from None

    async def heartbeat(self, in_flight: int) -> None:
        """Publishes a sign of life (core NATS: lost while disconnected, which is fine)."""
        beat = {"agent_id": self.agent_id, "timestamp": now_rfc3339(), "in_flight": in_flight}
        try:
            await self.client.publish(self.ns.heartbeats_subject(self.agent_id), json.dumps(beat).encode())
        except nats.errors.Error as e:
            raise NatsError(f"publishing a heartbeat: {e or type(e).__name__}") from None

    async def deliver(self, events: Sequence[AgentEvent]) -> list[Delivered]:
        """Publishes every event, then awaits the confirmations in order: the window bounds how
        many are outstanding."""
        sent: list[asyncio.Future[Any] | PlanexecError] = []
        for event in events:
            sent.append(await self._send(event))
        results: list[Delivered] = []
        for ack in sent:
            if isinstance(ack, PlanexecError):
                results.append(ack)
                continue
            try:
                await asyncio.wait_for(ack, timeout=self._publish_timeout)
                results.append(None)
            except asyncio.TimeoutError:
                results.append(NatsError("JetStream did not confirm an event in time"))
            except nats.errors.Error as e:
                results.append(NatsError(f"JetStream did not store an event: {e or type(e).__name__}"))
        return results

    async def _send(self, event: AgentEvent) -> asyncio.Future[Any] | PlanexecError:
        payload = json.dumps(event.to_nats(), allow_nan=False).encode()
        if len(payload) > self.max_event_bytes:
            # Sending it again cannot make it smaller.
            return TooLarge(len(payload), self.max_event_bytes)
        subject = self.ns.events_subject(self.agent_id, event.key.execution_id)
        try:
            return await self.js.publish_async(subject, payload, headers={"Nats-Msg-Id": event.event_id})
        except nats.errors.MaxPayloadError:
            return TooLarge(len(payload), self.max_event_bytes)
        except nats.errors.Error as e:
            return NatsError(f"publishing an event: {e or type(e).__name__}")
