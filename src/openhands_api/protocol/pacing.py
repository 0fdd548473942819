"""How fast one client may send: a request budget shared by every operation of the client.

A self-hosted OpenHands server (openhands-ai 1.6.0 and 1.11.0) limits each client address to
10 requests a second over a sliding window: past 10 it holds requests for a second, past 20
it answers 429. Thirty concurrent waits on one client poll at two requests each, far past
that. With a shared budget they slow down together instead of failing.

:class:`RequestBudget` is the "generic cell rate" form of a token bucket: ``burst`` requests
may go at once, then one every ``1/rate`` seconds; :meth:`reserve` books the next slot and
says how long to wait for it, so concurrent callers queue in the order they asked. Pure: the
driver supplies the clock and does the waiting.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

# The self-hosted server's limiter (openhands/server/middleware.py): 10 requests a second.
SELF_HOSTED_RATE = 10.0
SELF_HOSTED_BURST = 10


@dataclass
class RequestBudget:
    """``rate`` requests a second on average, at most ``burst`` at once."""

    rate: float
    burst: int = 1
    _next: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.rate > 0 or self.burst < 1:
            raise ValueError("a request budget needs rate > 0 and burst >= 1")

    def reserve(self, now: float) -> float:
        """Book one request at monotonic time ``now``: the seconds to wait before sending it."""
        spacing = 1.0 / self.rate
        with self._lock:
            start = max(self._next, now)
            wait = max(0.0, start - (self.burst - 1) * spacing - now)
            self._next = start + spacing
        return wait
