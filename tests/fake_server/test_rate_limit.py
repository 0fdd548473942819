"""The self-hosted rate limiter: 10 requests/s per client IP, 10 more delayed, then 429."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from openhands_api.testing import FakeOpenHandsServer, ManualClock, SystemClock, create_app
from openhands_api.testing.faults.limiter import RateLimiter, Verdict

DELAY = 0.3


def test_limiter_passes_ten_delays_ten_and_rejects_the_rest() -> None:
    limiter = RateLimiter(requests=10, window=1.0)
    verdicts = [limiter.check("1.2.3.4", 100.0) for _ in range(25)]
    assert verdicts == [Verdict.PASS] * 10 + [Verdict.DELAY] * 10 + [Verdict.REJECT] * 5


def test_limiter_window_slides() -> None:
    limiter = RateLimiter(requests=2, window=1.0)
    assert [limiter.check("ip", t) for t in (0.0, 0.5, 0.9)] == [Verdict.PASS, Verdict.PASS, Verdict.DELAY]
    assert limiter.check("ip", 1.4) == Verdict.DELAY  # 0.5 and 0.9 still in the window
    assert limiter.check("ip", 2.5) == Verdict.PASS


def test_limiter_counts_rejected_requests_too() -> None:
    limiter = RateLimiter(requests=1, window=1.0)
    for _ in range(5):
        limiter.check("ip", 0.0)
    assert limiter.check("ip", 0.5) == Verdict.REJECT


def test_limiter_budgets_are_per_client_ip() -> None:
    limiter = RateLimiter(requests=1, window=1.0)
    limiter.check("a", 0.0)
    limiter.check("a", 0.0)
    assert limiter.check("a", 0.0) == Verdict.REJECT
    assert limiter.check("b", 0.0) == Verdict.PASS


async def burst(client: httpx.AsyncClient, count: int) -> list[tuple[httpx.Response, float]]:
    async def timed() -> tuple[httpx.Response, float]:
        start = time.monotonic()
        response = await client.get("/alive")
        return response, time.monotonic() - start

    return await asyncio.gather(*(timed() for _ in range(count)))


class RecordingClock(SystemClock):
    """The real clock, remembering every sleep the server asks of it: which requests the
    limiter held is then counted, not inferred from timings a busy machine can stretch."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await super().sleep(seconds)


async def test_burst_is_served_then_delayed_then_refused_with_retry_after() -> None:
    clock = RecordingClock()
    app = create_app(clock=clock, rate_limit_delay=DELAY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fake") as client:
        results = await burst(client, 25)
    ok = [response for response, _ in results if response.status_code == 200]
    refused = [response for response, _ in results if response.status_code == 429]
    assert len(ok) == 20
    assert clock.sleeps == [DELAY] * 10  # ten served at once, ten held for the delay
    assert len(refused) == 5
    for response in refused:
        assert response.json() == {"message": "Too many requests"}
        assert response.headers["retry-after"] == "1"
        assert "cache-control" not in response.headers  # the limiter sits outside the other middleware


async def test_budget_recovers_after_the_window() -> None:
    # A clock that moves only when told: a busy machine cannot stretch the burst past the
    # window (it did, with the real clock and a 0.2 s window). No delay, so that the held
    # requests' sleeps do not move it either.
    clock = ManualClock()
    app = create_app(clock=clock, rate_limit_delay=0.0, rate_limit_window=1.0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fake") as client:
        assert sum(r.status_code == 429 for r, _ in await burst(client, 25)) == 5
        clock.advance(0.5)  # still inside the window: still refused
        assert all(r.status_code == 429 for r, _ in await burst(client, 3))
        clock.advance(1.01)  # the window has passed: a whole budget again
        assert all(r.status_code == 200 for r, _ in await burst(client, 10))


async def test_rate_limit_can_be_switched_off() -> None:
    app = create_app(clock=SystemClock(), rate_limit=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fake") as client:
        assert {r.status_code for r, _ in await burst(client, 40)} == {200}


async def test_control_routes_are_not_rate_limited() -> None:
    app = create_app(clock=SystemClock(), rate_limit_delay=DELAY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fake") as client:
        responses = await asyncio.gather(*(client.get("/_fake/state") for _ in range(30)))
    assert {r.status_code for r in responses} == {200}


@pytest.mark.timeout(30)
def test_rate_limit_applies_over_loopback() -> None:
    with FakeOpenHandsServer(rate_limit_delay=DELAY) as server:

        async def run() -> list[int]:
            limits = httpx.Limits(max_connections=30)
            async with httpx.AsyncClient(base_url=server.base_url, limits=limits) as client:
                return [r.status_code for r, _ in await burst(client, 25)]

        statuses = asyncio.run(run())
    assert statuses.count(429) == 5
    assert statuses.count(200) == 20
