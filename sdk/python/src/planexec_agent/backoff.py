"""Back-off between tries to reach a server that is away: exponential with full jitter, so that
a fleet of agents does not reconnect in step, and capped (``PLANEXE_AGENT_POLL_INTERVAL_SECONDS``)
so that an agent comes back within that time once the server does."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

__all__ = ["Backoff", "Schedule", "pause"]


@dataclass(frozen=True)
class Backoff:
    """From ``minimum`` seconds, doubling, never above ``maximum``."""

    minimum: float
    maximum: float

    def schedule(self) -> Schedule:
        """A fresh run of delays: call :meth:`Schedule.next_delay` after each failure."""
        return Schedule(min(self.minimum, self.maximum), self.maximum)


class Schedule:
    """The successive delays of one run of failures."""

    def __init__(self, minimum: float, maximum: float) -> None:
        self._next = minimum
        self._minimum = minimum
        self._maximum = maximum

    def next_delay(self) -> float:
        """The wait before the next try: between the floor and the current step, never past the cap."""
        step = self._next
        self._next = min(self._maximum, self._next * 2)
        return min(self._maximum, random.uniform(self._minimum, max(self._minimum, step)))


async def pause(delay: float, stop: asyncio.Event) -> bool:
    """Sleeps ``delay`` seconds unless ``stop`` is set first; returns whether to go on."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=delay)
    except asyncio.TimeoutError:
        return True
    return False
