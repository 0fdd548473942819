"""Time for the fake server: the one place that reads the wall clock or sleeps.

Responsible for: the ``Clock`` protocol (``now()`` in seconds since the epoch, ``sleep()``),
the real ``SystemClock`` and a ``ManualClock`` that tests move forward by hand.

Not responsible for: deciding *what* happens when time passes (that is the scheduler in
``core/scheduler.py``). Nothing else in the fake server calls ``time.time()`` or
``asyncio.sleep()`` directly, so a test can run a whole conversation lifecycle without
waiting by injecting a ``ManualClock``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What the fake server needs from a clock."""

    def now(self) -> float:
        """Seconds since the Unix epoch (UTC)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (used by the rate limiter and slow routes)."""
        ...


class SystemClock:
    """The real clock: ``time.time()`` and ``asyncio.sleep()``."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that only moves when told to.

    ``sleep()`` advances the clock instead of waiting, so a delayed route returns at once
    while the server still observes the delay. Thread-safe: a test thread may advance it
    while the server thread reads it.
    """

    def __init__(self, start: float | None = None) -> None:
        # Start at the real time so timestamps in responses look plausible.
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (never backwards); returns the new time."""
        if seconds < 0:
            raise ValueError("a ManualClock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)
        # Still give other tasks a turn, like a real sleep would.
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now():.6f})"
