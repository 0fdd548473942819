"""End-to-end fixtures: the library against the project's fake server over loopback.

The fake server runs with its real-server behaviour (quirks, lifecycle) but faster simulated
time, and without the rate limiter unless a test is about the limiter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from openhands_api import AsyncOpenHandsAPI, OpenHandsAPI
from openhands_api.testing import FakeOpenHandsServer

FAST = {"rate_limit": False, "speed": 5.0}
# These fakes run without their rate limiter, and the tests poll fast on purpose: no request
# budget (it is tested with the limiter on in tests/faults/test_throttle.py).
POLL = {"poll_interval": 0.05, "max_poll_interval": 0.2, "throttle": False}


@pytest.fixture
def server(fake_openhands_factory: Callable[..., FakeOpenHandsServer]) -> FakeOpenHandsServer:
    return fake_openhands_factory(**FAST)


@pytest.fixture
def make_api() -> Iterator[Callable[..., OpenHandsAPI]]:
    clients: list[OpenHandsAPI] = []

    def make(server: FakeOpenHandsServer, **kwargs: Any) -> OpenHandsAPI:
        client = OpenHandsAPI(base_url=server.base_url, **{**POLL, **kwargs})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def api(server: FakeOpenHandsServer, make_api: Callable[..., OpenHandsAPI]) -> OpenHandsAPI:
    return make_api(server)


@pytest.fixture
async def aapi(server: FakeOpenHandsServer) -> AsyncIterator[AsyncOpenHandsAPI]:
    async with AsyncOpenHandsAPI(base_url=server.base_url, **POLL) as client:
        yield client
