"""The self-hosted server's per-IP rate limiter (``openhands/server/middleware.py``, 1.6.0).

Responsible for: the decision per request, with the real semantics: a sliding window of
``window`` seconds per client IP in which every request — served, delayed or rejected — is
recorded on arrival; up to ``requests`` pass at once, the next ``requests`` are held for
``delay`` seconds and then served, anything beyond is rejected (the middleware answers 429
``{"message":"Too many requests"}`` with ``Retry-After: 1``). All loopback clients share one
budget, as on the real server.

Not responsible for: producing the response (``_middleware.py``) or which paths are exempt.
"""

from __future__ import annotations

import threading
from collections import defaultdict
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
