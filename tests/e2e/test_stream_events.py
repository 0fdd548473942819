"""stream_events() through both clients against the fake server, on both generations: the
history, then each new event once and in order until the turn ends, with the outcome kept
as the stream's ``result``; ``since``; stopping early; unknown ids; timeouts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from openhands_api import (
    AsyncOpenHandsAPI,
    Event,
    NotFoundError,
    OpenHandsAPI,
    Outcome,
    WaitTimeoutError,
)
from openhands_api.testing import FakeOpenHandsServer
from tests.e2e.conftest import POLL
from tests.live_order import assert_same_events_in_stream_order

Factory = Callable[..., FakeOpenHandsServer]
GENERATIONS = pytest.mark.parametrize("generation", ["v0", "v1"])
UNKNOWN = "0123456789abcdef0123456789abcdef"
SLOW = "Slow steps. [fake-llm steps=5 delay=1]"


def _server(factory: Factory, generation: str) -> FakeOpenHandsServer:
    return factory(rate_limit=False, speed=5.0, generations=generation)


@GENERATIONS
def test_sync_stream_follows_a_running_conversation_to_its_outcome(
    fake_openhands_factory: Factory, generation: str
) -> None:
    server = _server(fake_openhands_factory, generation)
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation(SLOW)
        stream = api.stream_events(conversation.id)
        assert stream.result is None
        followed = [event.id for event in stream]
        assert_same_events_in_stream_order(followed, list(api.iter_events(conversation.id)))
        assert stream.result is not None
        assert stream.result.outcome is Outcome.FINISHED
        assert stream.result.final_message == api.result(conversation.id).final_message


@GENERATIONS
async def test_async_stream_follows_a_running_conversation_to_its_outcome(
    fake_openhands_factory: Factory, generation: str
) -> None:
    server = _server(fake_openhands_factory, generation)
    async with AsyncOpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = await api.create_conversation(SLOW)
        stream = api.stream_events(conversation.id)
        followed = [event.id async for event in stream]
        assert_same_events_in_stream_order(
            followed, [event async for event in api.iter_events(conversation.id)]
        )
        assert len(set(followed)) == len(followed)
        assert stream.result is not None
        assert stream.result.outcome is Outcome.FINISHED


@GENERATIONS
def test_a_failed_turn_ends_the_stream_with_its_outcome(
    fake_openhands_factory: Factory, generation: str
) -> None:
    server = _server(fake_openhands_factory, generation)
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation("Doomed. [fake-llm steps=2 delay=1 error]")
        stream = api.stream_events(conversation.id)
        events = list(stream)
        assert events
        assert stream.result is not None
        assert stream.result.outcome is Outcome.FAILED


@GENERATIONS
def test_since_an_event_id_starts_after_it_on_both_generations(
    fake_openhands_factory: Factory, generation: str
) -> None:
    server = _server(fake_openhands_factory, generation)
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation("Two steps. [fake-llm steps=2]")
        api.wait(conversation.id, timeout=60)
        everything = list(api.iter_events(conversation.id))
        mark = everything[3]
        stream = api.stream_events(conversation.id, since=mark.id)  # Event.id works on both
        assert [e.id for e in stream] == [e.id for e in everything[4:]]
        assert [e.id for e in api.iter_events(conversation.id, since=mark.id)] == [
            e.id for e in everything[4:]
        ]
        assert mark.timestamp is not None
        from_then = [e.id for e in api.iter_events(conversation.id, since=mark.timestamp)]
        assert from_then == [e.id for e in everything if e.timestamp is None or e.timestamp >= mark.timestamp]


def test_since_an_integer_id_on_v0(fake_openhands_factory: Factory) -> None:
    server = _server(fake_openhands_factory, "v0")
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation("Two steps. [fake-llm steps=2]")
        api.wait(conversation.id, timeout=60)
        assert [e.seq for e in api.stream_events(conversation.id, since=9)] == [10, 11, 12]


@GENERATIONS
def test_a_caller_that_stops_early_gets_no_result(fake_openhands_factory: Factory, generation: str) -> None:
    server = _server(fake_openhands_factory, generation)
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation(SLOW)
        stream = api.stream_events(conversation.id)
        first = next(stream)
        stream.close()
        assert first.id
        assert stream.result is None
        with pytest.raises(StopIteration):
            next(stream)


@GENERATIONS
def test_an_unknown_conversation_is_not_found(fake_openhands_factory: Factory, generation: str) -> None:
    server = _server(fake_openhands_factory, generation)
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api, pytest.raises(NotFoundError):  # type: ignore[arg-type]
        list(api.stream_events(UNKNOWN))


async def test_a_stream_with_a_timeout_raises_wait_timeout(fake_openhands_factory: Factory) -> None:
    server = _server(fake_openhands_factory, "v1")
    async with AsyncOpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = await api.create_conversation("Very slow. [fake-llm steps=50 delay=5]")
        seen: list[Event] = []

        async def follow() -> None:
            async for event in api.stream_events(conversation.id, timeout=0.5):
                seen.append(event)

        with pytest.raises(WaitTimeoutError):
            await follow()
        assert seen  # the history came before the time ran out
