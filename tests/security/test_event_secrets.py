"""Secret-named keys in the events the fake V1 server sends (as 1.11.0 does: the LLM config
inside every ``full_state`` update) come out masked in the unified events, over loopback."""

from __future__ import annotations

from collections.abc import Callable

from openhands_api import OpenHandsAPI
from openhands_api.models import SECRET_MASK
from openhands_api.testing import FakeOpenHandsServer


def test_the_llm_keys_of_full_state_are_masked_in_unified_events(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=50.0, generations="v1")
    with OpenHandsAPI(base_url=server.base_url, poll_interval=0.05, throttle=False) as api:
        conversation = api.create_conversation("Work. [fake-llm steps=2]")
        api.wait(conversation.id, timeout=30)
        wire = [e for e in api.v1.iter_events(conversation.id) if e.get("key") == "full_state"]
        unified = [e for e in api.iter_events(conversation.id) if e.raw.get("key") == "full_state"]
    assert len(unified) == len(wire) >= 2
    # what the server sends there: its own redaction of the key (a real value if told to expose it)
    assert wire[-1]["value"]["agent"]["llm"]["api_key"]
    for event in unified:
        agent = event.raw["value"]["agent"]
        assert agent["llm"]["api_key"] == agent["condenser"]["llm"]["api_key"] == SECRET_MASK
        assert "api_key" not in repr(event)
