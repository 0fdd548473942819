"""Fixtures the fault tests share: each runs once per API generation against a fast fake."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from openhands_api.testing import FakeOpenHandsServer


@pytest.fixture(params=["v0", "v1"])
def generation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], generation: str
) -> FakeOpenHandsServer:
    return fake_openhands_factory(
        rate_limit=False, speed=5.0, generations=generation, max_concurrent_conversations=50
    )
