"""``generations``: V0 only (default), V1 only (1.11.0), or both in one process (1.6.0)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from openhands_api.testing import ManualClock

from .conftest import MakeClient
from .helpers import RUN_TIME as V0_RUN_TIME
from .helpers import all_events, create, info, last_agent_state
from .v1_helpers import V1, conversation, ready, run

BOTH = {"generations": "both"}

V0_INFO_KEYS = [
    "conversation_id", "title", "last_updated_at", "status", "runtime_status", "selected_repository",
    "selected_branch", "git_provider", "trigger", "num_connections", "url", "session_api_key", "created_at",
    "pr_number", "conversation_version", "sub_conversation_ids", "public", "sandbox_id",
]  # fmt: skip


@pytest.fixture
def both(make_client: MakeClient) -> httpx.AsyncClient:
    return make_client(**BOTH)[0]


def decode(page_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(base64.b64decode(page_id))
    return data


async def listing(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/conversations", params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


# ------------------------------------------------------------------------------ which routes exist
async def test_default_serves_v0_only(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/app-conversations/search")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
    assert (await client.get("/openapi.json")).json()["info"]["version"] == "1.6.0"


async def test_v1_answers_404_on_v0_paths(make_client: MakeClient) -> None:
    client, _ = make_client(**V1)
    for path in ("/api/conversations?limit=1", "/api/options/config", "/api/settings"):
        response = await client.get(path)
        assert (response.status_code, response.json()) == (404, {"detail": "Not Found"}), path
    assert (await client.get("/openapi.json")).json()["info"]["version"] == "1.11.0"


async def test_v1_health_routes_and_open_web_client_config(make_client: MakeClient) -> None:
    client, _ = make_client(session_api_key="k", **V1)
    assert (await client.get("/alive")).json() == {"status": "ok"}
    assert (await client.get("/ready")).json() == "OK"
    config = await client.get("/api/v1/web-client/config")
    assert config.status_code == 200
    assert config.json()["app_mode"] == "oss"
    locked = await client.get("/api/v1/app-conversations/search")
    assert (locked.status_code, locked.json()) == (401, {"detail": "Unauthorized"})
    opened = await client.get("/api/v1/app-conversations/search", headers={"X-Session-API-Key": "k"})
    assert opened.status_code == 200


async def test_both_serves_v0_and_v1(both: httpx.AsyncClient, clock: ManualClock) -> None:
    v0_id = await create(both)
    v1_id = await run(both, clock)
    assert (await info(both, v0_id))["conversation_version"] == "V0"
    assert last_agent_state(await all_events(both, v0_id)) == "finished"
    assert (await conversation(both, v1_id))["execution_status"] == "finished"
    assert (await both.get("/openapi.json")).json()["info"]["version"] == "1.6.0"


async def test_both_lacks_send_message_delete_git_and_v1_settings(
    both: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await ready(both, clock)
    base = f"/api/v1/app-conversations/{conversation_id}"
    send = await both.post(f"{base}/send-message", json={"content": [{"type": "text", "text": "x"}]})
    assert (send.status_code, send.json()) == (404, {"detail": "Not Found"})
    delete = await both.delete(base)
    assert (delete.status_code, delete.json()) == (405, {"detail": "Method Not Allowed"})
    assert (await both.get(f"{base}/git/changes", params={"path": "."})).status_code == 404
    assert (await both.get("/api/v1/settings")).status_code == 404
    assert (await both.get(f"{base}/skills")).json() == {"skills": []}


async def test_both_renders_the_older_app_conversation(both: httpx.AsyncClient, clock: ManualClock) -> None:
    data = await conversation(both, await ready(both, clock, None))
    assert list(data) == [
        "id", "created_by_user_id", "sandbox_id", "selected_repository", "selected_branch", "git_provider",
        "title", "trigger", "pr_number", "llm_model", "metrics", "parent_conversation_id",
        "sub_conversation_ids", "public", "created_at", "updated_at", "sandbox_status", "execution_status",
        "conversation_url", "session_api_key",
    ]  # fmt: skip


async def test_both_patch_has_no_title(both: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await ready(both, clock, None)
    data = (
        await both.patch(f"/api/v1/app-conversations/{conversation_id}", json={"title": "x", "public": True})
    ).json()
    assert (data["title"], data["public"]) == (f"Conversation {conversation_id[:5]}", True)


async def test_both_start_request_echo_is_1_6_0s(both: httpx.AsyncClient) -> None:
    task = (await both.post("/api/v1/app-conversations", json={})).json()
    assert "agent_profile_id" not in task["request"]
    assert "secrets" not in task["request"]


# ------------------------------------------------------------------------------ the merged V0 list
async def test_v0_list_includes_v1_conversations_as_version_v1(
    both: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(both, clock)
    item = (await listing(both))["results"][0]
    assert list(item) == V0_INFO_KEYS
    live = await conversation(both, conversation_id)
    assert item["conversation_id"] == conversation_id
    assert (item["conversation_version"], item["status"], item["runtime_status"]) == (
        "V1",
        "RUNNING",
        "STATUS$READY",
    )
    assert (item["url"], item["session_api_key"]) == (live["conversation_url"], live["session_api_key"])
    assert (item["title"], item["sandbox_id"], item["num_connections"]) == (
        "Fake title",
        live["sandbox_id"],
        0,
    )


async def test_v0_list_maps_a_paused_v1_sandbox_to_stopped(
    both: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(both, clock)
    sandbox_id = (await conversation(both, conversation_id))["sandbox_id"]
    await both.post(f"/api/v1/sandboxes/{sandbox_id}/pause")
    item = (await listing(both))["results"][0]
    assert (item["status"], item["runtime_status"], item["url"]) == ("STOPPED", None, None)


async def test_v0_list_merges_by_creation_time(both: httpx.AsyncClient, clock: ManualClock) -> None:
    v0_first = await create(both)
    clock.advance(V0_RUN_TIME)
    v1_second = await ready(both, clock, None)
    clock.advance(1)
    v0_third = await create(both)
    ids = [c["conversation_id"] for c in (await listing(both))["results"]]
    assert ids == [v0_third, v1_second, v0_first]


async def test_combined_page_id_carries_a_decimal_v1_offset(
    both: httpx.AsyncClient, clock: ManualClock
) -> None:
    await ready(both, clock, None)
    await ready(both, clock, None)
    page = await listing(both, limit=1)
    assert decode(page["next_page_id"]) == {"v0": None, "v1": "1"}


async def test_each_source_pages_on_its_own_so_items_are_skipped(
    both: httpx.AsyncClient, clock: ManualClock
) -> None:
    """1.6.0 cuts the merged page to ``limit`` but advances both sources by ``limit``."""
    v0_old = await create(both)
    clock.advance(V0_RUN_TIME)
    v1_new = await ready(both, clock, None)
    first = await listing(both, limit=1)
    assert [c["conversation_id"] for c in first["results"]] == [v1_new]
    # Both sources were exhausted at limit 1, so the listing ends without the V0 conversation.
    assert first["next_page_id"] is None
    assert v0_old in [c["conversation_id"] for c in (await listing(both))["results"]]


async def test_filters_after_paging_give_short_pages_with_a_next_page(
    both: httpx.AsyncClient, clock: ManualClock
) -> None:
    v0_id = await create(both)
    clock.advance(V0_RUN_TIME)
    for _ in range(3):
        await ready(both, clock, None)
    page = await listing(both, limit=2, conversation_trigger="gui")
    assert [c["conversation_id"] for c in page["results"]] == [v0_id]  # short: 1 of 2
    assert decode(page["next_page_id"]) == {"v0": None, "v1": "2"}
    again = await listing(both, limit=2, conversation_trigger="gui", page_id=page["next_page_id"])
    # The V0 half starts over (its page id was null): the same conversation comes again.
    assert [c["conversation_id"] for c in again["results"]] == [v0_id]
    assert again["next_page_id"] is None


async def test_a_filter_matching_nothing_gives_an_empty_page_with_a_next_page(
    both: httpx.AsyncClient, clock: ManualClock
) -> None:
    for _ in range(2):
        await ready(both, clock, None)
    page = await listing(both, limit=1, selected_repository="nobody/nothing")
    assert page["results"] == []
    assert page["next_page_id"] is not None


# ------------------------------------------------------------------------------ V0 manage routes on V1 ids
async def test_v0_get_finds_a_v1_conversation(both: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await ready(both, clock, None)
    data = await info(both, conversation_id)
    assert (data["conversation_id"], data["conversation_version"]) == (conversation_id, "V1")


async def test_v0_delete_deletes_a_v1_conversation(both: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await ready(both, clock, None)
    assert (await both.delete(f"/api/conversations/{conversation_id}")).json() is True
    assert (await both.get("/api/v1/app-conversations", params={"ids": conversation_id})).json() == [None]


async def test_v0_patch_renames_a_v1_conversation(both: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await ready(both, clock, None)
    assert (await both.patch(f"/api/conversations/{conversation_id}", json={"title": " new "})).json() is True
    assert (await conversation(both, conversation_id))["title"] == "new"


async def test_v1_only_server_does_not_list_in_v0(make_client: MakeClient) -> None:
    client, _ = make_client(**V1)
    assert (await client.get("/api/conversations")).status_code == 404
