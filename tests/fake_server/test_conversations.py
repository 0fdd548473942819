"""Manage routes of V0 (create, get, rename, delete, start, stop) and their real quirks."""

from __future__ import annotations

import re

import httpx
import pytest

from openhands_api.testing import ManualClock

from .conftest import MakeClient
from .helpers import RUN_TIME, all_events, create, info, kinds, run

LONG_ID = "a" * 101


# ------------------------------------------------------------------------------ create
async def test_create_returns_ok_starting_response_with_a_hex_id(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/conversations", json={"initial_user_msg": "hi"})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["status", "conversation_id", "message", "conversation_status"]
    assert body["status"] == "ok"
    assert body["message"] is None
    assert body["conversation_status"] == "STARTING"
    assert re.fullmatch(r"[0-9a-f]{32}", body["conversation_id"])


async def test_create_rejects_unknown_field_as_extra_forbidden(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/conversations", json={"unknown_field": 1})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "extra_forbidden",
                "loc": ["body", "unknown_field"],
                "msg": "Extra inputs are not permitted",
                "input": 1,
            }
        ]
    }


async def test_create_rejects_wrong_type_as_string_type(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/conversations", json={"initial_user_msg": 5})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "string_type",
                "loc": ["body", "initial_user_msg"],
                "msg": "Input should be a valid string",
                "input": 5,
            }
        ]
    }


async def test_create_rejects_malformed_json_as_json_invalid(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/conversations", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "json_invalid",
                "loc": ["body", 1],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": "Expecting property name enclosed in double quotes"},
            }
        ]
    }


async def test_create_rejects_unknown_git_provider_listing_the_values(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/conversations", json={"git_provider": "svn"})
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["type"] == "enum"
    assert error["loc"] == ["body", "git_provider"]
    assert "'github', 'gitlab', 'bitbucket', 'bitbucket_data_center'" in error["msg"]


async def test_create_without_stored_settings_is_400_settings_not_found(make_client: MakeClient) -> None:
    client, _ = make_client(settings_stored=False)
    response = await client.post("/api/conversations", json={"initial_user_msg": "hi"})
    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "message": "Settings not found",
        "msg_id": "CONFIGURATION$SETTINGS_NOT_FOUND",
    }


async def test_create_after_forget_settings_is_400(make_client: MakeClient) -> None:
    client, app = make_client()
    app.fake_state.forget_settings()
    response = await client.post("/api/conversations", json={"initial_user_msg": "hi"})
    assert response.status_code == 400
    assert response.json()["msg_id"] == "CONFIGURATION$SETTINGS_NOT_FOUND"


async def test_create_with_repository_but_no_git_token_is_plain_500(make_client: MakeClient) -> None:
    client, _ = make_client(git_provider_token_configured=False)
    response = await client.post("/api/conversations", json={"initial_user_msg": "hi", "repository": "o/r"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "Internal Server Error"


async def test_create_is_counted_in_state(make_client: MakeClient) -> None:
    client, app = make_client()
    await create(client)
    await create(client)
    await client.post("/api/conversations", json={"bad": 1})
    assert app.fake_state.create_calls == 2


async def test_create_keeps_repository_branch_and_provider(client: httpx.AsyncClient) -> None:
    conversation_id = await create(
        client, repository="octo/repo", selected_branch="dev", git_provider="github"
    )
    data = await info(client, conversation_id)
    assert (data["selected_repository"], data["selected_branch"], data["git_provider"]) == (
        "octo/repo",
        "dev",
        "github",
    )


async def test_suggested_task_sets_trigger_and_becomes_the_first_message(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    task = {
        "git_provider": "github",
        "task_type": "OPEN_ISSUE",
        "repo": "o/r",
        "issue_number": 7,
        "title": "Fix",
    }
    conversation_id = await create(client, None, suggested_task=task)
    clock.advance(RUN_TIME)
    assert (await info(client, conversation_id))["trigger"] == "suggested_task"
    messages = [e for e in await all_events(client, conversation_id) if e.get("action") == "message"]
    assert "o/r" in messages[0]["args"]["content"]


async def test_create_microagent_sets_trigger_and_repository(client: httpx.AsyncClient) -> None:
    conversation_id = await create(client, create_microagent={"repo": "o/r", "git_provider": "gitlab"})
    data = await info(client, conversation_id)
    assert (data["trigger"], data["selected_repository"], data["git_provider"]) == (
        "microagent_management",
        "o/r",
        "gitlab",
    )


async def test_new_conversation_is_starting_with_only_a_loading_event(client: httpx.AsyncClient) -> None:
    conversation_id = await create(client)
    data = await info(client, conversation_id)
    assert (data["status"], data["runtime_status"]) == ("STARTING", "STATUS$STARTING_RUNTIME")
    assert data["title"] == f"Conversation {conversation_id[:5]}"
    assert data["url"] == f"/api/conversations/{conversation_id}"
    events = await all_events(client, conversation_id)
    assert events == [
        {
            "id": 0,
            "timestamp": events[0]["timestamp"],
            "source": "environment",
            "message": "",
            "observation": "agent_state_changed",
            "content": "",
            "extras": {"agent_state": "loading", "reason": ""},
        }
    ]


async def test_conversation_info_has_the_real_keys_in_the_real_order(client: httpx.AsyncClient) -> None:
    data = await info(client, await create(client))
    assert list(data) == [
        "conversation_id", "title", "last_updated_at", "status", "runtime_status", "selected_repository",
        "selected_branch", "git_provider", "trigger", "num_connections", "url", "session_api_key",
        "created_at", "pr_number", "conversation_version", "sub_conversation_ids", "public", "sandbox_id",
    ]  # fmt: skip
    assert (data["trigger"], data["num_connections"], data["conversation_version"]) == ("gui", 0, "V0")


async def test_conversation_datetimes_end_with_z_and_event_timestamps_have_no_zone(
    client: httpx.AsyncClient,
) -> None:
    conversation_id = await create(client)
    data = await info(client, conversation_id)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", data["created_at"])
    assert data["last_updated_at"].endswith("Z")
    timestamp = (await all_events(client, conversation_id))[0]["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?", timestamp)


# ------------------------------------------------------------------------------ get
async def test_get_unknown_conversation_is_200_with_null(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/conversations/0123456789abcdef0123456789abcdef")
    assert response.status_code == 200
    assert response.text == "null"


async def test_get_non_hex_id_is_200_with_null(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/conversations/not-a-hex-id")
    assert (response.status_code, response.text) == (200, "null")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"title": "t"}),
        ("DELETE", "", None),
        ("POST", "/start", {}),
        ("POST", "/stop", None),
    ],
)
async def test_manage_routes_reject_ids_over_100_chars_with_400(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    response = await client.request(method, f"/api/conversations/{LONG_ID}{path}", json=body)
    assert response.status_code == 400
    assert response.json() == {"detail": "Conversation ID is too long"}


async def test_events_route_does_not_check_id_length_and_answers_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/api/conversations/{LONG_ID}/events")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Conversation {LONG_ID} not found"}


# ------------------------------------------------------------------------------ rename
async def test_patch_sets_the_title_and_returns_bare_true(client: httpx.AsyncClient) -> None:
    conversation_id = await create(client)
    response = await client.patch(f"/api/conversations/{conversation_id}", json={"title": "renamed by test"})
    assert (response.status_code, response.text) == (200, "true")
    assert (await info(client, conversation_id))["title"] == "renamed by test"


async def test_patch_strips_surrounding_whitespace(client: httpx.AsyncClient) -> None:
    conversation_id = await create(client)
    await client.patch(f"/api/conversations/{conversation_id}", json={"title": "  padded  "})
    assert (await info(client, conversation_id))["title"] == "padded"


@pytest.mark.parametrize(
    ("title", "error_type"), [("", "string_too_short"), ("x" * 201, "string_too_long"), (5, "string_type")]
)
async def test_patch_validates_the_title(client: httpx.AsyncClient, title: object, error_type: str) -> None:
    conversation_id = await create(client)
    response = await client.patch(f"/api/conversations/{conversation_id}", json={"title": title})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == error_type


async def test_patch_rejects_extra_keys(client: httpx.AsyncClient) -> None:
    conversation_id = await create(client)
    response = await client.patch(f"/api/conversations/{conversation_id}", json={"title": "t", "x": 1})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "extra_forbidden"


async def test_patch_unknown_conversation_is_404_conversation_not_found(client: httpx.AsyncClient) -> None:
    response = await client.patch("/api/conversations/0123456789abcdef0123456789abcdef", json={"title": "t"})
    assert response.status_code == 404
    assert response.json() == {
        "status": "error",
        "message": "Conversation not found",
        "msg_id": "CONVERSATION$NOT_FOUND",
    }


# ------------------------------------------------------------------------------ delete
async def test_delete_unknown_conversation_is_bare_false(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/conversations/0123456789abcdef0123456789abcdef")
    assert (response.status_code, response.text) == (200, "false")


async def test_delete_running_conversation_is_true_and_removes_it(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock)
    response = await client.delete(f"/api/conversations/{conversation_id}")
    assert (response.status_code, response.text) == (200, "true")
    assert (await client.get(f"/api/conversations/{conversation_id}")).text == "null"
    assert (await client.get(f"/api/conversations/{conversation_id}/events")).status_code == 404
    assert (await client.delete(f"/api/conversations/{conversation_id}")).text == "false"


async def test_delete_while_starting_is_plain_500_and_leaves_it_stopped(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await create(client)
    before = clock.now()
    response = await client.delete(f"/api/conversations/{conversation_id}")
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "Internal Server Error"
    assert "cache-control" not in response.headers
    assert clock.now() - before == pytest.approx(0.2)  # delete_starting_delay
    data = await info(client, conversation_id)
    assert (data["status"], data["runtime_status"], data["url"]) == ("STOPPED", None, None)
    assert kinds(await all_events(client, conversation_id)) == ["observation:agent_state_changed"]


async def test_delete_after_a_failed_delete_while_starting_succeeds(client: httpx.AsyncClient) -> None:
    conversation_id = await create(client)
    assert (await client.delete(f"/api/conversations/{conversation_id}")).status_code == 500
    response = await client.delete(f"/api/conversations/{conversation_id}")
    assert (response.status_code, response.text) == (200, "true")


async def test_delete_starting_delay_is_configurable(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(delete_starting_delay=10.0)
    conversation_id = await create(client)
    before = clock.now()
    await client.delete(f"/api/conversations/{conversation_id}")
    assert clock.now() - before == pytest.approx(10.0)


# ------------------------------------------------------------------------------ start / stop
async def test_start_requires_a_body(client: httpx.AsyncClient) -> None:
    conversation_id = await create(client)
    response = await client.post(f"/api/conversations/{conversation_id}/start")
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
    }


async def test_start_rejects_unknown_providers(client: httpx.AsyncClient) -> None:
    conversation_id = await create(client)
    response = await client.post(
        f"/api/conversations/{conversation_id}/start", json={"providers_set": ["svn"]}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "providers_set", 0]


@pytest.mark.parametrize("body", [{}, {"providers_set": ["github"]}, {"providers_set": None}])
async def test_start_on_running_conversation_reports_running(
    client: httpx.AsyncClient, clock: ManualClock, body: dict[str, object]
) -> None:
    conversation_id = await run(client, clock)
    response = await client.post(f"/api/conversations/{conversation_id}/start", json=body)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "conversation_id": conversation_id,
        "message": None,
        "conversation_status": "RUNNING",
    }


async def test_start_on_starting_conversation_reports_starting(client: httpx.AsyncClient) -> None:
    conversation_id = await create(client)
    response = await client.post(f"/api/conversations/{conversation_id}/start", json={})
    assert response.json()["conversation_status"] == "STARTING"


async def test_start_unknown_conversation_is_404_with_status_error(client: httpx.AsyncClient) -> None:
    unknown = "0123456789abcdef0123456789abcdef"
    response = await client.post(f"/api/conversations/{unknown}/start", json={})
    assert response.status_code == 404
    assert response.json() == {"status": "error", "conversation_id": unknown}


async def test_stop_reports_the_status_before_stopping(client: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(client, clock)
    response = await client.post(f"/api/conversations/{conversation_id}/stop")
    assert response.json() == {
        "status": "ok",
        "conversation_id": conversation_id,
        "message": "Conversation stopped successfully",
        "conversation_status": "RUNNING",
    }
    assert (await info(client, conversation_id))["status"] == "STOPPED"


async def test_stop_of_stopped_conversation_says_it_was_not_running(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock)
    await client.post(f"/api/conversations/{conversation_id}/stop")
    response = await client.post(f"/api/conversations/{conversation_id}/stop")
    assert response.json() == {
        "status": "ok",
        "conversation_id": conversation_id,
        "message": "Conversation was not running",
        "conversation_status": "STOPPED",
    }


async def test_stop_of_unknown_conversation_says_it_was_not_running(client: httpx.AsyncClient) -> None:
    unknown = "0123456789abcdef0123456789abcdef"
    response = await client.post(f"/api/conversations/{unknown}/stop")
    assert response.status_code == 200
    assert response.json()["message"] == "Conversation was not running"
    assert response.json()["conversation_status"] == "STOPPED"


async def test_stop_while_starting_reports_starting_and_appends_no_stopped_event(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await create(client)
    response = await client.post(f"/api/conversations/{conversation_id}/stop")
    assert response.json()["conversation_status"] == "STARTING"
    clock.advance(RUN_TIME)  # the cancelled startup must not resume
    assert (await info(client, conversation_id))["status"] == "STOPPED"
    assert [e["extras"]["agent_state"] for e in await all_events(client, conversation_id)] == ["loading"]


# ------------------------------------------------------------------------------ generic HTTP
async def test_unknown_path_is_404_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nope")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    response = await client.delete("/alive")
    assert (response.status_code, response.json()) == (405, {"detail": "Method Not Allowed"})


async def test_json_responses_carry_no_cache_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/conversations")
    assert response.headers["cache-control"] == "no-cache, no-store, must-revalidate, max-age=0"
    assert (response.headers["pragma"], response.headers["expires"]) == ("no-cache", "0")
