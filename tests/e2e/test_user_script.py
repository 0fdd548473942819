"""The same user script passes unchanged against every generation the fake server speaks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from openhands_api import OpenHandsAPI
from openhands_api.testing import FakeOpenHandsServer
from tests.user_script import run_user_script

GENERATIONS = ["v0", "v1"]


@pytest.mark.parametrize("generation", GENERATIONS)
def test_user_script(
    generation: str, fake_openhands_factory: Callable[..., FakeOpenHandsServer], tmp_path: Path
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations=generation)
    with OpenHandsAPI(base_url=server.base_url, poll_interval=0.05, max_poll_interval=0.2) as api:
        outcome = run_user_script(api, tmp_path, timeout=60)
    assert outcome["api_version"] == generation
    assert outcome["web_url"] == f"{server.base_url}/conversations/{outcome['web_url'].rsplit('/', 1)[1]}"
