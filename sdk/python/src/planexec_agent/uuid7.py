"""UUIDv7 event ids (RFC 9562), made here so that Python before 3.14 needs nothing else.

An event id must be unique, and the coordinator's history reads best when ids sort by time, so
ids are UUIDv7: 48 bits of Unix time in milliseconds, then the version and variant bits, then a
42-bit counter and 32 random bits. The counter starts at a random value (top bit clear, so it
has room to grow) each new millisecond and goes up by one for each id within it, so the ids of
one process are strictly increasing even when many are made in the same millisecond or the
clock steps back (the last timestamp is kept until the clock passes it). This is the layout
CPython 3.14's ``uuid.uuid7()`` uses (RFC 9562, section 6.2, method 1); on 3.14 and later that
function is used instead.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid

__all__ = ["uuid7", "new_event_id"]

_COUNTER_BITS = 42
_COUNTER_MAX = (1 << _COUNTER_BITS) - 1
_lock = threading.Lock()
_last_ms = 0
_counter = 0


def _fresh_counter() -> int:
    # The top bit stays clear so that a burst within one millisecond cannot overflow at once.
    return int.from_bytes(os.urandom(6), "big") & (_COUNTER_MAX >> 1)


def _uuid7_here() -> uuid.UUID:
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms, _counter = now_ms, _fresh_counter()
        else:
            # Same millisecond, or the clock went back: keep the order by counting on.
            _counter += 1
            if _counter > _COUNTER_MAX:
                _last_ms, _counter = _last_ms + 1, _fresh_counter()
        unix_ms, counter = _last_ms, _counter
    tail = int.from_bytes(os.urandom(4), "big")
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version 7
    value |= (counter >> 30) << 64  # the counter's 12 high bits (rand_a)
    value |= 0b10 << 62  # the RFC 9562 variant
    value |= (counter & 0x3FFF_FFFF) << 32  # its 30 low bits, then 32 random bits (rand_b)
    value |= tail
    return uuid.UUID(int=value)


if sys.version_info >= (3, 14):  # pragma: no cover - exercised only on 3.14+
    uuid7 = uuid.uuid7
else:
    uuid7 = _uuid7_here


def new_event_id() -> str:
    """A new UUIDv7 as the canonical 36-character string events carry."""
    return str(uuid7())
