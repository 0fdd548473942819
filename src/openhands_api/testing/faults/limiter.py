"""The rate limiters: self-hosted (``openhands/server/middleware.py``, 1.6.0 and 1.11.0) and Cloud's.

Responsible for: the decision per request, with the real semantics: a sliding window of
``window`` seconds per client IP in which every request — served, delayed or rejected — is
recorded on arrival; up to ``requests`` pass at once, the next ``requests`` are held for
``delay`` seconds and then served, anything beyond is rejected (the middleware answers 429
``{"message":"Too many requests"}`` with ``Retry-After: 1``). All loopback clients share one
budget, as on the real server.

``CloudRateLimiter`` models OpenHands Cloud's limiter (CONTRACT.md §1.4, from source, not
observed): fixed windows of ``10/second`` and ``100/minute`` per authenticated user (the
fake keys by the ``Authorization`` header, else the client IP); a request over either limit
is rejected at once (no delaying) and not counted.

Not responsible for: producing the response (``faults/middleware.py``) or which paths are exempt.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    PASS = "pass"
    DELAY = "delay"
    REJECT = "reject"


class RateLimiter:
    def __init__(self, requests: int = 10, window: float = 1.0) -> None:
        self.requests = requests
        self.window = window
        self._history: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def check(self, key: str, now: float) -> Verdict:
        with self._lock:
            cutoff = now - self.window
            history = [ts for ts in self._history[key] if ts > cutoff]
            history.append(now)
            self._history[key] = history
            if len(history) > self.requests * 2:
                return Verdict.REJECT
            if len(history) > self.requests:
                return Verdict.DELAY
            return Verdict.PASS

    def reset(self) -> None:
        with self._lock:
            self._history.clear()


@dataclass(frozen=True)
class CloudRejection:
    """Why Cloud's limiter refused a request, for its 429 body and ``X-RateLimit-*`` headers."""

    limit: int
    description: str
    """``"10 per 1 second"`` as the body says it."""
    reset: float
    """Epoch seconds when the exhausted window ends."""


class CloudRateLimiter:
    LIMITS: tuple[tuple[int, float, str], ...] = (
        (10, 1.0, "10 per 1 second"),
        (100, 60.0, "100 per 1 minute"),
    )

    def __init__(self) -> None:
        self._counts: dict[tuple[str, float, float], int] = defaultdict(int)
        self._lock = threading.Lock()

    def check(self, key: str, now: float) -> CloudRejection | None:
        """None if the request may pass (and it is counted), else the exhausted limit."""
        with self._lock:
            windows = []
            for limit, window, description in self.LIMITS:
                start = math.floor(now / window) * window
                if self._counts[(key, window, start)] >= limit:
                    return CloudRejection(limit, description, start + window)
                windows.append((key, window, start))
            for slot in windows:
                self._counts[slot] += 1
            # Forget windows that are over, so a long-running server stays small.
            for slot in [s for s in self._counts if s[2] + s[1] < now]:
                del self._counts[slot]
            return None

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
