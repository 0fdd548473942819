"""V1 start tasks: create, the status walk, stream-start, start-task queries, start faults."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from openhands_api.testing import ManualClock

from .conftest import MakeClient
from .v1_helpers import START_TIME, V1, conversation, ready, start, task_of

START_STATUSES = [
    "WORKING",
    "WAITING_FOR_SANDBOX",
    "PREPARING_REPOSITORY",
    "RUNNING_SETUP_SCRIPT",
    "SETTING_UP_GIT_HOOKS",
    "SETTING_UP_SKILLS",
    "STARTING_CONVERSATION",
    "READY",
]


@pytest.fixture
def v1(make_client: MakeClient) -> httpx.AsyncClient:
    return make_client(**V1)[0]


# ------------------------------------------------------------------------------ create
async def test_create_returns_a_working_start_task_with_real_keys(v1: httpx.AsyncClient) -> None:
    task = await start(v1)
    assert list(task) == [
        "id", "created_by_user_id", "status", "detail", "app_conversation_id", "sandbox_id",
        "agent_server_url", "request", "created_at", "updated_at",
    ]  # fmt: skip
    assert task["status"] == "WORKING"
    assert (task["app_conversation_id"], task["sandbox_id"], task["agent_server_url"]) == (None, None, None)
    assert len(task["id"]) == 32
    assert task["created_at"].endswith("Z")


async def test_create_echoes_the_request_with_defaults_filled_in(v1: httpx.AsyncClient) -> None:
    task = await start(v1, "hi")
    assert task["request"] == {
        "sandbox_id": None,
        "conversation_id": None,
        "initial_message": {
            "role": "user",
            "content": [{"cache_prompt": False, "type": "text", "text": "hi"}],
            "run": False,
        },
        "system_message_suffix": None,
        "processors": None,
        "llm_model": None,
        "agent_profile_id": None,
        "selected_repository": None,
        "selected_branch": None,
        "git_provider": None,
        "suggested_task": None,
        "title": None,
        "trigger": None,
        "pr_number": [],
        "parent_conversation_id": None,
        "agent_type": "default",
        "public": None,
        "plugins": None,
        "secrets": None,
    }


async def test_unknown_body_keys_are_ignored(v1: httpx.AsyncClient) -> None:
    response = await v1.post("/api/v1/app-conversations", json={"unknown_field": 1})
    assert response.status_code == 200
    assert response.json()["request"]["initial_message"] is None


async def test_wrong_types_give_422_in_field_order(v1: httpx.AsyncClient) -> None:
    response = await v1.post(
        "/api/v1/app-conversations", json={"title": 5, "pr_number": "x", "git_provider": "nope"}
    )
    assert response.status_code == 422
    assert [(e["type"], e["loc"]) for e in response.json()["detail"]] == [
        ("enum", ["body", "git_provider"]),
        ("string_type", ["body", "title"]),
        ("list_type", ["body", "pr_number"]),
    ]


async def test_initial_message_content_errors_name_both_content_kinds(v1: httpx.AsyncClient) -> None:
    response = await v1.post(
        "/api/v1/app-conversations", json={"initial_message": {"content": [{"type": "text"}]}}
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [
        ["body", "initial_message", "content", 0, "TextContent", "text"],
        ["body", "initial_message", "content", 0, "ImageContent", "type"],
        ["body", "initial_message", "content", 0, "ImageContent", "image_urls"],
    ]


async def test_initial_message_must_be_an_object(v1: httpx.AsyncClient) -> None:
    response = await v1.post("/api/v1/app-conversations", json={"initial_message": "not-an-object"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "model_attributes_type"


async def test_secrets_are_masked_in_the_echo(v1: httpx.AsyncClient) -> None:
    task = await start(v1, secrets={"MY_TOKEN": "s3cret"})
    assert task["request"]["secrets"] == {"MY_TOKEN": "**********"}


async def test_create_counts_start_calls(make_client: MakeClient) -> None:
    client, app = make_client(**V1)
    await start(client)
    await start(client)
    assert app.fake_state.start_calls == 2


# ------------------------------------------------------------------------------ the walk
async def test_start_task_walks_every_status_to_ready(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    task = await start(v1)
    seen = [task["status"]]
    for _ in range(40):
        clock.advance(0.025)
        status = (await task_of(v1, task["id"]))["status"]
        if status != seen[-1]:
            seen.append(status)
    assert seen == START_STATUSES


async def test_working_takes_most_of_the_start(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    task = await start(v1)
    clock.advance(0.29)
    assert (await task_of(v1, task["id"]))["status"] == "WORKING"
    clock.advance(0.02)
    assert (await task_of(v1, task["id"]))["status"] == "WAITING_FOR_SANDBOX"


async def test_sandbox_id_appears_at_waiting_and_agent_url_at_starting_conversation(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    task = await start(v1)
    clock.advance(0.31)
    waiting = await task_of(v1, task["id"])
    assert waiting["sandbox_id"] is not None
    assert waiting["agent_server_url"] is None
    clock.advance(0.17)
    starting = await task_of(v1, task["id"])
    assert starting["status"] == "STARTING_CONVERSATION"
    # On the fake's own origin (the client's base URL): the agent-server tier answers there.
    assert starting["agent_server_url"] == f"http://fake/_agent/{waiting['sandbox_id']}"
    assert starting["app_conversation_id"] is None


async def test_ready_fills_the_conversation_id(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    task = await start(v1)
    clock.advance(START_TIME)
    done = await task_of(v1, task["id"])
    assert done["status"] == "READY"
    assert len(done["app_conversation_id"]) == 32
    assert done["detail"] is None


async def test_start_task_reads_lack_the_timezone(v1: httpx.AsyncClient) -> None:
    task = await start(v1)
    read = await task_of(v1, task["id"])
    assert not read["created_at"].endswith("Z")
    assert read["created_at"] == task["created_at"][:-1]


async def test_start_task_delay_is_configurable(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(start_task_delay=10.0, **V1)
    task = await start(client)
    clock.advance(9.9)
    assert (await task_of(client, task["id"]))["status"] == "STARTING_CONVERSATION"
    clock.advance(0.2)
    assert (await task_of(client, task["id"]))["status"] == "READY"


async def test_conversation_does_not_exist_before_ready(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    await start(v1)
    clock.advance(0.4)
    search = (await v1.get("/api/v1/app-conversations/search")).json()
    assert search == {"items": [], "next_page_id": None}


async def test_requested_conversation_id_is_honoured_and_names_the_sandbox(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    wanted = uuid.uuid4()
    task = await start(v1, conversation_id=str(wanted))
    assert task["request"]["conversation_id"] == str(wanted)
    clock.advance(START_TIME)
    done = await task_of(v1, task["id"])
    assert done["app_conversation_id"] == wanted.hex
    assert done["sandbox_id"] == wanted.hex


async def test_requested_title_is_ignored(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await ready(v1, clock, None, title="my title")
    assert (await conversation(v1, conversation_id))["title"] == f"Conversation {conversation_id[:5]}"


async def test_bad_conversation_id_gives_422(v1: httpx.AsyncClient) -> None:
    response = await v1.post("/api/v1/app-conversations", json={"conversation_id": "nope"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "uuid_parsing"


async def test_unknown_parent_conversation_gives_a_plain_500(v1: httpx.AsyncClient) -> None:
    response = await v1.post("/api/v1/app-conversations", json={"parent_conversation_id": uuid.uuid4().hex})
    assert (response.status_code, response.text) == (500, "Internal Server Error")


async def test_sub_conversation_shares_the_parent_sandbox_and_is_listed_on_it(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    parent = await ready(v1, clock)
    child = await ready(v1, clock, "child", parent_conversation_id=parent)
    parent_info, child_info = await conversation(v1, parent), await conversation(v1, child)
    assert child_info["sandbox_id"] == parent_info["sandbox_id"]
    assert child_info["parent_conversation_id"] == parent
    assert parent_info["sub_conversation_ids"] == [child]
    listed = (await v1.get("/api/v1/app-conversations/search")).json()["items"]
    assert [c["id"] for c in listed] == [parent]


async def test_suggested_task_becomes_the_initial_message(v1: httpx.AsyncClient) -> None:
    suggested = {
        "git_provider": "github",
        "task_type": "OPEN_ISSUE",
        "repo": "o/r",
        "issue_number": 7,
        "title": "Fix it",
    }
    task = await start(v1, None, suggested_task=suggested)
    request = task["request"]
    assert request["trigger"] == "suggested_task"
    assert request["selected_repository"] == "o/r"
    assert request["initial_message"]["content"][0]["text"]


async def test_unknown_reused_sandbox_ends_in_error(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    task = await start(v1, sandbox_id="nope")
    clock.advance(START_TIME)
    failed = await task_of(v1, task["id"])
    assert (failed["status"], failed["detail"]) == ("ERROR", "Sandbox not found: nope")


# ------------------------------------------------------------------------------ stream-start
async def test_stream_start_streams_every_snapshot_as_a_json_array(v1: httpx.AsyncClient) -> None:
    body = {"initial_message": {"content": [{"type": "text", "text": "hi"}]}}
    response = await v1.post("/api/v1/app-conversations/stream-start", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    text = response.text
    assert text.startswith("[\n{")
    assert text.endswith("}]")
    assert ",\n{" in text
    items = json.loads(text)
    assert [i["status"] for i in items] == START_STATUSES
    assert len({i["id"] for i in items}) == 1
    assert items[-1]["created_at"].endswith("Z")


async def test_stream_start_of_a_failing_task_ends_with_error(v1: httpx.AsyncClient) -> None:
    body = {"initial_message": {"content": [{"type": "text", "text": "x [fake-start error]"}]}}
    items = json.loads((await v1.post("/api/v1/app-conversations/stream-start", json=body)).text)
    assert items[-1]["status"] == "ERROR"
    assert items[-2]["status"] == "STARTING_CONVERSATION"


# ------------------------------------------------------------------------------ start-task queries
async def test_start_tasks_batch_answers_null_for_unknown_ids(v1: httpx.AsyncClient) -> None:
    task = await start(v1)
    response = await v1.get(
        "/api/v1/app-conversations/start-tasks", params={"ids": [task["id"], uuid.uuid4().hex]}
    )
    assert [t and t["id"] for t in response.json()] == [task["id"], None]


async def test_start_tasks_batch_accepts_100_ids_and_refuses_101(v1: httpx.AsyncClient) -> None:
    ok = await v1.get(
        "/api/v1/app-conversations/start-tasks", params={"ids": [uuid.uuid4().hex for _ in range(100)]}
    )
    assert ok.status_code == 200
    too_many = await v1.get(
        "/api/v1/app-conversations/start-tasks", params={"ids": [uuid.uuid4().hex for _ in range(101)]}
    )
    assert too_many.status_code == 400
    assert too_many.json() == {"detail": "Cannot request more than 100 start tasks at once, got 101"}


async def test_start_tasks_batch_needs_uuids(v1: httpx.AsyncClient) -> None:
    response = await v1.get("/api/v1/app-conversations/start-tasks", params={"ids": "nope"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "ids", 0]


async def test_start_task_search_is_newest_first_with_offset_page_ids(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    first = await start(v1)
    clock.advance(1)
    second = await start(v1)
    page = (await v1.get("/api/v1/app-conversations/start-tasks/search", params={"limit": 1})).json()
    assert ([t["id"] for t in page["items"]], page["next_page_id"]) == ([second["id"]], "1")
    page = (
        await v1.get("/api/v1/app-conversations/start-tasks/search", params={"limit": 1, "page_id": "1"})
    ).json()
    assert ([t["id"] for t in page["items"]], page["next_page_id"]) == ([first["id"]], None)
    ascending = (
        await v1.get("/api/v1/app-conversations/start-tasks/search", params={"sort_order": "CREATED_AT"})
    ).json()
    assert [t["id"] for t in ascending["items"]] == [first["id"], second["id"]]


async def test_start_task_search_filters_by_conversation(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await ready(v1, clock)
    await start(v1)
    found = (
        await v1.get(
            "/api/v1/app-conversations/start-tasks/search", params={"conversation_id__eq": conversation_id}
        )
    ).json()["items"]
    assert [t["app_conversation_id"] for t in found] == [conversation_id]
    count = await v1.get(
        "/api/v1/app-conversations/start-tasks/count", params={"conversation_id__eq": conversation_id}
    )
    assert count.json() == 1
    assert (await v1.get("/api/v1/app-conversations/start-tasks/count")).json() == 2


async def test_start_task_search_rejects_unknown_sort_orders(v1: httpx.AsyncClient) -> None:
    response = await v1.get("/api/v1/app-conversations/start-tasks/search", params={"sort_order": "X"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == (
        "Input should be 'CREATED_AT', 'CREATED_AT_DESC', 'UPDATED_AT' or 'UPDATED_AT_DESC'"
    )


# ------------------------------------------------------------------------------ start faults
async def test_fake_start_error_directive_ends_the_task_in_error_with_a_detail(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    task = await start(v1, "go [fake-start error]")
    clock.advance(START_TIME)
    failed = await task_of(v1, task["id"])
    assert failed["status"] == "ERROR"
    assert failed["app_conversation_id"] is None
    agent_url = f"http://fake/_agent/{failed['sandbox_id']}"
    assert failed["agent_server_url"] == agent_url
    assert failed["detail"].startswith(
        f"Server error '500 Internal Server Error' for url '{agent_url}/api/conversations'\n"
    )


async def test_start_error_knob_fails_every_start(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(start_error=True, **V1)
    task = await start(client)
    clock.advance(START_TIME)
    assert (await task_of(client, task["id"]))["status"] == "ERROR"


async def test_noerror_directive_overrides_the_knob(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(start_error=True, **V1)
    task = await start(client, "go [fake-start noerror]")
    clock.advance(START_TIME)
    assert (await task_of(client, task["id"]))["status"] == "READY"


async def test_fake_start_stuck_directive_hangs_waiting_for_the_sandbox(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    task = await start(v1, "go [fake-start stuck]")
    clock.advance(3600)
    stuck = await task_of(v1, task["id"])
    assert stuck["status"] == "WAITING_FOR_SANDBOX"
    sandbox = (await v1.get("/api/v1/sandboxes", params={"id": stuck["sandbox_id"]})).json()[0]
    assert sandbox["status"] == "STARTING"


async def test_stuck_status_can_be_chosen(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(start_stuck="SETTING_UP_SKILLS", **V1)
    task = await start(client)
    clock.advance(3600)
    assert (await task_of(client, task["id"]))["status"] == "SETTING_UP_SKILLS"


def test_start_stuck_must_be_a_start_status() -> None:
    from openhands_api.testing import FakeServerConfig

    with pytest.raises(ValueError, match="start_stuck"):
        FakeServerConfig(generations="v1", start_stuck="READY")
