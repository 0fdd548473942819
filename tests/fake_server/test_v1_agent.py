"""The V1 scripted agent in simulated time: event sequences, execution_status, title, metrics, lag."""

from __future__ import annotations

import json

import httpx
import pytest

from openhands_api.testing import ManualClock

from .conftest import MakeClient
from .v1_helpers import (
    ONE_STEP_RUN,
    RUN_TIME,
    V1,
    conversation,
    events,
    kinds,
    ready,
    run,
    send,
    start,
    statuses,
)

FOLLOW_UP = [
    "ConversationStateUpdateEvent(execution_status)",
    "MessageEvent",
    "ConversationStateUpdateEvent(last_user_message_id)",
    "ConversationStateUpdateEvent(execution_status)",
    "ConversationStateUpdateEvent(stats)",
    "ActionEvent",
    "ObservationEvent",
    "ConversationStateUpdateEvent(execution_status)",
    "ConversationStateUpdateEvent(full_state)",
]
"""A follow-up to a finished conversation on 1.11.0 (observed): idle, message, running … finished."""


@pytest.fixture
def v1(make_client: MakeClient) -> httpx.AsyncClient:
    return make_client(**V1)[0]


async def status_of(client: httpx.AsyncClient, conversation_id: str) -> str | None:
    status: str | None = (await conversation(client, conversation_id))["execution_status"]
    return status


# ------------------------------------------------------------------------------ first run
async def test_one_step_run_lists_the_real_event_sequence(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    items = await events(v1, await run(v1, clock))
    assert kinds(items) == ONE_STEP_RUN
    assert statuses(items) == ["running", "finished"]
    assert [e["source"] for e in items] == [
        "environment", "agent", "user", "environment", "environment", "environment",
        "environment", "agent", "environment", "environment", "environment",
    ]  # fmt: skip


async def test_events_carry_dashed_ids_and_timestamps_without_timezone(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    items = await events(v1, await run(v1, clock))
    assert all(len(e["id"]) == 36 and e["id"].count("-") == 4 for e in items)
    assert all("+" not in e["timestamp"] and not e["timestamp"].endswith("Z") for e in items)
    assert [e["timestamp"] for e in items] == sorted(e["timestamp"] for e in items)
    assert all(list(e)[:4] == ["id", "timestamp", "source", "parent_id"] for e in items)
    assert all(list(e)[-1] == "kind" for e in items)


async def test_parent_ids_link_the_run_as_on_the_real_server(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    items = await events(v1, await run(v1, clock))
    full_state, system, message, last_user_message = items[0], items[1], items[2], items[3]
    action, observation, finished = items[7], items[8], items[9]
    assert full_state["parent_id"] is None
    assert system["parent_id"] is None
    assert message["parent_id"] == system["id"]
    assert last_user_message["parent_id"] == message["id"] == last_user_message["value"]
    assert action["parent_id"] == message["id"]
    assert observation["parent_id"] == action["id"] == observation["action_id"]
    assert items[6]["parent_id"] == observation["id"]  # a step's stats point at what follows them
    assert finished["parent_id"] == observation["id"]


async def test_finish_action_and_observation_carry_the_message(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    items = await events(v1, await run(v1, clock))
    action, observation = items[7], items[8]
    assert action["action"] == {"message": "Task complete (fake LLM).", "kind": "FinishAction"}
    assert action["tool_name"] == "finish"
    assert action["tool_call"]["arguments"] == json.dumps({"message": "Task complete (fake LLM)."})
    assert action["tool_call"]["id"] == action["tool_call_id"] == observation["tool_call_id"]
    assert action["summary"] == 'finish: {"message": "Task complete (fake LLM)."}'
    assert action["security_risk"] == "UNKNOWN"
    assert observation["observation"] == {
        "content": [{"cache_prompt": False, "type": "text", "text": "Task complete (fake LLM)."}],
        "is_error": False,
        "kind": "FinishObservation",
    }


async def test_user_message_event_repeats_the_message(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    items = await events(v1, await run(v1, clock, "Say hi"), kind__eq="MessageEvent")
    assert items[0]["source"] == "user"
    assert items[0]["llm_message"]["role"] == "user"
    assert items[0]["llm_message"]["content"] == [{"cache_prompt": False, "type": "text", "text": "Say hi"}]


async def test_full_state_dumps_the_state_at_creation_and_after_the_run(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock)
    items = await events(v1, conversation_id)
    first, last = items[0]["value"], items[-1]["value"]
    assert first["execution_status"] == "idle"
    assert last["execution_status"] == "finished"
    assert first["id"] == f"{conversation_id[:8]}-{conversation_id[8:12]}-{conversation_id[12:16]}-" + (
        f"{conversation_id[16:20]}-{conversation_id[20:]}"
    )
    assert "last_user_message_id" not in first
    assert last["leaf_event_id"] == items[8]["id"]
    assert last["stats"]["usage_to_metrics"]["agent"]["accumulated_token_usage"]["prompt_tokens"] == 20


async def test_status_is_idle_at_ready_then_running_then_finished(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await ready(v1, clock)
    # ``ready`` advanced well past READY, so start over with a fresh one and watch closely.
    task = await start(v1)
    clock.advance(0.5)
    fresh = (await v1.get("/api/v1/app-conversations/start-tasks", params={"ids": task["id"]})).json()[0]
    assert fresh["status"] == "READY"
    assert await status_of(v1, fresh["app_conversation_id"]) == "idle"
    clock.advance(0.05)
    assert await status_of(v1, fresh["app_conversation_id"]) == "running"
    clock.advance(0.05)
    assert await status_of(v1, fresh["app_conversation_id"]) == "finished"
    assert await status_of(v1, conversation_id) == "finished"


async def test_conversation_without_a_message_stays_idle_with_its_state_only(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await ready(v1, clock, None)
    clock.advance(RUN_TIME)
    assert await status_of(v1, conversation_id) == "idle"
    assert kinds(await events(v1, conversation_id)) == ["ConversationStateUpdateEvent(full_state)"]
    assert (await conversation(v1, conversation_id))["title"] == f"Conversation {conversation_id[:5]}"


# ------------------------------------------------------------------------------ directives
async def test_think_steps_come_before_the_finish(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    items = await events(v1, await run(v1, clock, "go [fake-llm steps=2]"))
    actions = [e for e in items if e["kind"] == "ActionEvent"]
    assert [a["tool_name"] for a in actions] == ["think", "think", "finish"]
    assert actions[0]["action"] == {"thought": "Fake step 1 of 2.", "kind": "ThinkAction"}
    thoughts = [e for e in items if e["kind"] == "ObservationEvent" and e["tool_name"] == "think"]
    assert thoughts[0]["observation"]["content"][0]["text"] == "Your thought has been logged."
    assert thoughts[0]["observation"]["kind"] == "ThinkObservation"


async def test_llm_error_ends_the_run_in_error_with_a_conversation_error_event(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock, "fail [fake-llm error]")
    items = await events(v1, conversation_id)
    assert kinds(items)[4:] == [
        "ConversationStateUpdateEvent(execution_status)",
        "ConversationStateUpdateEvent(stats)",
        "ConversationStateUpdateEvent(execution_status)",
        "ConversationErrorEvent",
        "ConversationStateUpdateEvent(full_state)",
    ]
    error = items[-2]
    assert (error["source"], error["code"]) == ("environment", "LLMServiceUnavailableError")
    assert error["detail"] == (
        "litellm.InternalServerError: InternalServerError: OpenAIException - "
        "Fake LLM error (injected, HTTP 500)."
    )
    assert await status_of(v1, conversation_id) == "error"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "LLMBadRequestError"),
        (401, "LLMBadRequestError"),
        (429, "LLMRateLimitError"),
        (503, "LLMServiceUnavailableError"),
    ],
)
async def test_llm_error_codes_follow_the_sdk(
    v1: httpx.AsyncClient, clock: ManualClock, status: int, code: str
) -> None:
    items = await events(
        v1, await run(v1, clock, f"fail [fake-llm error={status}]"), kind__eq="ConversationErrorEvent"
    )
    assert items[0]["code"] == code
    assert items[0]["detail"].endswith(f"Fake LLM error (injected, HTTP {status}).")


async def test_plain_text_answer_ends_the_run_finished_with_an_agent_message(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock, "ask me [fake-llm ask]")
    items = await events(v1, conversation_id)
    assert "ActionEvent" not in kinds(items)
    assert kinds(items)[-5:] == [
        "StreamingDeltaEvent",
        "ConversationStateUpdateEvent(stats)",
        "MessageEvent",
        "ConversationStateUpdateEvent(execution_status)",
        "ConversationStateUpdateEvent(full_state)",
    ]
    answer = items[-3]
    assert (answer["source"], answer["llm_message"]["role"]) == ("agent", "assistant")
    assert answer["llm_message"]["content"][0]["text"] == "Which file should I look at next? (fake LLM asks)"
    assert items[-5]["content"] == answer["llm_message"]["content"][0]["text"]
    assert await status_of(v1, conversation_id) == "finished"


async def test_delay_directive_keeps_the_run_running(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await ready(v1, clock, "slow [fake-llm delay=5]")
    clock.advance(3)
    assert await status_of(v1, conversation_id) == "running"
    clock.advance(3)
    assert await status_of(v1, conversation_id) == "finished"


async def test_server_wide_llm_knobs_apply_to_v1(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(llm_steps=1, **V1)
    items = await events(client, await run(client, clock))
    assert [e["tool_name"] for e in items if e["kind"] == "ActionEvent"] == ["think", "finish"]


# ------------------------------------------------------------------------------ follow-ups
async def test_follow_up_goes_idle_running_finished(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    before = len(await events(v1, conversation_id))
    response = await send(v1, conversation_id, "Now say bye and finish.")
    assert response.json() == {"success": True, "sandbox_status": "RUNNING", "message": None}
    clock.advance(RUN_TIME)
    items = (await events(v1, conversation_id))[before:]
    assert kinds(items) == FOLLOW_UP
    assert statuses(items) == ["idle", "running", "finished"]


async def test_previous_finished_stays_visible_right_after_send_message(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock)
    await send(v1, conversation_id, "again")
    assert await status_of(v1, conversation_id) == "finished"  # stale: the message is on its way
    clock.advance(0.1)
    assert await status_of(v1, conversation_id) == "idle"
    clock.advance(0.05)
    assert await status_of(v1, conversation_id) == "running"
    clock.advance(0.05)
    assert await status_of(v1, conversation_id) == "finished"


async def test_send_message_delay_sets_the_stale_window(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(send_message_delay=2.0, **V1)
    conversation_id = await run(client, clock)
    await send(client, conversation_id, "again")
    clock.advance(1.9)
    assert await status_of(client, conversation_id) == "finished"
    clock.advance(0.12)
    assert await status_of(client, conversation_id) == "idle"


async def test_run_false_only_queues_the_message(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    before = len(await events(v1, conversation_id))
    await send(v1, conversation_id, "just so you know", run=False)
    clock.advance(RUN_TIME)
    assert await status_of(v1, conversation_id) == "idle"
    assert kinds((await events(v1, conversation_id))[before:]) == [
        "ConversationStateUpdateEvent(execution_status)",
        "MessageEvent",
        "ConversationStateUpdateEvent(last_user_message_id)",
    ]


async def test_message_after_an_error_runs_without_an_idle_update(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock, "fail [fake-llm error=400]")
    before = len(await events(v1, conversation_id))
    await send(v1, conversation_id, "try again [fake-llm noerror]")
    clock.advance(RUN_TIME)
    items = (await events(v1, conversation_id))[before:]
    assert statuses(items) == ["running", "finished"]
    assert kinds(items)[0] == "MessageEvent"


async def test_directives_of_earlier_messages_still_count(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock, "go [fake-llm steps=1]")
    before = len(await events(v1, conversation_id))
    await send(v1, conversation_id, "again")
    clock.advance(RUN_TIME)
    actions = [e for e in (await events(v1, conversation_id))[before:] if e["kind"] == "ActionEvent"]
    assert [a["tool_name"] for a in actions] == ["think", "finish"]


async def test_message_during_a_run_restarts_the_turn(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await ready(v1, clock, "slow [fake-llm delay=5]")
    await send(v1, conversation_id, "faster [fake-llm delay=0]")
    clock.advance(1)
    assert await status_of(v1, conversation_id) == "finished"
    assert statuses(await events(v1, conversation_id)) == ["running", "finished"]


# ------------------------------------------------------------------------------ title and metrics
async def test_title_becomes_fake_title_after_the_first_message(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await ready(v1, clock)
    assert (await conversation(v1, conversation_id))["title"] == "Fake title"
    task = await start(v1)
    clock.advance(0.5)
    fresh = (await v1.get("/api/v1/app-conversations/start-tasks", params={"ids": task["id"]})).json()[0]
    assert (await conversation(v1, fresh["app_conversation_id"]))["title"].startswith("Conversation ")


async def test_metrics_accumulate_ten_and_five_tokens_per_llm_call(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock)
    usage = (await conversation(v1, conversation_id))["metrics"]["accumulated_token_usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["per_turn_token"]) == (20, 10, 15)
    await send(v1, conversation_id, "again [fake-llm steps=2]")
    clock.advance(RUN_TIME)
    metrics = (await conversation(v1, conversation_id))["metrics"]
    assert metrics["accumulated_token_usage"]["prompt_tokens"] == 50
    assert metrics["model_name"] == "default"
    assert metrics["accumulated_token_usage"]["model"] == ""


async def test_updated_at_moves_with_each_run(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    first = (await conversation(v1, conversation_id))["updated_at"]
    await send(v1, conversation_id, "again")
    clock.advance(RUN_TIME)
    assert (await conversation(v1, conversation_id))["updated_at"] > first


async def test_without_stored_settings_the_run_fails_authenticating(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, _app = make_client(settings_stored=False, **V1)
    conversation_id = await run(client, clock)
    assert await status_of(client, conversation_id) == "error"
    error = (await events(client, conversation_id, kind__eq="ConversationErrorEvent"))[0]
    assert error["code"] == "LLMAuthenticationError"
    assert (await conversation(client, conversation_id))["llm_model"] == "gpt-5.5"


# ------------------------------------------------------------------------------ webhook lag
async def test_without_lag_every_event_is_listed_at_once(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    count = (await v1.get(f"/api/v1/conversation/{conversation_id}/events/count")).json()
    assert count == len(ONE_STEP_RUN)


async def test_lag_lists_events_in_batches_of_five(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(webhook_flush_delay=30.0, **V1)
    conversation_id = await run(client, clock)
    assert await status_of(client, conversation_id) == "finished"  # live, not lagging
    counts = (await client.get(f"/api/v1/conversation/{conversation_id}/events/count")).json()
    assert counts == 10  # 11 events: two full batches, the last one still waits


async def test_lag_posts_a_partial_batch_after_the_flush_delay(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, _ = make_client(webhook_flush_delay=30.0, **V1)
    conversation_id = await run(client, clock)
    count_url = f"/api/v1/conversation/{conversation_id}/events/count"
    clock.advance(25)
    assert (await client.get(count_url)).json() == 10
    clock.advance(10)
    assert (await client.get(count_url)).json() == len(ONE_STEP_RUN)


async def test_lag_batch_size_is_configurable(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(webhook_flush_delay=30.0, webhook_batch_size=1, **V1)
    conversation_id = await run(client, clock)
    assert (await client.get(f"/api/v1/conversation/{conversation_id}/events/count")).json() == len(
        ONE_STEP_RUN
    )


async def test_lagging_stats_hold_back_metrics(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(webhook_flush_delay=30.0, webhook_batch_size=100, **V1)
    conversation_id = await run(client, clock)
    usage = (await conversation(client, conversation_id))["metrics"]["accumulated_token_usage"]
    assert usage["prompt_tokens"] == 0
    clock.advance(31)
    usage = (await conversation(client, conversation_id))["metrics"]["accumulated_token_usage"]
    assert usage["prompt_tokens"] == 20
