"""Live V1 events over the fake agent server's WebSocket, through both clients: the stream
with no gap and no duplicate across forced drops, polling where the upgrade is refused,
typed errors for a refused key (4001) and an unknown conversation (4004), the session key in
no URL and no log record, and waits that learn the outcome from the socket — with almost no
requests while the agent works (counted in the fake's request log)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from openhands_api import (
    AsyncOpenHandsAPI,
    AuthenticationError,
    NotFoundError,
    OpenHandsAPI,
    Outcome,
)
from openhands_api import aio as aio_module
from openhands_api import client as client_module
from openhands_api.testing import FakeOpenHandsServer
from openhands_api.testing.faults.rules import FaultRule
from tests.e2e.conftest import POLL
from tests.live_order import assert_same_events_in_stream_order

Factory = Callable[..., FakeOpenHandsServer]
SOCKETS = "/_agent/*/sockets/events/*"
LONG = "Many steps. [fake-llm steps=8 delay=1]"
STEPS = "Steps. [fake-llm steps=4 delay=2]"


def _server(factory: Factory, **knobs: Any) -> FakeOpenHandsServer:
    return factory(rate_limit=False, speed=5.0, generations="v1", **knobs)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every WebSocket URL the clients open (the fake's request log records HTTP only)."""
    urls: list[str] = []
    sync_open, async_open = client_module.socket_open, aio_module.async_socket_open

    def record(url: str, *args: Any) -> Any:
        urls.append(url)
        return sync_open(url, *args)

    async def record_async(url: str, *args: Any) -> Any:
        urls.append(url)
        return await async_open(url, *args)

    monkeypatch.setattr(client_module, "socket_open", record)
    monkeypatch.setattr(aio_module, "async_socket_open", record_async)
    return urls


def _log_ids(api: OpenHandsAPI, conversation_id: str) -> list[str]:
    """The conversation's events as the app server keeps them, once its copy has caught up."""
    return [event.id for event in api.iter_events(conversation_id)]


def _requests(server: FakeOpenHandsServer, since: int) -> list[str]:
    return [f"{r.method} {r.path}" for r in server.state.requests[since:]]


def _hits(server: FakeOpenHandsServer, fault: str) -> int:
    return sum(status.hits for status in server.state.faults.rules if status.rule.fault == fault)


# ---------------------------------------------------------------------------- following


def test_sync_stream_has_no_gap_and_no_duplicate_across_forced_drops(
    fake_openhands_factory: Factory, opened: list[str]
) -> None:
    server = _server(fake_openhands_factory)
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation(LONG)
        # The connection drops after 4 frames (the greeting counts), twice, mid-run.
        server.state.faults.add(FaultRule("ws_drop", path=SOCKETS, frames=4, times=2))
        stream = api.stream_events(conversation.id)
        followed = [event.id for event in stream]
        assert stream.result is not None
        assert stream.result.outcome is Outcome.FINISHED
        assert len(followed) == len(set(followed))
        assert_same_events_in_stream_order(followed, list(api.iter_events(conversation.id)))
    assert _hits(server, "ws_drop") == 2
    assert len(opened) == 3
    assert all("resend_mode=all" in url for url in opened)  # the whole log at each connect


async def test_async_stream_has_no_gap_and_no_duplicate_across_forced_drops(
    fake_openhands_factory: Factory, opened: list[str]
) -> None:
    server = _server(fake_openhands_factory)
    async with AsyncOpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = await api.create_conversation(LONG)
        server.state.faults.add(FaultRule("ws_drop", path=SOCKETS, frames=3, times=2))
        stream = api.stream_events(conversation.id)
        followed = [event.id async for event in stream]
        assert stream.result is not None
        assert stream.result.outcome is Outcome.FINISHED
        assert len(followed) == len(set(followed))
        assert_same_events_in_stream_order(
            followed, [event async for event in api.iter_events(conversation.id)]
        )
    assert _hits(server, "ws_drop") == 2
    assert len(opened) == 3


def test_the_stream_reads_few_events_over_rest(fake_openhands_factory: Factory, opened: list[str]) -> None:
    server = _server(fake_openhands_factory)
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation(LONG)
        before = len(server.state.requests)
        followed = list(api.stream_events(conversation.id))
        polled_reads = [r for r in _requests(server, before) if "/events/search" in r and "kind__eq" not in r]
    assert len(followed) > 10
    assert len(opened) == 1
    # the history (one page), and the events that ended the turn (kind reads for the answer aside)
    assert len(polled_reads) <= 2


def test_a_refused_upgrade_means_polling_said_once_at_debug_level(
    fake_openhands_factory: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    server = _server(fake_openhands_factory)
    server.state.faults.add(FaultRule("ws_refuse", path=SOCKETS, status=403, times=None))
    with (
        caplog.at_level(logging.DEBUG, logger="openhands_api"),
        OpenHandsAPI(
            base_url=server.base_url,
            **POLL,  # type: ignore[arg-type]
        ) as api,
    ):
        conversation = api.create_conversation(STEPS)
        stream = api.stream_events(conversation.id)
        followed = [event.id for event in stream]
        assert stream.result is not None
        assert stream.result.outcome is Outcome.FINISHED
        assert followed == _log_ids(api, conversation.id)
    notes = [r.getMessage() for r in caplog.records if r.name == "openhands_api.stream"]
    assert len(notes) == 1
    assert "by polling" in notes[0]
    assert "HTTP 403" in notes[0]
    assert _hits(server, "ws_refuse") >= 1


async def test_a_refused_upgrade_means_an_async_wait_polls(fake_openhands_factory: Factory) -> None:
    server = _server(fake_openhands_factory)
    server.state.faults.add(FaultRule("ws_refuse", path=SOCKETS, status=502, times=None))
    async with AsyncOpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = await api.create_conversation(STEPS)
        result = await api.wait(conversation.id)
    assert result.outcome is Outcome.FINISHED
    assert result.final_message


# ---------------------------------------------------------------------------- close codes


def _conversation_json(api: OpenHandsAPI, conversation_id: str) -> dict[str, Any]:
    answer = api.request("GET", "/api/v1/app-conversations", params={"ids": conversation_id})
    body = json.loads(answer.content)
    assert isinstance(body, list)
    return dict(body[0])


def _answer_conversations_with(server: FakeOpenHandsServer, conversation: dict[str, Any]) -> None:
    server.state.faults.add(
        FaultRule(
            "wrong_shape", path="/api/v1/app-conversations", method="GET", body=[conversation], times=None
        )
    )


def test_a_refused_session_key_is_an_authentication_error_without_the_key(
    fake_openhands_factory: Factory, caplog: pytest.LogCaptureFixture, opened: list[str]
) -> None:
    server = _server(fake_openhands_factory)
    wrong = "wrong-session-key-4001"
    with caplog.at_level(logging.DEBUG), OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation(LONG)
        _answer_conversations_with(
            server, {**_conversation_json(api, conversation.id), "session_api_key": wrong}
        )
        with pytest.raises(AuthenticationError) as caught:
            api.wait(conversation.id, timeout=30)
    assert "4001" in str(caught.value)
    assert wrong not in str(caught.value)
    assert wrong not in repr(vars(caught.value))
    assert all(wrong not in url for url in opened)
    assert all(wrong not in record.getMessage() for record in caplog.records)


async def test_an_unknown_conversation_on_the_agent_server_is_not_found(
    fake_openhands_factory: Factory,
) -> None:
    server = _server(fake_openhands_factory)
    with OpenHandsAPI(base_url=server.base_url, **POLL) as sync_api:  # type: ignore[arg-type]
        conversation = sync_api.create_conversation(LONG)
        record = _conversation_json(sync_api, conversation.id)
    # Another conversation id on the same agent server (whose path holds the sandbox id).
    elsewhere = str(record["conversation_url"]).rpartition("/")[0] + "/" + "0" * 32
    _answer_conversations_with(server, {**record, "conversation_url": elsewhere})
    async with AsyncOpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        stream = api.stream_events(conversation.id, timeout=30)
        with pytest.raises(NotFoundError) as caught:
            _ = [event async for event in stream]
    assert "4004" in str(caught.value)


# ---------------------------------------------------------------------------- keys


def test_the_session_key_is_in_no_url_and_no_log_record(
    fake_openhands_factory: Factory, caplog: pytest.LogCaptureFixture, opened: list[str]
) -> None:
    server = _server(fake_openhands_factory)
    with caplog.at_level(logging.DEBUG), OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation(STEPS)
        key = str(_conversation_json(api, conversation.id)["session_api_key"])
        server.state.faults.add(FaultRule("ws_drop", path=SOCKETS, frames=2, times=1))
        list(api.stream_events(conversation.id))
        api.wait(conversation.id)
    assert len(key) >= 8
    assert opened
    assert all(key not in url for url in opened)
    # the request log has every HTTP request and the WebSocket handshakes, query included
    assert any("/sockets/events/" in request.path for request in server.state.requests)
    assert all(key not in request.path for request in server.state.requests)
    assert all(key not in record.getMessage() for record in caplog.records)


# ---------------------------------------------------------------------------- waiting


def _wait_requests(factory: Factory, *, stream: bool) -> tuple[Outcome, int]:
    """A wait on a run of a few seconds, polling every 0.05–0.2 s unless it streams: its
    outcome and how many requests it made."""
    server = _server(factory)
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation("Longer. [fake-llm steps=6 delay=3]")
        before = len(server.state.requests)
        result = api.wait(conversation.id, stream=stream)
        return result.outcome, len(server.state.requests) - before


def test_a_wait_over_the_stream_makes_almost_no_requests_while_the_agent_works(
    fake_openhands_factory: Factory,
) -> None:
    outcome, streamed = _wait_requests(fake_openhands_factory, stream=True)
    polled_outcome, polled = _wait_requests(fake_openhands_factory, stream=False)
    assert outcome is polled_outcome is Outcome.FINISHED
    # the looks before and after the socket opened, the one the final status called for,
    # the answer's reads and the handshake: a handful, where polling made one every poll
    assert streamed <= 8
    assert polled >= 2 * streamed


@pytest.mark.timeout(60)
def test_a_wait_over_the_stream_ends_with_the_run_not_with_a_long_poll_interval(
    fake_openhands_factory: Factory,
) -> None:
    server = _server(fake_openhands_factory)
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation(STEPS)
        before = len(server.state.requests)
        # Polling every two minutes would outlast the test's timeout: the socket ends it.
        result = api.wait(conversation.id, poll_interval=120.0, max_poll_interval=120.0)
        made = _requests(server, before)
    assert result.outcome is Outcome.FINISHED
    assert result.final_message
    assert len(made) <= 8


async def test_an_async_send_and_wait_over_the_stream_answers_the_follow_up(
    fake_openhands_factory: Factory, opened: list[str]
) -> None:
    server = _server(fake_openhands_factory)
    async with AsyncOpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = await api.create_conversation("First. [fake-llm steps=1]")
        await api.wait(conversation.id)
        before = len(server.state.requests)
        result = await api.send_and_wait(conversation.id, "Again. [fake-llm steps=4 delay=4]")
        made = len(server.state.requests) - before
    assert result.outcome is Outcome.FINISHED
    assert result.final_message
    assert opened
    # the send (with its checks) and a few looks, not one every 0.05–0.2 s of a 3 s run
    assert made <= 16


def test_stream_false_on_the_client_never_opens_a_socket(
    fake_openhands_factory: Factory, opened: list[str]
) -> None:
    server = _server(fake_openhands_factory)
    with OpenHandsAPI(base_url=server.base_url, stream=False, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation(STEPS)
        assert api.wait(conversation.id).outcome is Outcome.FINISHED
        assert list(api.stream_events(conversation.id))
    assert opened == []


def test_a_wait_sees_each_pushed_event_in_its_progress(fake_openhands_factory: Factory) -> None:
    server = _server(fake_openhands_factory)
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation(STEPS)
        seen: list[str] = []
        api.wait(
            conversation.id,
            on_progress=lambda s: seen.append(s.latest_event.kind) if s.latest_event else None,
        )
    assert "ActionEvent" in seen


def test_a_stalled_stream_still_delivers_every_event(fake_openhands_factory: Factory) -> None:
    server = _server(fake_openhands_factory)
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation(STEPS)
        # accepted and authenticated, then nothing for a while (a buffering proxy, a busy host)
        server.state.faults.add(FaultRule("ws_stall", path=SOCKETS, delay=1.0, times=1))
        stream = api.stream_events(conversation.id)
        followed = [event.id for event in stream]
        assert stream.result is not None
        assert stream.result.outcome is Outcome.FINISHED
        assert_same_events_in_stream_order(followed, list(api.iter_events(conversation.id)))
    assert _hits(server, "ws_stall") == 1


def test_without_the_websocket_library_everything_polls(
    fake_openhands_factory: Factory, opened: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from openhands_api import _base_client

    monkeypatch.setattr(_base_client, "websockets_installed", lambda: False)
    server = _server(fake_openhands_factory)
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation(STEPS)
        followed = [event.id for event in api.stream_events(conversation.id)]
        assert api.wait(conversation.id).outcome is Outcome.FINISHED
        assert followed == _log_ids(api, conversation.id)
    assert opened == []
    assert not any("/sockets/" in request.path for request in server.state.requests)
