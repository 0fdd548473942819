"""V1 sandboxes (search, batch, pause, resume, delete) and what send-message says about them."""

from __future__ import annotations

import uuid

import httpx
import pytest

from openhands_api.testing import ManualClock

from .conftest import MakeClient
from .v1_helpers import RUN_TIME, V1, conversation, events, ready, run, send, statuses

SANDBOX_KEYS = [
    "id",
    "created_by_user_id",
    "sandbox_spec_id",
    "status",
    "session_api_key",
    "exposed_urls",
    "created_at",
]


@pytest.fixture
def v1(make_client: MakeClient) -> httpx.AsyncClient:
    return make_client(**V1)[0]


def dashed(hex_id: str) -> str:
    return str(uuid.UUID(hex_id))


async def sandbox_of(client: httpx.AsyncClient, conversation_id: str) -> str:
    sandbox_id: str = (await conversation(client, conversation_id))["sandbox_id"]
    return sandbox_id


# ------------------------------------------------------------------------------ reads
async def test_sandbox_info_has_the_real_keys_and_urls_while_running(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    sandbox_id = await sandbox_of(v1, await ready(v1, clock, None))
    info = (await v1.get("/api/v1/sandboxes", params={"id": sandbox_id})).json()[0]
    assert list(info) == SANDBOX_KEYS
    assert info["status"] == "RUNNING"
    assert info["sandbox_spec_id"] == "ghcr.io/openhands/agent-server:1.34.0-python"
    assert info["exposed_urls"] == [
        {"name": "AGENT_SERVER", "url": f"http://fake/_agent/{sandbox_id}", "port": 80}
    ]
    assert info["created_at"].endswith("Z")


async def test_sandboxes_batch_answers_null_for_unknown_and_limits_ids(v1: httpx.AsyncClient) -> None:
    assert (await v1.get("/api/v1/sandboxes", params={"id": "nope"})).json() == [None]
    too_many = await v1.get("/api/v1/sandboxes", params={"id": ["x"] * 101})
    assert too_many.json() == {"detail": "Cannot request more than 100 sandboxes at once, got 101"}
    assert (await v1.get("/api/v1/sandboxes")).json()["detail"][0]["loc"] == ["query", "id"]


async def test_sandbox_search_is_newest_first_with_offset_page_ids(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    first = await sandbox_of(v1, await ready(v1, clock, None))
    second = await sandbox_of(v1, await ready(v1, clock, None))
    page = (await v1.get("/api/v1/sandboxes/search", params={"limit": 1})).json()
    assert ([s["id"] for s in page["items"]], page["next_page_id"]) == ([second], "1")
    page = (await v1.get("/api/v1/sandboxes/search", params={"limit": 1, "page_id": "1"})).json()
    assert ([s["id"] for s in page["items"]], page["next_page_id"]) == ([first], None)


async def test_each_sandbox_gets_its_own_agent_server_url(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    first = await conversation(v1, await ready(v1, clock, None))
    second = await conversation(v1, await ready(v1, clock, None))
    assert first["conversation_url"].startswith(
        f"http://fake/_agent/{first['sandbox_id']}/api/conversations/"
    )
    assert second["conversation_url"].startswith(
        f"http://fake/_agent/{second['sandbox_id']}/api/conversations/"
    )


async def test_raw_sandbox_can_be_started(v1: httpx.AsyncClient) -> None:
    info = (await v1.post("/api/v1/sandboxes")).json()
    assert (list(info), info["status"]) == (SANDBOX_KEYS, "RUNNING")


# ------------------------------------------------------------------------------ pause and resume
async def test_pause_nulls_the_live_fields(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    sandbox_id = await sandbox_of(v1, conversation_id)
    assert (await v1.post(f"/api/v1/sandboxes/{sandbox_id}/pause")).json() == {"success": True}
    data = await conversation(v1, conversation_id)
    assert data["sandbox_status"] == "PAUSED"
    assert (data["execution_status"], data["conversation_url"], data["session_api_key"]) == (None, None, None)
    sandbox = (await v1.get("/api/v1/sandboxes", params={"id": sandbox_id})).json()[0]
    assert (sandbox["status"], sandbox["session_api_key"], sandbox["exposed_urls"]) == ("PAUSED", None, None)


async def test_resume_brings_back_the_previous_status(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    sandbox_id = await sandbox_of(v1, conversation_id)
    await v1.post(f"/api/v1/sandboxes/{sandbox_id}/pause")
    clock.advance(60)
    assert (await v1.post(f"/api/v1/sandboxes/{sandbox_id}/resume")).json() == {"success": True}
    data = await conversation(v1, conversation_id)
    assert (data["sandbox_status"], data["execution_status"]) == ("RUNNING", "finished")


async def test_pause_and_resume_are_idempotent(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    sandbox_id = await sandbox_of(v1, await ready(v1, clock, None))
    for action in ("pause", "pause", "resume", "resume"):
        assert (await v1.post(f"/api/v1/sandboxes/{sandbox_id}/{action}")).json() == {"success": True}


async def test_pause_or_resume_of_an_unknown_sandbox_is_404(v1: httpx.AsyncClient) -> None:
    for action in ("pause", "resume"):
        response = await v1.post(f"/api/v1/sandboxes/nope/{action}")
        assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


async def test_paused_sandbox_freezes_a_run_until_resumed(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await ready(v1, clock, "go [fake-llm steps=3 delay=1]")
    sandbox_id = await sandbox_of(v1, conversation_id)
    await v1.post(f"/api/v1/sandboxes/{sandbox_id}/pause")
    frozen = len(await events(v1, conversation_id))
    clock.advance(60)
    assert len(await events(v1, conversation_id)) == frozen
    await v1.post(f"/api/v1/sandboxes/{sandbox_id}/resume")
    assert (await conversation(v1, conversation_id))["execution_status"] == "running"
    clock.advance(RUN_TIME * 3)
    assert (await conversation(v1, conversation_id))["execution_status"] == "finished"


async def test_resume_delay_shows_starting_first(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(sandbox_resume_delay=2.0, **V1)
    conversation_id = await run(client, clock)
    sandbox_id = await sandbox_of(client, conversation_id)
    await client.post(f"/api/v1/sandboxes/{sandbox_id}/pause")
    await client.post(f"/api/v1/sandboxes/{sandbox_id}/resume")
    data = await conversation(client, conversation_id)
    assert (data["sandbox_status"], data["execution_status"]) == ("STARTING", None)
    clock.advance(2.1)
    assert (await conversation(client, conversation_id))["sandbox_status"] == "RUNNING"


# ------------------------------------------------------------------------------ delete
async def test_delete_reads_the_query_parameter_and_ignores_the_path(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock)
    sandbox_id = await sandbox_of(v1, conversation_id)
    response = await v1.delete("/api/v1/sandboxes/ignored", params={"sandbox_id": sandbox_id})
    assert response.json() == {"success": True}
    data = await conversation(v1, conversation_id)
    assert (data["sandbox_status"], data["execution_status"], data["conversation_url"]) == (
        "MISSING",
        None,
        None,
    )
    assert (await v1.get("/api/v1/sandboxes/search")).json() == {"items": [], "next_page_id": None}


async def test_delete_without_the_query_parameter_is_422(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    sandbox_id = await sandbox_of(v1, await ready(v1, clock, None))
    response = await v1.delete(f"/api/v1/sandboxes/{sandbox_id}")
    assert response.json() == {
        "detail": [
            {"type": "missing", "loc": ["query", "sandbox_id"], "msg": "Field required", "input": None}
        ]
    }


async def test_delete_of_an_unknown_sandbox_is_404(v1: httpx.AsyncClient) -> None:
    response = await v1.delete("/api/v1/sandboxes/nope", params={"sandbox_id": "nope"})
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


async def test_download_works_paused_and_after_the_sandbox_is_deleted(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock)
    sandbox_id = await sandbox_of(v1, conversation_id)
    await v1.post(f"/api/v1/sandboxes/{sandbox_id}/pause")
    assert (await v1.get(f"/api/v1/app-conversations/{conversation_id}/download")).status_code == 200
    await v1.delete(f"/api/v1/sandboxes/{sandbox_id}", params={"sandbox_id": sandbox_id})
    assert (await v1.get(f"/api/v1/app-conversations/{conversation_id}/download")).status_code == 200


# ------------------------------------------------------------------------------ send-message by sandbox state
async def test_send_message_to_an_unknown_conversation_is_404_with_the_dashed_id(
    v1: httpx.AsyncClient,
) -> None:
    unknown = uuid.uuid4().hex
    response = await send(v1, unknown, "x")
    assert (response.status_code, response.json()) == (
        404,
        {"detail": f"Conversation {dashed(unknown)} not found"},
    )


async def test_send_message_when_paused_is_409_naming_the_resume_route(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock)
    sandbox_id = await sandbox_of(v1, conversation_id)
    await v1.post(f"/api/v1/sandboxes/{sandbox_id}/pause")
    response = await send(v1, conversation_id, "x")
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Sandbox is PAUSED. Use POST /api/v1/sandboxes/{sandbox_id}/resume to resume it first."
    }


async def test_send_message_while_resuming_is_409_starting(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, _ = make_client(sandbox_resume_delay=5.0, **V1)
    conversation_id = await run(client, clock)
    sandbox_id = await sandbox_of(client, conversation_id)
    await client.post(f"/api/v1/sandboxes/{sandbox_id}/pause")
    await client.post(f"/api/v1/sandboxes/{sandbox_id}/resume")
    response = await send(client, conversation_id, "x")
    assert response.status_code == 409
    assert response.json()["detail"].startswith("Sandbox is STARTING.")


async def test_send_message_after_resume_runs_again(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    sandbox_id = await sandbox_of(v1, conversation_id)
    await v1.post(f"/api/v1/sandboxes/{sandbox_id}/pause")
    await v1.post(f"/api/v1/sandboxes/{sandbox_id}/resume")
    assert (await send(v1, conversation_id, "again")).status_code == 200
    clock.advance(RUN_TIME)
    assert statuses(await events(v1, conversation_id))[-3:] == ["idle", "running", "finished"]


async def test_send_message_after_sandbox_delete_is_404_sandbox_not_found(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock)
    sandbox_id = await sandbox_of(v1, conversation_id)
    await v1.delete(f"/api/v1/sandboxes/{sandbox_id}", params={"sandbox_id": sandbox_id})
    response = await send(v1, conversation_id, "x")
    assert (response.status_code, response.json()) == (
        404,
        {"detail": f"Sandbox not found for conversation {dashed(conversation_id)}"},
    )


async def test_send_message_to_an_archived_sandbox_is_410(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, app = make_client(**V1)
    conversation_id = await run(client, clock)
    app.fake_state.set_sandbox_status(await sandbox_of(client, conversation_id), "MISSING")
    response = await send(client, conversation_id, "x")
    assert (response.status_code, response.json()) == (
        410,
        {"detail": "Conversation is archived. The sandbox no longer exists."},
    )


async def test_send_message_to_a_sandbox_in_error_is_503(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(**V1)
    conversation_id = await run(client, clock)
    sandbox_id = await sandbox_of(client, conversation_id)
    control = await client.post(f"/_fake/v1/sandboxes/{sandbox_id}/status", json={"status": "ERROR"})
    assert control.json() == {"id": sandbox_id, "status": "ERROR"}
    response = await send(client, conversation_id, "x")
    assert (response.status_code, response.json()) == (
        503,
        {"detail": "Sandbox is in an error state and cannot accept messages."},
    )


async def test_send_message_validates_its_body(v1: httpx.AsyncClient) -> None:
    url = f"/api/v1/app-conversations/{uuid.uuid4().hex}/send-message"
    missing = await v1.post(url, json={"role": "user"})
    assert missing.json()["detail"] == [
        {"type": "missing", "loc": ["body", "content"], "msg": "Field required", "input": {"role": "user"}}
    ]
    empty = await v1.post(url, json={"content": []})
    assert empty.json()["detail"][0]["type"] == "too_short"
    role = await v1.post(url, json={"role": "agent", "content": [{"type": "text", "text": "x"}]})
    assert role.json()["detail"][0]["msg"] == "Input should be 'user'"
    bad_id = await v1.post("/api/v1/app-conversations/not-a-uuid/send-message", json={"content": []})
    assert bad_id.json()["detail"][0]["loc"] == ["path", "conversation_id"]
