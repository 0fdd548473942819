"""The retry decision: given what happened to attempt N of a request, wait how long — or stop.

Rules (CONTRACT.md §1.4, DEVELOPERS.md "never a silent retry that could create a
conversation twice"):

- A request that never left (connection refused, connect timeout, DNS) may always be resent.
- A request that may have reached the server (read timeout, connection reset, server closed
  the connection) is resent only when it is idempotent. A create or a message is not; the
  operation layer decides what to do about those (find out whether it happened).
- 429 is retried for every request — the rate limiter answers before the handler runs —
  except Cloud's ``CONCURRENCY_LIMIT_REACHED``, which no wait will fix.
- 502/503/504 are retried for idempotent requests only: a gateway may have passed the
  request on before it failed.
- ``Retry-After`` (delta seconds or an HTTP date) and ``X-RateLimit-Reset`` are honoured,
  capped at ``max_retry_after``; otherwise exponential backoff with jitter.
- Never past the request's deadline.

Pure functions: the driver supplies the clock readings (monotonic and wall) and the random
number; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum

from .http import Request

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


class FailureKind(str, Enum):
    """How a request failed without a response, as far as the client can tell."""

    CONNECT = "connect"  # refused, unreachable, DNS: nothing was sent
    CONNECT_TIMEOUT = "connect_timeout"  # nothing was sent
    POOL_TIMEOUT = "pool_timeout"  # no connection was free: nothing was sent
    WRITE = "write"  # failed while sending: the server may have part of it
    READ_TIMEOUT = "read_timeout"  # sent; the answer did not come in time
    DISCONNECTED = "disconnected"  # sent; the connection broke before a full answer

    @property
    def request_sent(self) -> bool:
        return self not in (FailureKind.CONNECT, FailureKind.CONNECT_TIMEOUT, FailureKind.POOL_TIMEOUT)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait. ``max_retries=0`` turns retrying off."""

    max_retries: int = 3
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")

    def backoff(self, attempt: int, rand: float) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        base = min(self.max_delay, self.initial_delay * 2.0**attempt)
        return base / 2 + rand * base / 2

    def delay_after_failure(
        self, attempt: int, request: Request, failure: FailureKind, *, rand: float, now: float
    ) -> float | None:
        """Seconds to wait before retrying after a transport failure, or None to give up."""
        if attempt >= self.max_retries:
            return None
        if failure.request_sent and not request.idempotent:
            return None
        return self._within_deadline(self.backoff(attempt, rand), request, now)

    def delay_after_response(
        self,
        attempt: int,
        request: Request,
        status_code: int,
        headers: dict[str, str] | None = None,
        *,
        concurrency_limited: bool = False,
        rand: float,
        now: float,
        wall_now: float | None = None,
    ) -> float | None:
        """Seconds to wait before retrying after an HTTP response, or None to keep it."""
        if status_code not in RETRYABLE_STATUSES or attempt >= self.max_retries:
            return None
        if status_code == 429 and concurrency_limited:
            return None
        if status_code != 429 and not request.idempotent:
            return None
        hint = server_delay_hint(headers or {}, wall_now=wall_now)
        delay = min(hint, self.max_retry_after) if hint is not None else self.backoff(attempt, rand)
        return self._within_deadline(delay, request, now)

    @staticmethod
    def _within_deadline(delay: float, request: Request, now: float) -> float | None:
        if request.deadline is not None and now + delay >= request.deadline:
            return None
        return delay


def parse_retry_after(value: str | None, *, wall_now: float | None) -> float | None:
    """``Retry-After`` in seconds: delta-seconds, or an HTTP date measured from ``wall_now``
    (epoch seconds, supplied by the driver); None if absent, garbled, or a date with no
    ``wall_now`` to measure it from."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or wall_now is None:
            return None
        return max(0.0, when.timestamp() - wall_now)
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return seconds


def server_delay_hint(headers: dict[str, str], *, wall_now: float | None) -> float | None:
    """The server's own "come back in" hint: Retry-After, else X-RateLimit-Reset (epoch s)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = parse_retry_after(lowered.get("retry-after"), wall_now=wall_now)
    if retry_after is not None:
        return retry_after
    reset = lowered.get("x-ratelimit-reset")
    if reset is None:
        return None
    try:
        reset_at = float(reset)
    except ValueError:
        return None
    # Some servers send seconds-until-reset rather than an epoch; both read sensibly here.
    if reset_at <= 1e9:
        return max(0.0, reset_at)
    return None if wall_now is None else max(0.0, reset_at - wall_now)
