"""The fake server answers the V0 scenario exactly like the real openhands-ai 1.6.0 server
(structurally; see parity.py for what is compared and the documented exceptions)."""

from __future__ import annotations

import httpx

from openhands_api.testing import FakeOpenHandsServer

from .parity import compare, v0_scenario
from .realserver.harness import RealServer


def test_fake_v0_matches_the_real_server(real_v0: RealServer) -> None:
    key = real_v0.session_api_key
    assert key
    with real_v0.client() as client, real_v0.client(with_key=False) as anonymous:
        real = v0_scenario(client, anonymous)
    with (
        FakeOpenHandsServer(session_api_key=key, max_concurrent_conversations=3) as fake,
        httpx.Client(base_url=fake.base_url, headers={"X-Session-API-Key": key}, timeout=30) as client,
        httpx.Client(base_url=fake.base_url, timeout=30) as anonymous,
    ):
        simulated = v0_scenario(client, anonymous)
    problems = compare(simulated, real)
    assert not problems, "the fake differs from the real server:\n" + "\n".join(problems)
