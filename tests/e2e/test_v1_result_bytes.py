"""What reading a finished V1 conversation downloads does not grow with its number of LLM calls.

The ``full_state`` update that ends every V1 run carries one latency and one token usage per
LLM call (about 1.6 MB after 5,000 steps on a real server); ``result()`` and
``get_conversation`` must find the final message without it. Bytes are counted by the fake
server's request log (``RequestRecord.body_bytes``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from openhands_api import OpenHandsAPI, Outcome
from openhands_api.testing import FakeOpenHandsServer
from tests.e2e.conftest import POLL

# Per LLM call, the full_state grows by a latency and a token usage: ~350 bytes. What may differ
# between two reads of the same-shaped conversation is digits and ids, not a kilobyte.
SAME_BYTES = 200
T = TypeVar("T")


@pytest.fixture
def v1_fast(fake_openhands_factory: Callable[..., FakeOpenHandsServer]) -> FakeOpenHandsServer:
    return fake_openhands_factory(rate_limit=False, speed=1000.0, generations="v1")


def _finished(api: OpenHandsAPI, steps: int) -> str:
    conversation = api.create_conversation(f"Work. [fake-llm steps={steps}]")
    result = api.wait(conversation.id, timeout=60)
    assert result.outcome is Outcome.FINISHED
    return conversation.id


def _bytes_of(server: FakeOpenHandsServer, call: Callable[[], T]) -> tuple[T, int, int]:
    """Run ``call``; its result, the requests it made and the body bytes they answered."""
    before = len(server.state.requests)
    value = call()
    records = server.state.requests[before:]
    return value, len(records), sum(r.body_bytes for r in records)


def test_result_of_a_finished_v1_conversation_costs_the_same_bytes_at_50_and_2000_steps(
    v1_fast: FakeOpenHandsServer,
) -> None:
    with OpenHandsAPI(base_url=v1_fast.base_url, api_version="v1", **POLL) as api:  # type: ignore[arg-type]
        short, long = _finished(api, 50), _finished(api, 2000)
        # The run ends with a full_state update: what reading every kind would have downloaded.
        newest_update = next(
            e for e in api.iter_events(long, reverse=True) if e.kind == "ConversationStateUpdateEvent"
        )
        assert newest_update.raw["key"] == "full_state"

        reads = {}
        for cid in (short, long):
            result, requests, body_bytes = _bytes_of(v1_fast, lambda cid=cid: api.result(cid))
            conversation, conv_requests, conv_bytes = _bytes_of(
                v1_fast, lambda cid=cid: api.get_conversation(cid)
            )
            # …and it still says what it said: the answer, the PRs, the cost.
            assert result.outcome is Outcome.FINISHED
            assert result.final_message == "Task complete (fake LLM)."
            assert result.pr_numbers == []
            assert result.conversation.cost is not None
            assert conversation.outcome is Outcome.FINISHED
            reads[cid] = (requests, body_bytes, conv_requests, conv_bytes, result.conversation.tokens)

    short_requests, short_bytes, short_conv_requests, short_conv_bytes, short_tokens = reads[short]
    long_requests, long_bytes, long_conv_requests, long_conv_bytes, long_tokens = reads[long]
    assert short_requests == long_requests
    assert abs(long_bytes - short_bytes) < SAME_BYTES, (short_bytes, long_bytes)
    assert short_conv_requests == long_conv_requests
    assert abs(long_conv_bytes - short_conv_bytes) < SAME_BYTES, (short_conv_bytes, long_conv_bytes)
    assert short_tokens
    assert long_tokens
    assert long_tokens["prompt_tokens"] > short_tokens["prompt_tokens"]


def test_a_follow_up_wait_never_downloads_the_growing_full_state(v1_fast: FakeOpenHandsServer) -> None:
    """After a message, a wait asks the events whether ``finished`` is the new turn's: it must
    not read the newest events of every kind, which hold the runs' full_state updates."""
    with OpenHandsAPI(base_url=v1_fast.base_url, api_version="v1", **POLL) as api:  # type: ignore[arg-type]
        cid = _finished(api, 2000)
        full_state = next(
            e for e in api.v1.iter_events(cid, newest_first=True) if e.get("key") == "full_state"
        )
        assert len(full_state.model_dump_json()) > 500_000
        result, requests, _ = _bytes_of(v1_fast, lambda: api.send_and_wait(cid, "Again. [fake-llm steps=1]"))
        largest = max(r.body_bytes for r in v1_fast.state.requests[-requests:])
    assert result.outcome is Outcome.FINISHED
    assert result.final_message == "Task complete (fake LLM)."
    assert largest < 5_000
