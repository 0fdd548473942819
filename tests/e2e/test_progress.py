"""``wait(on_progress=…)``: the caller sees each poll of a turn still going, on both
generations and both clients, and the wait still ends with the outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from openhands_api import AsyncOpenHandsAPI, ConversationResult, OpenHandsAPI, Outcome
from openhands_api.testing import FakeOpenHandsServer

# These fakes run without their rate limiter, and the tests poll fast on purpose: no request
# budget (it is tested with the limiter on in tests/faults/test_throttle.py).
POLL = {"poll_interval": 0.05, "max_poll_interval": 0.1, "throttle": False}
LONG_TASK = "Refactor the parser. [fake-llm steps=6]"


@pytest.fixture(params=["v0", "v1"])
def server(
    request: pytest.FixtureRequest, fake_openhands_factory: Callable[..., FakeOpenHandsServer]
) -> FakeOpenHandsServer:
    return fake_openhands_factory(rate_limit=False, speed=2.0, generations=request.param)


def _check(snapshots: list[ConversationResult], result: ConversationResult, conversation_id: str) -> None:
    assert result.outcome is Outcome.FINISHED
    assert len(snapshots) >= 2  # a six-step run spans several polls
    assert all(s.outcome is Outcome.IN_PROGRESS for s in snapshots)
    assert {s.conversation.id for s in snapshots} == {conversation_id}


def test_the_sync_client_reports_each_poll(server: FakeOpenHandsServer) -> None:
    snapshots: list[ConversationResult] = []
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation(LONG_TASK)
        result = api.wait(conversation.id, timeout=60, on_progress=snapshots.append)
    _check(snapshots, result, conversation.id)


def test_the_async_client_awaits_a_coroutine_callback(server: FakeOpenHandsServer) -> None:
    snapshots: list[ConversationResult] = []

    async def record(snapshot: ConversationResult) -> None:
        await asyncio.sleep(0)
        snapshots.append(snapshot)

    async def main() -> tuple[str, ConversationResult]:
        async with AsyncOpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
            conversation = await api.create_conversation(LONG_TASK)
            return conversation.id, await api.wait(conversation.id, timeout=60, on_progress=record)

    conversation_id, result = asyncio.run(main())
    _check(snapshots, result, conversation_id)


def test_send_and_wait_reports_progress_of_the_new_turn(server: FakeOpenHandsServer) -> None:
    snapshots: list[ConversationResult] = []
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation("Say hi.")
        api.wait(conversation.id, timeout=60)
        result = api.send_and_wait(conversation.id, LONG_TASK, timeout=60, on_progress=snapshots.append)
    _check(snapshots, result, conversation.id)


def test_an_error_in_the_callback_ends_the_wait_with_that_error(server: FakeOpenHandsServer) -> None:
    def stop_following(snapshot: ConversationResult) -> None:
        raise KeyboardInterrupt

    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation(LONG_TASK)
        with pytest.raises(KeyboardInterrupt):
            api.wait(conversation.id, timeout=60, on_progress=stop_following)
