"""Live V1 events over the real openhands-ai 1.11.0 agent server's WebSocket.

The library's stream (``stream_events``, ``wait``, ``events --follow``) against the real
agent server of the harness's process sandboxes (on loopback), proven to have gone over the
socket: the URLs the client opened and the frames it received are recorded (the same seam
as ``tests/e2e/test_live_stream.py``), and the ``openhands_api.stream`` logger, which says
once whenever a stream falls back to polling, must stay silent. Then the frames themselves,
raw, on the real agent server and on the fake's, compared as structures (the greeting, each
event's kind and keys, ``resend_mode``, the close codes). V0 (1.6.0) has no event socket the
library uses: its streams poll, so there is nothing of it here.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from openhands_api import (
    AsyncOpenHandsAPI,
    AuthenticationError,
    Event,
    NotFoundError,
    OpenHandsAPI,
    Outcome,
)
from openhands_api._pairs import async_socket_open, async_socket_receive, socket_open, socket_receive
from openhands_api.protocol.live import auth_frame, socket_address
from openhands_api.testing import FakeOpenHandsServer
from tests.live_order import assert_same_events_in_stream_order

from .clients import library_client
from .realserver.harness import RealServer

WAIT = 180.0
UNKNOWN = "0123456789abcdef0123456789abcdef"
# Long enough that the turn is still going when the stream (or wait) starts, so that what
# follows can only have come over the socket.
STEPS = "Stream me. [fake-llm steps=3 delay=2]"
FINISH_TEXT = "Task complete (fake LLM)."
APP_CONVERSATIONS = "/api/v1/app-conversations"


# ---------------------------------------------------------------------------- recording


class SocketLog:
    """What the clients did on WebSockets: the URLs opened and the frames received."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.frames: list[dict[str, Any]] = []

    def received(self, frame: str | None) -> None:
        if frame is not None:
            self.frames.append(json.loads(frame))

    def frame_ids(self) -> set[str]:
        return {str(frame.get("id")) for frame in self.frames}


@pytest.fixture
def sockets(monkeypatch: pytest.MonkeyPatch) -> SocketLog:
    log = SocketLog()

    def record_open(url: str, *args: Any) -> Any:
        log.opened.append(url)
        return socket_open(url, *args)

    async def record_async_open(url: str, *args: Any) -> Any:
        log.opened.append(url)
        return await async_socket_open(url, *args)

    def record_receive(socket: Any, timeout: float) -> str | None:
        frame = socket_receive(socket, timeout)
        log.received(frame)
        return frame

    async def record_async_receive(socket: Any, timeout: float) -> str | None:
        frame = await async_socket_receive(socket, timeout)
        log.received(frame)
        return frame

    # The clients call these by their names in their own modules.
    monkeypatch.setattr("openhands_api.client.socket_open", record_open)
    monkeypatch.setattr("openhands_api.aio.async_socket_open", record_async_open)
    monkeypatch.setattr("openhands_api.client.socket_receive", record_receive)
    monkeypatch.setattr("openhands_api.aio.async_socket_receive", record_async_receive)
    return log


def fallbacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the stream logger said: it speaks only to say it follows by polling instead."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "openhands_api.stream" and "polling" in r.getMessage()
    ]


@pytest.fixture(scope="module")
def api(real_v1: RealServer) -> Iterator[OpenHandsAPI]:
    with library_client(real_v1) as client:
        yield client


def app_server_events(api: OpenHandsAPI, conversation_id: str, at_least: int) -> list[Event]:
    """The conversation's events as the app server keeps them, once its copy (delivered by
    webhook, a second after the agent server's) has at least ``at_least`` and is stable."""
    deadline = time.monotonic() + 60
    previous: list[str] | None = None
    while True:
        events = list(api.iter_events(conversation_id))
        ids = [event.id for event in events]
        if (len(ids) >= at_least and ids == previous) or time.monotonic() > deadline:
            return events
        previous = ids
        time.sleep(2.0)


def assert_came_over_the_socket(followed: list[Any], sockets: SocketLog, base_url: str) -> None:
    assert sockets.opened, "no WebSocket was opened"
    assert all("/sockets/events/" in url and "session_api_key" not in url for url in sockets.opened)
    # The agent's final action happened seconds after the stream started: it can only have
    # been emitted from a frame (with polling, no frame is ever received).
    finishes = [e for e in followed if e.kind == "ActionEvent" and e.raw.get("tool_name") == "finish"]
    assert finishes, [e.kind for e in followed]
    assert finishes[-1].id in sockets.frame_ids()


# ---------------------------------------------------------------------------- stream_events


def test_sync_stream_events_yields_every_event_once_over_the_socket(
    api: OpenHandsAPI, sockets: SocketLog, caplog: pytest.LogCaptureFixture
) -> None:
    conversation = api.create_conversation(STEPS)
    try:
        with caplog.at_level(logging.DEBUG, logger="openhands_api.stream"):
            stream = api.stream_events(conversation.id, timeout=WAIT)
            followed = list(stream)
        assert stream.result is not None
        assert stream.result.outcome is Outcome.FINISHED
        assert not fallbacks(caplog)
        assert_came_over_the_socket(followed, sockets, api.base_url)
        ids = [event.id for event in followed]
        assert_same_events_in_stream_order(ids, app_server_events(api, conversation.id, len(ids)))
    finally:
        api.delete_conversation(conversation.id)


async def test_async_stream_events_yields_every_event_once_over_the_socket(
    real_v1: RealServer, api: OpenHandsAPI, sockets: SocketLog, caplog: pytest.LogCaptureFixture
) -> None:
    async with AsyncOpenHandsAPI(
        base_url=real_v1.base_url,
        session_api_key=real_v1.session_api_key,
        poll_interval=0.5,
        max_poll_interval=2.0,
        http_client=real_v1.async_client(),
    ) as async_api:
        conversation = await async_api.create_conversation(STEPS)
        try:
            with caplog.at_level(logging.DEBUG, logger="openhands_api.stream"):
                stream = async_api.stream_events(conversation.id, timeout=WAIT)
                followed = [event async for event in stream]
            assert stream.result is not None
            assert stream.result.outcome is Outcome.FINISHED
            assert not fallbacks(caplog)
            assert_came_over_the_socket(followed, sockets, real_v1.base_url)
            ids = [event.id for event in followed]
            assert_same_events_in_stream_order(ids, app_server_events(api, conversation.id, len(ids)))
        finally:
            await async_api.delete_conversation(conversation.id)


# ---------------------------------------------------------------------------- wait


@pytest.mark.parametrize(
    ("prompt", "outcome", "final"),
    [
        (STEPS, Outcome.FINISHED, FINISH_TEXT),
        # V1 has no waiting state: the agent's question ends the turn as "finished" on the
        # server, and the library calls it waiting_for_user (test_library_v1.py).
        ("Ask me. [fake-llm steps=2 delay=2 ask]", Outcome.WAITING_FOR_USER, None),
    ],
    ids=["finished", "ask"],
)
def test_wait_over_the_socket_returns_the_outcome(
    api: OpenHandsAPI,
    sockets: SocketLog,
    caplog: pytest.LogCaptureFixture,
    prompt: str,
    outcome: Outcome,
    final: str | None,
) -> None:
    conversation = api.create_conversation(prompt)
    try:
        with caplog.at_level(logging.DEBUG, logger="openhands_api.stream"):
            result = api.wait(conversation.id, timeout=WAIT)
        assert result.outcome is outcome
        assert result.final_message == final if final is not None else result.final_message
        assert not fallbacks(caplog)
        assert sockets.opened
        assert sockets.frames, "the wait received no frame"
    finally:
        api.delete_conversation(conversation.id)


# ---------------------------------------------------------------------------- the CLI


def test_cli_events_follow_prints_every_event_once(real_v1: RealServer, api: OpenHandsAPI) -> None:
    conversation = api.create_conversation(STEPS)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
        env.update(
            OPENHANDS_BASE_URL=real_v1.base_url, OPENHANDS_SESSION_API_KEY=real_v1.session_api_key or ""
        )
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "openhands_api",
                "events",
                conversation.id,
                "--follow",
                "--json",
                "--debug",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=WAIT + 30,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        # --debug logs every decision: a fall back to polling would say so.
        assert "by polling" not in done.stderr
        assert (real_v1.session_api_key or "?") not in done.stderr + done.stdout
        printed = [json.loads(line)["id"] for line in done.stdout.splitlines() if line.strip()]
        assert_same_events_in_stream_order(printed, app_server_events(api, conversation.id, len(printed)))
    finally:
        api.delete_conversation(conversation.id)


# ---------------------------------------------------------------------------- close codes


class _Body(httpx.SyncByteStream):
    def __init__(self, content: bytes) -> None:
        self.content = content

    def __iter__(self) -> Iterator[bytes]:
        yield self.content


class RewritingTransport(httpx.BaseTransport):
    """Hands the library conversation records changed by ``rewrite`` (as if the app server
    said so), to point its socket at a wrong key or an unknown conversation."""

    def __init__(self, rewrite: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.inner = httpx.HTTPTransport()
        self.rewrite = rewrite

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method != "GET" or request.url.path != APP_CONVERSATIONS:
            return response
        response.read()
        response.close()
        body = json.loads(response.content)
        if isinstance(body, list):
            body = [self.rewrite(item) if isinstance(item, dict) else item for item in body]
        # A stream the client can read as it reads the network's (a plain body counts as read).
        return httpx.Response(
            response.status_code,
            headers={"content-type": "application/json"},
            stream=_Body(json.dumps(body).encode()),
            request=request,
        )

    def close(self) -> None:
        self.inner.close()


def _wrong_key(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "session_api_key": "wrong-stream-key"} if record.get("session_api_key") else record


def _unknown_conversation(record: dict[str, Any]) -> dict[str, Any]:
    url = record.get("conversation_url")
    return {**record, "conversation_url": f"{url.rpartition('/')[0]}/{UNKNOWN}"} if url else record


@pytest.mark.parametrize(
    ("rewrite", "error", "code"),
    [(_wrong_key, AuthenticationError, "4001"), (_unknown_conversation, NotFoundError, "4004")],
    ids=["wrong-key-4001", "unknown-conversation-4004"],
)
def test_close_codes_of_the_real_agent_server_are_typed_errors(
    real_v1: RealServer,
    api: OpenHandsAPI,
    sockets: SocketLog,
    rewrite: Callable[[dict[str, Any]], dict[str, Any]],
    error: type[Exception],
    code: str,
) -> None:
    conversation = api.create_conversation(STEPS)
    try:
        with (
            OpenHandsAPI(
                base_url=real_v1.base_url,
                session_api_key=real_v1.session_api_key,
                poll_interval=0.5,
                max_poll_interval=2.0,
                http_client=real_v1.client(transport=RewritingTransport(rewrite)),
            ) as rewritten,
            pytest.raises(error) as caught,
        ):
            rewritten.wait(conversation.id, timeout=WAIT)
        assert code in str(caught.value)
        assert "wrong-stream-key" not in str(caught.value)
        assert sockets.opened
    finally:
        api.wait(conversation.id, timeout=WAIT)
        api.delete_conversation(conversation.id)


# ---------------------------------------------------------------------------- frame parity

ONE_STEP = "Parity of frames. [fake-llm steps=1]"


def raw_frames(
    url: str, first: str, *, quiet: float = 3.0
) -> tuple[list[dict[str, Any]], tuple[int, str] | None]:
    """The frames the socket at ``url`` sends after ``first`` until ``quiet`` seconds of
    silence, and its close (code, reason) if it closed."""
    got: list[dict[str, Any]] = []
    with connect(url, proxy=None, open_timeout=30, max_size=None) as socket:
        socket.send(first)
        try:
            while True:
                got.append(json.loads(socket.recv(timeout=quiet)))
        except TimeoutError:
            return got, None
        except ConnectionClosed as closed:
            received = closed.rcvd
            return got, (received.code, received.reason) if received is not None else (1006, "")


def frame_shape(frame: dict[str, Any]) -> tuple[Any, ...]:
    """What a client depends on in a frame: its kind, source, keys (and a state update's key
    and, for the full state, its keys)."""
    value = frame.get("value")
    state_keys = (
        tuple(sorted(value)) if frame.get("key") == "full_state" and isinstance(value, dict) else None
    )
    return (frame.get("kind"), frame.get("source"), tuple(sorted(frame)), frame.get("key"), state_keys)


def frames_scenario(api: OpenHandsAPI) -> dict[str, Any]:
    """One finished one-step conversation's socket, every way it can be opened."""
    conversation = api.create_conversation(ONE_STEP)
    try:
        assert api.wait(conversation.id, timeout=WAIT, stream=False).outcome is Outcome.FINISHED
        record = api.v1.get_conversations([conversation.id])[0]
        assert record is not None
        assert record.session_api_key is not None
        address = socket_address(record.conversation_url, api.base_url)
        assert address is not None
        key = auth_frame(record.session_api_key.get_secret_value())
        everything, closed_all = raw_frames(f"{address}?resend_mode=all", key)
        events = everything[1:]
        middle = events[len(events) // 2]
        since, _ = raw_frames(f"{address}?resend_mode=since&after_timestamp={middle['timestamp']}", key)
        live_only, _ = raw_frames(address, key, quiet=2.0)
        _, bad_key = raw_frames(address, auth_frame("wrong-frame-key"))
        unknown = f"{address.rpartition('/')[0]}/{UNKNOWN}"
        _, not_found = raw_frames(unknown, key)
        return {
            "greeting": frame_shape(everything[0]),
            "all": [frame_shape(frame) for frame in events],
            "all closed": closed_all,
            "greeting is not an event": everything[0]["id"] not in {e["id"] for e in events},
            "since": [frame_shape(frame) for frame in since[1:]],
            # Events stamped at or after the bound, in the log's order (not quite timestamp order).
            "since resends": [frame["id"] for frame in since[1:]]
            == [e["id"] for e in events if e["timestamp"] >= middle["timestamp"]],
            "live only": [frame_shape(frame) for frame in live_only],
            "bad key": bad_key,
            "unknown conversation": not_found,
        }
    finally:
        api.delete_conversation(conversation.id)


def test_the_fakes_frames_match_the_real_agent_servers(api: OpenHandsAPI) -> None:
    real = frames_scenario(api)
    with (
        FakeOpenHandsServer(generations="v1", rate_limit=False, speed=5.0) as server,
        OpenHandsAPI(base_url=server.base_url, poll_interval=0.2) as fake_api,
    ):
        fake = frames_scenario(fake_api)
    problems = [
        f"{name}:\n  fake {fake[name]!r}\n  real {real[name]!r}" for name in real if fake[name] != real[name]
    ]
    assert not problems, "the fake's frames differ from the real agent server's:\n" + "\n".join(problems)
