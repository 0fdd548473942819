"""The V1 agent-server tier: each sandbox's agent server on the fake's own origin.

REST tests run in-process with a manual clock; WebSocket tests need a served fake (uvicorn)
and use the ``websockets`` sync client, as a library user would.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from openhands_api.testing import FakeOpenHandsServer, FaultRule, ManualClock

from .conftest import MakeClient
from .v1_helpers import RUN_TIME, V1, conversation, events, kinds, message, ready, run, send

MESSAGE_KIND = "openhands.sdk.event.llm_convertible.message.MessageEvent"
STATE_KIND = "openhands.sdk.event.conversation_state.ConversationStateUpdateEvent"


@pytest.fixture
def v1(make_client: MakeClient) -> httpx.AsyncClient:
    return make_client(**V1)[0]


def key_of(data: dict[str, Any]) -> dict[str, str]:
    return {"X-Session-API-Key": data["session_api_key"]}


async def agent_get(
    client: httpx.AsyncClient, live: dict[str, Any], suffix: str = "", **params: Any
) -> httpx.Response:
    return await client.get(live["conversation_url"] + suffix, headers=key_of(live), params=params)


# ============================================================================ URLs
async def test_the_urls_handed_out_point_at_the_fake_and_hold_no_key(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await ready(v1, clock)
    live = await conversation(v1, conversation_id)
    sandbox_id = live["sandbox_id"]
    agent_url = f"http://fake/_agent/{sandbox_id}"
    assert live["conversation_url"] == f"{agent_url}/api/conversations/{conversation_id}"
    sandbox = (await v1.get("/api/v1/sandboxes", params={"id": sandbox_id})).json()[0]
    assert sandbox["exposed_urls"] == [{"name": "AGENT_SERVER", "url": agent_url, "port": 80}]
    assert sandbox["session_api_key"] == live["session_api_key"]
    task = (await v1.get("/api/v1/app-conversations/start-tasks/search")).json()["items"][0]
    assert task["agent_server_url"] == agent_url
    for url in (live["conversation_url"], agent_url):
        assert live["session_api_key"] not in url


def test_a_served_fake_hands_out_its_own_loopback_origin() -> None:
    with FakeOpenHandsServer(generations="v1", rate_limit=False, speed=20) as server:
        conversation_id, live = served_conversation(server)
        assert live["conversation_url"] == (
            f"{server.base_url}/_agent/{live['sandbox_id']}/api/conversations/{conversation_id}"
        )
        answer = httpx.get(live["conversation_url"], headers=key_of(live))
        assert answer.status_code == 200, answer.text


# ============================================================================ REST
async def test_conversation_needs_the_sandbox_key(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    first = await conversation(v1, await run(v1, clock))
    second = await conversation(v1, await run(v1, clock))
    url = first["conversation_url"]
    for headers in ({}, {"X-Session-API-Key": "wrong"}, key_of(second)):
        refused = await v1.get(url, headers=headers)
        assert (refused.status_code, refused.json()) == (401, {"detail": "Unauthorized"})
    answer = await v1.get(url, headers=key_of(first))
    assert answer.status_code == 200
    info = answer.json()
    assert info["id"] == str(uuid.UUID(first["id"]))
    assert (info["execution_status"], info["max_iterations"], info["stuck_detection"]) == (
        "finished",
        500,
        True,
    )
    assert list(info)[:6] == [
        "id",
        "workspace",
        "persistence_dir",
        "max_iterations",
        "stuck_detection",
        "execution_status",
    ]
    assert info["agent"]["kind"] == "Agent"
    assert list(info)[-2:] == ["agent", "client_tools"]


async def test_key_check_is_a_route_dependency_unknown_paths_stay_404(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    live = await conversation(v1, await ready(v1, clock))
    assert (await v1.get(f"http://fake/_agent/{live['sandbox_id']}/nowhere")).status_code == 404


async def test_unknown_conversation_answers_the_real_404s(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    live = await conversation(v1, await ready(v1, clock))
    other = await conversation(v1, await ready(v1, clock))
    base = f"http://fake/_agent/{live['sandbox_id']}/api/conversations"
    for unknown in ("0" * 32, other["id"]):  # a conversation of another sandbox is not here
        dashed = str(uuid.UUID(unknown))
        got = await v1.get(f"{base}/{unknown}", headers=key_of(live))
        assert (got.status_code, got.json()) == (404, {"detail": "Not Found"})
        got = await v1.get(f"{base}/{unknown}/events/search", headers=key_of(live))
        assert (got.status_code, got.json()) == (404, {"detail": f"Conversation not found: {dashed}"})
        got = await v1.get(f"{base}/{unknown}/agent_final_response", headers=key_of(live))
        assert (got.status_code, got.json()) == (404, {"detail": "Not Found"})
    assert (await v1.get(f"{base}/not-a-uuid", headers=key_of(live))).status_code == 422


async def test_events_are_the_live_log_without_the_webhook_lag(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, _ = make_client(**V1, webhook_flush_delay=30.0, webhook_batch_size=100)
    conversation_id = await run(client, clock)
    live = await conversation(client, conversation_id)
    assert await events(client, conversation_id) == []  # the app server has not been posted yet
    page = (await agent_get(client, live, "/events/search")).json()
    assert page["next_page_id"] is None
    # The whole-state updates (at the start, after the run) are published, not kept: the
    # agent server's log starts with the system prompt (observed on 1.11.0).
    assert kinds(page["items"])[:2] == ["SystemPromptEvent", "MessageEvent"]
    assert "ConversationStateUpdateEvent(full_state)" not in kinds(page["items"])
    assert (await agent_get(client, live, "/events/count")).json() == len(page["items"])
    clock.advance(31)
    copies = await events(client, conversation_id)
    kept = {e["id"] for e in page["items"]}
    # The app server has every published event, in timestamp order (the log is not: a step's
    # stats update is kept after the step but stamped before its action).
    assert (
        kinds([e for e in copies if e["id"] not in kept]) == ["ConversationStateUpdateEvent(full_state)"] * 2
    )
    assert sorted(page["items"], key=lambda e: str(e["timestamp"])) == sorted(
        page["items"], key=lambda e: [c["id"] for c in copies].index(e["id"])
    )
    by_id = {copy["id"]: copy for copy in copies}
    # The transport form: no parent_id, no nulls; otherwise the same event.
    for copy, item in ((by_id[item["id"]], item) for item in page["items"]):
        assert "parent_id" not in item
        assert None not in item.values()
        assert (item["timestamp"], item["kind"]) == (copy["timestamp"], copy["kind"])


async def test_event_filters_and_paging(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    live = await conversation(v1, await run(v1, clock, "Go [fake-llm steps=2]"))
    everything = (await agent_get(v1, live, "/events/search")).json()["items"]
    messages = (await agent_get(v1, live, "/events/search", kind=MESSAGE_KIND)).json()["items"]
    assert kinds(messages) == ["MessageEvent"]
    # The real filter compares the class's full path: the short name matches nothing.
    assert (await agent_get(v1, live, "/events/search", kind="MessageEvent")).json()["items"] == []
    assert (await agent_get(v1, live, "/events/count", kind=STATE_KIND)).json() == sum(
        1 for e in everything if e["kind"] == "ConversationStateUpdateEvent"
    )
    agent_events = (await agent_get(v1, live, "/events/search", source="agent")).json()["items"]
    assert agent_events
    assert {e["source"] for e in agent_events} == {"agent"}
    found = (await agent_get(v1, live, "/events/search", body="FAKE-LLM steps")).json()["items"]
    assert [e["id"] for e in found] == [messages[0]["id"]]
    newest_first = (await agent_get(v1, live, "/events/search", sort_order="TIMESTAMP_DESC")).json()["items"]
    assert [e["id"] for e in newest_first] == [e["id"] for e in reversed(everything)]
    # page_id is the id of the next page's first event.
    first = (await agent_get(v1, live, "/events/search", limit=3)).json()
    assert [e["id"] for e in first["items"]] == [e["id"] for e in everything[:3]]
    assert first["next_page_id"] == everything[3]["id"]
    second = (await agent_get(v1, live, "/events/search", limit=3, page_id=first["next_page_id"])).json()
    assert [e["id"] for e in second["items"]] == [e["id"] for e in everything[3:6]]
    middle = everything[4]["timestamp"]
    later = (await agent_get(v1, live, "/events/search", timestamp__gte=middle)).json()["items"]
    assert [e["id"] for e in later] == [e["id"] for e in everything[4:]]
    earlier = (await agent_get(v1, live, "/events/count", timestamp__lt=middle)).json()
    assert earlier == 4
    one = await agent_get(v1, live, f"/events/{everything[1]['id']}")
    assert one.json() == everything[1]
    assert (await agent_get(v1, live, "/events/search", limit=0)).status_code == 422
    too_many = await agent_get(v1, live, "/events/search", limit=101)  # the real route's assert
    assert (too_many.status_code, too_many.text) == (500, "Internal Server Error")


async def test_agent_final_response(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    live = await conversation(v1, await ready(v1, clock, "Slowly [fake-llm delay=5]"))
    assert (await agent_get(v1, live, "/agent_final_response")).json() == {"response": ""}
    clock.advance(10)
    assert (await agent_get(v1, live, "/agent_final_response")).json() == {
        "response": "Task complete (fake LLM)."
    }
    asked = await conversation(v1, await run(v1, clock, "What now? [fake-llm ask]"))
    answer = (await agent_get(v1, asked, "/agent_final_response")).json()
    assert answer == {"response": "Which file should I look at next? (fake LLM asks)"}


async def test_post_events_sends_a_message_at_once(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    live = await conversation(v1, conversation_id)
    url = live["conversation_url"] + "/events"
    queued = await v1.post(
        url, headers=key_of(live), json=message("Only queue this.")
    )  # run defaults to false
    assert (queued.status_code, queued.json()) == (200, {"success": True})
    assert (await conversation(v1, conversation_id))["execution_status"] == "idle"
    assert kinds(
        (await agent_get(v1, live, "/events/search", sort_order="TIMESTAMP_DESC", limit=2)).json()["items"]
    ) == [
        "ConversationStateUpdateEvent(last_user_message_id)",
        "MessageEvent",
    ]
    ran = await v1.post(url, headers=key_of(live), json=message("Now run.", run=True))
    assert ran.json() == {"success": True}
    clock.advance(RUN_TIME)
    assert (await conversation(v1, conversation_id))["execution_status"] == "finished"
    refused = await v1.post(url, json=message("no key"))
    assert refused.status_code == 401


async def test_paused_or_deleted_sandbox_has_no_agent_server(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock)
    live = await conversation(v1, conversation_id)
    sandbox_id = live["sandbox_id"]
    assert (await v1.post(f"/api/v1/sandboxes/{sandbox_id}/pause")).status_code == 200
    gone = await agent_get(v1, live)
    assert (gone.status_code, gone.headers["x-fake-agent-server"]) == (503, "unreachable")
    assert gone.headers["content-type"].startswith("text/html")
    assert (await v1.post(f"/api/v1/sandboxes/{sandbox_id}/resume")).status_code == 200
    assert (await agent_get(v1, live)).status_code == 200
    await v1.delete(f"/api/v1/sandboxes/{sandbox_id}", params={"sandbox_id": sandbox_id})
    assert (await agent_get(v1, live)).status_code == 503


async def test_app_server_auth_does_not_guard_the_agent_server(
    make_client: MakeClient, clock: ManualClock
) -> None:
    for knobs in ({"session_api_key": "app-key"}, {"api_key": "cloud-key", "flavor": "cloud"}):
        auth = (
            {"X-Session-API-Key": "app-key"}
            if "session_api_key" in knobs
            else {"Authorization": "Bearer cloud-key"}
        )
        client, _ = make_client(**V1, **knobs)
        client.headers.update(auth)
        live = await conversation(client, await run(client, clock))
        bare = httpx.AsyncClient(transport=client._transport, base_url="http://fake")
        async with bare:
            assert (await bare.get(live["conversation_url"], headers=key_of(live))).status_code == 200
            assert (
                await bare.get(live["conversation_url"], headers={"X-Session-API-Key": "app-key"})
            ).status_code == 401


async def test_keys_never_reach_the_request_log(make_client: MakeClient, clock: ManualClock) -> None:
    client, app = make_client(**V1)
    live = await conversation(client, await run(client, clock))
    await agent_get(client, live, "/events/search")
    await agent_get(client, live, "/events/count")
    paths = [r.path for r in app.fake_state.requests]
    assert any(p.startswith("/_agent/") for p in paths)
    assert not any(live["session_api_key"] in p for p in paths)


# ============================================================================ sandbox specs
@pytest.mark.parametrize(
    "knobs", [{"generations": "v1"}, {"generations": "both"}, {"generations": "v1", "flavor": "cloud"}]
)
async def test_sandbox_specs_are_json_under_every_flavor(
    make_client: MakeClient, knobs: dict[str, Any]
) -> None:
    client, _ = make_client(**knobs)
    page = await client.get("/api/v1/sandbox-specs/search")
    assert (page.status_code, page.headers["content-type"]) == (200, "application/json")
    body = page.json()
    assert body["next_page_id"] is None
    [spec] = body["items"]
    assert list(spec) == ["id", "command", "created_at", "initial_env", "working_dir"]
    assert spec["id"] == "ghcr.io/openhands/agent-server:1.34.0-python"
    assert spec["command"] == ["python", "-m", "openhands.agent_server"]
    assert (spec["working_dir"], spec["created_at"][-1]) == (".", "Z")
    batch = await client.get("/api/v1/sandbox-specs", params={"id": [spec["id"], "nope"]})
    assert batch.json() == [spec, None]
    too_many = await client.get("/api/v1/sandbox-specs", params={"id": ["x"] * 101})
    assert (too_many.status_code, too_many.json()) == (
        400,
        {"detail": "Cannot request more than 100 sandbox specs at once, got 101"},
    )
    assert (await client.get("/api/v1/sandbox-specs/search", params={"limit": 0})).status_code == 422
    past = (await client.get("/api/v1/sandbox-specs/search", params={"page_id": "1"})).json()
    assert past == {"items": [], "next_page_id": None}


# ============================================================================ WebSocket
def served_conversation(
    server: FakeOpenHandsServer, text: str = "Say hello and finish.", *, finished: bool = True
) -> tuple[str, dict[str, Any]]:
    """A READY (optionally finished) conversation on a served fake, and its AppConversation."""
    with httpx.Client(base_url=server.base_url) as client:
        task = client.post("/api/v1/app-conversations", json={"initial_message": message(text)}).json()
        deadline = time.monotonic() + 10
        while task["status"] != "READY":
            assert time.monotonic() < deadline, task
            time.sleep(0.02)
            task = client.get("/api/v1/app-conversations/start-tasks", params={"ids": task["id"]}).json()[0]
        conversation_id = task["app_conversation_id"]
        while True:
            live = client.get("/api/v1/app-conversations", params={"ids": conversation_id}).json()[0]
            if not finished or live["execution_status"] == "finished":
                return conversation_id, live
            assert time.monotonic() < deadline, live
            time.sleep(0.02)


def socket_url(live: dict[str, Any], query: str = "") -> str:
    base = (
        live["conversation_url"]
        .replace("http://", "ws://")
        .replace("/api/conversations/", "/sockets/events/")
    )
    return base + (f"?{query}" if query else "")


def authenticate(ws: ClientConnection, live: dict[str, Any]) -> None:
    ws.send(json.dumps({"type": "auth", "session_api_key": live["session_api_key"]}))


def frames_until_quiet(ws: ClientConnection, quiet: float = 0.5, limit: int = 200) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while len(got) < limit:
        try:
            got.append(json.loads(ws.recv(timeout=quiet)))
        except TimeoutError:
            break
    return got


def rest_items(live: dict[str, Any]) -> list[dict[str, Any]]:
    page = httpx.get(live["conversation_url"] + "/events/search", headers=key_of(live)).json()
    items: list[dict[str, Any]] = page["items"]
    return items


@pytest.fixture(scope="module")
def ws_server() -> Iterator[FakeOpenHandsServer]:
    with FakeOpenHandsServer(
        generations="v1", rate_limit=False, speed=20, websocket_auth_timeout=0.3, websocket_max_subscribers=2
    ) as server:
        yield server


@pytest.fixture
def served(ws_server: FakeOpenHandsServer) -> Iterator[FakeOpenHandsServer]:
    ws_server.state.reset()
    yield ws_server
    ws_server.state.reset()


def test_resend_all_replays_the_log_after_a_state_snapshot(served: FakeOpenHandsServer) -> None:
    _, live = served_conversation(served)
    history = rest_items(live)
    for query in ("resend_mode=all", "resend_all=true"):
        with connect(socket_url(live, query)) as ws:
            authenticate(ws, live)
            got = frames_until_quiet(ws)
        snapshot, *replayed = got
        assert (snapshot["kind"], snapshot["key"]) == ("ConversationStateUpdateEvent", "full_state")
        assert snapshot["id"] not in {e["id"] for e in history}  # not part of the log
        assert snapshot["value"]["execution_status"] == "finished"
        assert replayed == history  # exactly the REST items


def test_no_resend_mode_sends_only_the_snapshot_then_live_events(served: FakeOpenHandsServer) -> None:
    conversation_id, live = served_conversation(served)
    with connect(socket_url(live)) as ws:
        authenticate(ws, live)
        [snapshot] = frames_until_quiet(ws, quiet=0.3)
        assert snapshot["key"] == "full_state"
        with httpx.Client(base_url=served.base_url) as client:
            sent = client.post(
                f"/api/v1/app-conversations/{conversation_id}/send-message",
                json=message("Again [fake-llm steps=1]"),
            )
            assert sent.status_code == 200
        live_frames = frames_until_quiet(ws, quiet=1.0)
    statuses = [f["value"] for f in live_frames if f.get("key") == "execution_status"]
    assert statuses == ["idle", "running", "finished"]
    assert "MessageEvent" in [f["kind"] for f in live_frames]
    # The run ends with a whole-state update that is published to subscribers, not kept.
    assert live_frames[-1]["key"] == "full_state"
    kept = live_frames[:-1]
    assert [f["id"] for f in kept] == [e["id"] for e in rest_items(live)[-len(kept) :]]


def test_resend_since_sends_events_from_that_time(served: FakeOpenHandsServer) -> None:
    _, live = served_conversation(served)
    history = rest_items(live)
    bound = history[5]["timestamp"]
    # Timestamps at or after the bound, in the log's order (which is not quite timestamp order).
    since = [e for e in history if e["timestamp"] >= bound]
    with connect(socket_url(live, f"resend_mode=since&after_timestamp={bound}")) as ws:
        authenticate(ws, live)
        _, *replayed = frames_until_quiet(ws)
    assert replayed == since
    # An aware bound is converted to the server's time (UTC).
    aware = (datetime.fromisoformat(history[5]["timestamp"]) + timedelta(hours=2)).isoformat() + "+02:00"
    with connect(socket_url(live, "resend_mode=since&after_timestamp=" + aware.replace("+", "%2B"))) as ws:
        authenticate(ws, live)
        _, *replayed = frames_until_quiet(ws)
    assert replayed == since
    with connect(socket_url(live, "resend_mode=since")) as ws:  # no bound: nothing resent
        authenticate(ws, live)
        assert len(frames_until_quiet(ws, quiet=0.3)) == 1


def test_a_message_frame_runs_the_agent_and_its_events_arrive_live(served: FakeOpenHandsServer) -> None:
    _, live = served_conversation(served)
    with connect(socket_url(live)) as ws:
        authenticate(ws, live)
        ws.recv(timeout=2)  # the snapshot
        authenticate(ws, live)  # a redundant auth frame is ignored
        ws.send(json.dumps({"role": "user", "content": [{"type": "text", "text": "Once more."}]}))
        got = frames_until_quiet(ws, quiet=1.0)
        assert [f["value"] for f in got if f.get("key") == "execution_status"] == [
            "idle",
            "running",
            "finished",
        ]
        ws.send("not json")
        error = json.loads(ws.recv(timeout=2))
        assert (error["kind"], error["source"], error["code"]) == (
            "ServerErrorEvent",
            "environment",
            "JSONDecodeError",
        )


@pytest.mark.parametrize(
    "first_frame",
    [
        {"type": "auth", "session_api_key": "wrong"},
        {"type": "hello", "session_api_key": "?"},
        "not json",
        None,  # nothing within websocket_auth_timeout
    ],
)
def test_first_frame_auth_failures_close_4001(served: FakeOpenHandsServer, first_frame: Any) -> None:
    _, live = served_conversation(served, finished=False)
    with connect(socket_url(live, "resend_mode=all")) as ws:
        if first_frame is not None:
            ws.send(first_frame if isinstance(first_frame, str) else json.dumps(first_frame))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=3)
    assert ws.close_code == 4001
    assert ws.close_reason == "Authentication failed"


def test_deprecated_key_in_query_or_header(served: FakeOpenHandsServer) -> None:
    _, live = served_conversation(served)
    key = live["session_api_key"]
    with connect(socket_url(live, f"session_api_key={key}")) as ws:
        assert json.loads(ws.recv(timeout=2))["key"] == "full_state"
    with connect(socket_url(live), additional_headers={"X-Session-API-Key": key}) as ws:
        assert json.loads(ws.recv(timeout=2))["key"] == "full_state"
    # A wrong legacy key is refused before the handshake, as an HTTP 403.
    with pytest.raises(InvalidStatus) as refused:
        connect(socket_url(live, "session_api_key=wrong"))
    assert refused.value.response.status_code == 403


def test_websocket_handshakes_are_in_the_request_log_as_sent(served: FakeOpenHandsServer) -> None:
    _, live = served_conversation(served)
    key = live["session_api_key"]
    with connect(socket_url(live, "resend_mode=all")) as ws:
        authenticate(ws, live)
        ws.recv(timeout=2)
    with pytest.raises(InvalidStatus):
        connect(socket_url(live, "session_api_key=wrong"))
    with connect(socket_url(live, f"session_api_key={key}")) as ws:
        ws.recv(timeout=2)
    handshakes = [
        (r.path.rsplit("?", 1)[-1], r.status) for r in served.state.requests if "/sockets/" in r.path
    ]
    # First-frame auth keeps the key out of every URL; the deprecated query puts it in the log.
    assert handshakes == [
        ("resend_mode=all", 101),
        ("session_api_key=wrong", 403),
        (f"session_api_key={key}", 101),
    ]


def test_unknown_conversation_closes_4004_after_auth(served: FakeOpenHandsServer) -> None:
    _, live = served_conversation(served, finished=False)
    url = socket_url(live).rsplit("/", 1)[0] + "/" + "0" * 32
    with connect(url) as ws:
        authenticate(ws, live)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=3)
    assert (ws.close_code, ws.close_reason) == (4004, "Conversation not found")


def test_too_many_subscribers_close_1013(served: FakeOpenHandsServer) -> None:
    _, live = served_conversation(served, finished=False)
    with connect(socket_url(live)) as first, connect(socket_url(live)) as second:
        for ws in (first, second):
            authenticate(ws, live)
            ws.recv(timeout=2)
        with connect(socket_url(live)) as third:
            authenticate(third, live)
            with pytest.raises(ConnectionClosed):
                third.recv(timeout=3)
        assert third.close_code == 1013
    with connect(socket_url(live)) as again:  # the slots are free again
        authenticate(again, live)
        assert json.loads(again.recv(timeout=2))["key"] == "full_state"


@pytest.mark.parametrize("query", ["resend_mode=everything", "after_timestamp=yesterday", "resend_all=maybe"])
def test_bad_socket_parameters_refuse_the_upgrade(served: FakeOpenHandsServer, query: str) -> None:
    _, live = served_conversation(served, finished=False)
    with pytest.raises(InvalidStatus) as refused:
        connect(socket_url(live, query))
    assert refused.value.response.status_code == 403


def test_paused_sandbox_refuses_the_upgrade_and_silences_open_sockets(served: FakeOpenHandsServer) -> None:
    conversation_id, live = served_conversation(served)
    with connect(socket_url(live)) as ws:
        authenticate(ws, live)
        ws.recv(timeout=2)
        served.state.v1.pause_sandbox(live["sandbox_id"])
        with pytest.raises(InvalidStatus) as refused:
            connect(socket_url(live))
        assert refused.value.response.status_code == 503
        with httpx.Client(base_url=served.base_url) as client:
            with served.state.lock:
                served.state.v1.resume_sandbox(live["sandbox_id"])
            client.post(f"/api/v1/app-conversations/{conversation_id}/send-message", json=message("Back."))
        assert [
            f["value"] for f in frames_until_quiet(ws, quiet=1.0) if f.get("key") == "execution_status"
        ] == [
            "idle",
            "running",
            "finished",
        ]
        with served.state.lock:
            served.state.v1.delete_sandbox(live["sandbox_id"])
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=3)
    assert ws.protocol.close_rcvd is None  # dropped, no close frame


# ---------------------------------------------------------------------------- stream faults
def test_ws_refuse_fault(served: FakeOpenHandsServer) -> None:
    _, live = served_conversation(served, finished=False)
    served.state.faults.add(FaultRule("ws_refuse", path="/_agent/*/sockets/events/*", status=502))
    with pytest.raises(InvalidStatus) as refused:
        connect(socket_url(live))
    assert refused.value.response.status_code == 502
    with connect(socket_url(live)) as ws:  # times=1: the next one works
        authenticate(ws, live)
        assert json.loads(ws.recv(timeout=2))["key"] == "full_state"
    # HTTP requests never meet WebSocket faults, and the other way round.
    served.state.faults.add(FaultRule("ws_refuse", path="/_agent/*"))
    served.state.faults.add(FaultRule("status", path="/_agent/*", status=500, times=None))
    assert httpx.get(live["conversation_url"], headers=key_of(live)).status_code == 500
    with pytest.raises(InvalidStatus):
        connect(socket_url(live))
    with connect(socket_url(live)) as ws:
        authenticate(ws, live)
        assert json.loads(ws.recv(timeout=2))["key"] == "full_state"
    assert [r.fault for r in served.state.faults.fired] == ["ws_refuse", "status", "ws_refuse"]


def test_ws_stall_fault(served: FakeOpenHandsServer) -> None:
    _, live = served_conversation(served, finished=False)
    served.state.faults.add(FaultRule("ws_stall", delay=0.8))
    with connect(socket_url(live, "resend_mode=all")) as ws:
        authenticate(ws, live)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.4)
        assert json.loads(ws.recv(timeout=3))["key"] == "full_state"


def test_ws_drop_fault_drops_after_n_frames(served: FakeOpenHandsServer) -> None:
    _, live = served_conversation(served)
    served.state.faults.add(FaultRule("ws_drop", frames=3))
    with connect(socket_url(live, "resend_mode=all")) as ws:
        authenticate(ws, live)
        got = [json.loads(ws.recv(timeout=3)) for _ in range(3)]
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=3)
    assert [f["kind"] for f in got] == [
        "ConversationStateUpdateEvent",
        "SystemPromptEvent",
        "MessageEvent",
    ]
    assert ws.protocol.close_rcvd is None


def test_ws_fault_rules_validate() -> None:
    with pytest.raises(ValueError, match="frames"):
        FaultRule("ws_drop")
    with pytest.raises(ValueError, match="delay"):
        FaultRule("ws_stall")
    with pytest.raises(ValueError, match="frames applies"):
        FaultRule("status", frames=2)
    assert FaultRule("ws_refuse").status == 403
    assert FaultRule.from_json({"fault": "ws_drop", "frames": 0}).frames == 0


async def test_send_message_counts_only_app_server_calls(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    live = await conversation(v1, conversation_id)
    await v1.post(live["conversation_url"] + "/events", headers=key_of(live), json=message("direct"))
    await send(v1, conversation_id, "via the app server")
    state = (await v1.get("/_fake/state")).json()
    assert state["v1"]["message_calls"] == 1
