"""The fake server answers the V1 scenario exactly like the real openhands-ai 1.11.0 server.

The scenario and the structural comparison live in ``tests/fake_server/v1_scenario.py``
(create → READY → finished; events; send-message → finished; pause → 409 → resume → send;
zip download; delete). No intentional differences are known for V1: if one appears, record it
in ``tests/integration/parity.py``'s ``INTENTIONAL_DIFFERENCES`` with its reason.
"""

from __future__ import annotations

from openhands_api.testing import FakeOpenHandsServer
from tests.fake_server.v1_scenario import differences, run_scenario

from .realserver.harness import RealServer


def test_fake_v1_matches_the_real_server(real_v1_nokey: RealServer) -> None:
    real = run_scenario(real_v1_nokey.base_url)
    with FakeOpenHandsServer(generations="v1") as server:
        # Settings like the harness stores them, so the agent dumps in the events compare.
        server.state.store_settings(
            {**(server.state.settings or {}), "llm_base_url": "http://127.0.0.1:9/v1"}
        )
        fake = run_scenario(server.base_url)
    problems = differences(fake, real)
    assert not problems, "the fake differs from the real server:\n" + "\n".join(problems)
