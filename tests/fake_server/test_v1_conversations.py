"""V1 app conversations: batch get, search/count, PATCH, DELETE, file, git, skills, hooks, download."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import httpx
import pytest

from openhands_api.testing import ManualClock

from .conftest import MakeClient
from .v1_helpers import RUN_TIME, V1, conversation, events, ready, run

APP_CONVERSATION_KEYS = [
    "id", "created_by_user_id", "sandbox_id", "selected_repository", "selected_branch", "git_provider",
    "title", "trigger", "pr_number", "llm_model", "agent_kind", "metrics", "parent_conversation_id",
    "sub_conversation_ids", "public", "tags", "created_at", "updated_at", "sandbox_status",
    "execution_status", "conversation_url", "session_api_key", "acp_server", "launched_agent_profile",
]  # fmt: skip
"""``AppConversation`` of 1.11.0, in wire order (observed)."""


@pytest.fixture
def v1(make_client: MakeClient) -> httpx.AsyncClient:
    return make_client(**V1)[0]


def dashed(hex_id: str) -> str:
    return str(uuid.UUID(hex_id))


# ------------------------------------------------------------------------------ batch get
async def test_app_conversation_has_the_real_keys_and_live_fields(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock)
    data = await conversation(v1, conversation_id)
    assert list(data) == APP_CONVERSATION_KEYS
    assert data["id"] == conversation_id
    assert (data["sandbox_status"], data["execution_status"]) == ("RUNNING", "finished")
    assert data["conversation_url"] == (
        f"http://fake/_agent/{data['sandbox_id']}/api/conversations/{conversation_id}"
    )
    assert len(data["session_api_key"]) > 30
    assert (data["agent_kind"], data["llm_model"], data["trigger"]) == ("openhands", "openai/fake", None)
    assert data["tags"] == {"archiveworkspacepath": "."}
    assert data["created_at"].endswith("Z")
    assert data["updated_at"].endswith("Z")
    assert (data["acp_server"], data["launched_agent_profile"]) == (None, None)


async def test_batch_get_answers_null_for_unknown_and_accepts_dashed_and_upper_ids(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await ready(v1, clock)
    ids = [dashed(conversation_id), uuid.uuid4().hex, conversation_id.upper()]
    response = await v1.get("/api/v1/app-conversations", params={"ids": ids})
    assert [c and c["id"] for c in response.json()] == [conversation_id, None, conversation_id]


async def test_batch_get_needs_ids(v1: httpx.AsyncClient) -> None:
    response = await v1.get("/api/v1/app-conversations")
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"type": "missing", "loc": ["query", "ids"], "msg": "Field required", "input": None}]
    }


async def test_batch_get_allows_99_ids_and_refuses_100(v1: httpx.AsyncClient) -> None:
    ok = await v1.get("/api/v1/app-conversations", params={"ids": [uuid.uuid4().hex for _ in range(99)]})
    assert (ok.status_code, len(ok.json())) == (200, 99)
    refused = await v1.get(
        "/api/v1/app-conversations", params={"ids": [uuid.uuid4().hex for _ in range(100)]}
    )
    assert (refused.status_code, refused.json()) == (
        400,
        {"detail": "Too many ids requested. Maximum is 99."},
    )


async def test_batch_get_names_every_bad_uuid(v1: httpx.AsyncClient) -> None:
    response = await v1.get(
        "/api/v1/app-conversations", params={"ids": ["not-a-uuid", uuid.uuid4().hex, "zz"]}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid UUID format for ids: ['not-a-uuid', 'zz']"}


async def test_get_one_conversation_is_not_a_route(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await ready(v1, clock)
    response = await v1.get(f"/api/v1/app-conversations/{conversation_id}")
    assert (response.status_code, response.json()) == (405, {"detail": "Method Not Allowed"})


# ------------------------------------------------------------------------------ search and count
async def make(client: httpx.AsyncClient, clock: ManualClock, count: int) -> list[str]:
    """``count`` conversations, one simulated second apart; newest first."""
    made = []
    for _ in range(count):
        made.append(await ready(client, clock, None))
    return made[::-1]


async def test_search_lists_newest_first(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    newest_first = await make(v1, clock, 3)
    page = (await v1.get("/api/v1/app-conversations/search")).json()
    assert [c["id"] for c in page["items"]] == newest_first
    assert page["next_page_id"] is None
    assert list(page["items"][0]) == APP_CONVERSATION_KEYS


async def test_search_pages_with_decimal_offsets(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    newest_first = await make(v1, clock, 3)
    seen, page_id = [], None
    page_ids = []
    while True:
        params = {"limit": 2} | ({"page_id": page_id} if page_id else {})
        page = (await v1.get("/api/v1/app-conversations/search", params=params)).json()
        seen += [c["id"] for c in page["items"]]
        page_id = page["next_page_id"]
        page_ids.append(page_id)
        if page_id is None:
            break
    assert seen == newest_first
    assert page_ids == ["2", None]


async def test_search_treats_a_bad_page_id_as_the_start(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    newest_first = await make(v1, clock, 2)
    page = (await v1.get("/api/v1/app-conversations/search", params={"page_id": "abc"})).json()
    assert [c["id"] for c in page["items"]] == newest_first


@pytest.mark.parametrize(
    ("limit", "error"), [(0, "greater_than"), (101, "less_than_equal"), ("abc", "int_parsing")]
)
async def test_search_limit_must_be_1_to_100(v1: httpx.AsyncClient, limit: object, error: str) -> None:
    response = await v1.get("/api/v1/app-conversations/search", params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == error


async def test_search_filters_title_like_sqlite(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    first, second = (await make(v1, clock, 2))[::-1]
    await v1.patch(f"/api/v1/app-conversations/{first}", json={"title": "Fix the Bug"})

    async def titled(text: str) -> list[str]:
        page = (await v1.get("/api/v1/app-conversations/search", params={"title__contains": text})).json()
        return [c["id"] for c in page["items"]]

    assert await titled("bug") == [first]  # case-insensitive
    assert await titled("Fix_the") == [first]  # "_" matches one character
    assert await titled("Conversation") == [second]
    assert await titled("nothing") == []


async def test_search_filters_by_dates_and_sandbox(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    older, newer = (await make(v1, clock, 2))[::-1]
    newer_info = await conversation(v1, newer)
    bound = newer_info["created_at"]
    ids = [
        c["id"]
        for c in (await v1.get("/api/v1/app-conversations/search", params={"created_at__gte": bound})).json()[
            "items"
        ]
    ]
    assert ids == [newer]
    ids = [
        c["id"]
        for c in (await v1.get("/api/v1/app-conversations/search", params={"created_at__lt": bound})).json()[
            "items"
        ]
    ]
    assert ids == [older]
    by_sandbox = await v1.get(
        "/api/v1/app-conversations/search", params={"sandbox_id__eq": newer_info["sandbox_id"]}
    )
    assert [c["id"] for c in by_sandbox.json()["items"]] == [newer]
    assert (
        await v1.get("/api/v1/app-conversations/search", params={"created_at__gte": "yesterday"})
    ).status_code == 422


async def test_count_is_a_bare_integer_with_the_same_filters(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    await make(v1, clock, 2)
    assert (await v1.get("/api/v1/app-conversations/count")).json() == 2
    assert (await v1.get("/api/v1/app-conversations/count", params={"title__contains": "zzz"})).json() == 0


async def test_empty_search_is_an_empty_page(v1: httpx.AsyncClient) -> None:
    response = await v1.get("/api/v1/app-conversations/search", params={"limit": 1})
    assert response.json() == {"items": [], "next_page_id": None}


# ------------------------------------------------------------------------------ PATCH
async def test_patch_sets_the_given_fields_and_returns_the_conversation(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock)
    before = await conversation(v1, conversation_id)
    response = await v1.patch(
        f"/api/v1/app-conversations/{conversation_id}", json={"title": "renamed", "public": True, "zzz": 1}
    )
    assert response.status_code == 200
    data = response.json()
    assert list(data) == APP_CONVERSATION_KEYS
    assert (data["title"], data["public"]) == ("renamed", True)
    assert data["updated_at"] == before["updated_at"]


async def test_patch_with_null_clears_a_field(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    data = (await v1.patch(f"/api/v1/app-conversations/{conversation_id}", json={"title": None})).json()
    assert data["title"] is None


async def test_patch_sets_repository_fields(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await ready(v1, clock, None)
    body = {"selected_repository": "o/r", "git_provider": "github", "selected_branch": "main"}
    data = (await v1.patch(f"/api/v1/app-conversations/{conversation_id}", json=body)).json()
    assert (data["selected_repository"], data["git_provider"], data["selected_branch"]) == (
        "o/r",
        "github",
        "main",
    )


async def test_patch_of_an_unknown_conversation_is_404(v1: httpx.AsyncClient) -> None:
    response = await v1.patch(f"/api/v1/app-conversations/{uuid.uuid4().hex}", json={"title": "x"})
    assert (response.status_code, response.json()) == (404, {"detail": "unknown_app_conversation"})


async def test_patch_validates_types_and_enums(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await ready(v1, clock, None)
    bad_title = await v1.patch(f"/api/v1/app-conversations/{conversation_id}", json={"title": 5})
    assert bad_title.json() == {
        "detail": [
            {
                "type": "string_type",
                "loc": ["body", "title"],
                "msg": "Input should be a valid string",
                "input": 5,
            }
        ]
    }
    bad_provider = await v1.patch(
        f"/api/v1/app-conversations/{conversation_id}", json={"git_provider": "nope"}
    )
    assert bad_provider.json()["detail"][0]["type"] == "enum"


async def test_patch_with_a_malformed_id_or_repository_is_a_plain_500(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    bad_id = await v1.patch("/api/v1/app-conversations/not-a-uuid", json={"title": "x"})
    assert (bad_id.status_code, bad_id.text) == (500, "Internal Server Error")
    conversation_id = await ready(v1, clock, None)
    bad_repo = await v1.patch(
        f"/api/v1/app-conversations/{conversation_id}", json={"selected_repository": "norepo"}
    )
    assert bad_repo.status_code == 500


async def test_auto_title_overwrites_a_patched_title(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    task = (
        await v1.post(
            "/api/v1/app-conversations",
            json={"initial_message": {"content": [{"type": "text", "text": "hi"}]}},
        )
    ).json()
    clock.advance(0.5)
    conversation_id = (
        await v1.get("/api/v1/app-conversations/start-tasks", params={"ids": task["id"]})
    ).json()[0]["app_conversation_id"]
    await v1.patch(f"/api/v1/app-conversations/{conversation_id}", json={"title": "mine"})
    clock.advance(RUN_TIME)
    assert (await conversation(v1, conversation_id))["title"] == "Fake title"


# ------------------------------------------------------------------------------ DELETE
async def test_delete_removes_the_conversation_and_its_sandbox(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock)
    sandbox_id = (await conversation(v1, conversation_id))["sandbox_id"]
    response = await v1.delete(f"/api/v1/app-conversations/{conversation_id}")
    assert response.json() == {"success": True}
    assert (await v1.get("/api/v1/app-conversations", params={"ids": conversation_id})).json() == [None]
    assert (await v1.get("/api/v1/sandboxes", params={"id": sandbox_id})).json() == [None]


async def test_events_stay_readable_after_delete(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    before = await events(v1, conversation_id)
    await v1.delete(f"/api/v1/app-conversations/{conversation_id}")
    assert await events(v1, conversation_id) == before


async def test_delete_of_an_unknown_or_deleted_conversation_is_404(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await ready(v1, clock, None)
    await v1.delete(f"/api/v1/app-conversations/{conversation_id}")
    again = await v1.delete(f"/api/v1/app-conversations/{conversation_id}")
    assert (again.status_code, again.json()) == (404, {"detail": "Conversation not found"})


async def test_delete_with_a_malformed_id_is_400(v1: httpx.AsyncClient) -> None:
    response = await v1.delete("/api/v1/app-conversations/not-a-uuid")
    assert (response.status_code, response.json()) == (400, {"detail": "Invalid conversation ID format"})


async def test_delete_keeps_a_sandbox_another_conversation_uses(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    parent = await ready(v1, clock, None)
    child = await ready(v1, clock, None, parent_conversation_id=parent)
    await v1.delete(f"/api/v1/app-conversations/{child}")
    assert (await conversation(v1, parent))["sandbox_status"] == "RUNNING"


# ------------------------------------------------------------------------------ file, git, skills, hooks
async def test_file_returns_the_text_or_an_empty_string(make_client: MakeClient, clock: ManualClock) -> None:
    client, app = make_client(**V1)
    app.fake_state.seed_workspace({"PLAN.md": "# plan", "src/a.py": "print(1)"})
    conversation_id = await ready(client, clock, None)
    url = f"/api/v1/app-conversations/{conversation_id}/file"
    assert (await client.get(url)).json() == "# plan"  # default /workspace/project/PLAN.md
    assert (await client.get(url, params={"file_path": "src/a.py"})).json() == "print(1)"
    assert (await client.get(url, params={"file_path": "missing.txt"})).json() == ""
    assert (await client.get(f"/api/v1/app-conversations/{uuid.uuid4().hex}/file")).json() == ""


async def test_git_routes_need_a_path(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await ready(v1, clock, None)
    response = await v1.get(f"/api/v1/app-conversations/{conversation_id}/git/changes")
    assert response.json() == {
        "detail": [{"type": "missing", "loc": ["query", "path"], "msg": "Field required", "input": None}]
    }


async def test_git_changes_use_status_words(make_client: MakeClient, clock: ManualClock) -> None:
    client, app = make_client(**V1)
    app.fake_state.git_changes = [{"status": "M", "path": "a.py"}, {"status": "A", "path": "b.py"}]
    conversation_id = await ready(client, clock, None)
    response = await client.get(
        f"/api/v1/app-conversations/{conversation_id}/git/changes", params={"path": "."}
    )
    assert response.json() == [{"status": "UPDATED", "path": "a.py"}, {"status": "ADDED", "path": "b.py"}]


async def test_git_diff_of_an_unknown_path_is_an_agent_server_error(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, app = make_client(**V1)
    app.fake_state.git_diffs = {"a.py": {"modified": "new", "original": "old"}}
    conversation_id = await ready(client, clock, None)
    url = f"/api/v1/app-conversations/{conversation_id}/git/diff"
    assert (await client.get(url, params={"path": "a.py"})).json() == {"modified": "new", "original": "old"}
    missing = await client.get(url, params={"path": "x.py"})
    assert (missing.status_code, missing.json()) == (502, {"detail": "Agent server error: 400"})


async def test_git_of_an_unknown_conversation_is_not_reachable(v1: httpx.AsyncClient) -> None:
    unknown = uuid.uuid4().hex
    response = await v1.get(f"/api/v1/app-conversations/{unknown}/git/changes", params={"path": "."})
    assert (response.status_code, response.json()) == (
        404,
        {"detail": f"Conversation {dashed(unknown)} is not reachable"},
    )


async def test_skills_and_hooks_are_empty_lists(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await ready(v1, clock, None)
    assert (await v1.get(f"/api/v1/app-conversations/{conversation_id}/skills")).json() == {"skills": []}
    assert (await v1.get(f"/api/v1/app-conversations/{conversation_id}/hooks")).json() == {"hooks": []}


async def test_skills_and_hooks_of_an_unknown_conversation_use_error_bodies(v1: httpx.AsyncClient) -> None:
    unknown = uuid.uuid4().hex
    for route in ("skills", "hooks"):
        response = await v1.get(f"/api/v1/app-conversations/{unknown}/{route}")
        assert (response.status_code, response.json()) == (
            404,
            {"error": f"Conversation {dashed(unknown)} not found"},
        )


# ------------------------------------------------------------------------------ download
async def test_download_is_a_zip_of_meta_and_numbered_events(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock)
    response = await v1.get(f"/api/v1/app-conversations/{conversation_id}/download")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="conversation_{dashed(conversation_id)}.zip"'
    )
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    listed = await events(v1, conversation_id)
    assert archive.namelist() == ["meta.json"] + [
        f"event_{i:06d}_{e['id']}.json" for i, e in enumerate(listed)
    ]
    assert json.loads(archive.read(archive.namelist()[1])) == listed[0]
    assert archive.read(archive.namelist()[1]).decode().startswith('{\n  "id": ')
    assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())


async def test_download_meta_is_the_stored_conversation(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    archive = zipfile.ZipFile(
        io.BytesIO((await v1.get(f"/api/v1/app-conversations/{conversation_id}/download")).content)
    )
    meta = json.loads(archive.read("meta.json"))
    live = ("sandbox_status", "execution_status", "conversation_url", "session_api_key")
    assert list(meta) == [k for k in APP_CONVERSATION_KEYS if k not in live]
    assert meta["id"] == conversation_id


async def test_download_of_an_unknown_conversation_is_404(v1: httpx.AsyncClient) -> None:
    unknown = uuid.uuid4().hex
    response = await v1.get(f"/api/v1/app-conversations/{unknown}/download")
    assert (response.status_code, response.json()) == (
        404,
        {"detail": f"Conversation not found: {dashed(unknown)}"},
    )
    malformed = await v1.get("/api/v1/app-conversations/not-a-uuid/download")
    assert malformed.json()["detail"][0]["type"] == "uuid_parsing"
