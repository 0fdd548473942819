"""Fixtures for the fake server's own tests.

Most tests talk to the app in-process (``httpx.ASGITransport``) with a ``ManualClock``:
simulated time moves only when a test advances it, so lifecycle tests are exact and take
no wall time. Loopback tests (``FakeOpenHandsServer``) use the real clock with short delays.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from openhands_api.testing import FakeOpenHandsApp, ManualClock, create_app

MakeClient = Callable[..., tuple[httpx.AsyncClient, FakeOpenHandsApp]]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_796_000_000.0)


@pytest.fixture
async def make_client(clock: ManualClock) -> AsyncIterator[MakeClient]:
    """``make_client(**knobs) -> (client, app)``; manual clock and no rate limit unless given."""
    clients: list[httpx.AsyncClient] = []

    def make(**knobs: Any) -> tuple[httpx.AsyncClient, FakeOpenHandsApp]:
        knobs.setdefault("clock", clock)
        knobs.setdefault("rate_limit", False)
        app = create_app(**knobs)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fake")
        clients.append(client)
        return client, app

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def client(make_client: MakeClient) -> httpx.AsyncClient:
    return make_client()[0]
