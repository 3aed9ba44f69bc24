"""Small asyncio helpers the loops share: racing work against a stop signal."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["race", "Stopped"]

T = TypeVar("T")


class Stopped(Exception):
    """The stop signal came before the work finished (the work was cancelled)."""


async def race(work: Awaitable[T], *stops: asyncio.Event) -> T:
    """The result of ``work``, unless one of ``stops`` is set first: then ``work`` is cancelled
    and :class:`Stopped` raised."""
    task = asyncio.ensure_future(work)
    if any(stop.is_set() for stop in stops):
        task.cancel()
        raise Stopped
    waiters = [asyncio.ensure_future(stop.wait()) for stop in stops]
    try:
        await asyncio.wait({task, *waiters}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    if task.done():
        return task.result()
    task.cancel()
    try:
        await task
    except BaseException:  # noqa: BLE001 - whatever the cancelled work ends with is moot
        pass
    raise Stopped
