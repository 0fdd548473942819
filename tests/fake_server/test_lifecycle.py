"""The V0 conversation lifecycle and the scripted agent's runs, in simulated time."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from openhands_api.testing import ManualClock

from .conftest import MakeClient
from .helpers import RUN_TIME, agent_states, all_events, create, info, kinds, last_agent_state, run

ONE_STEP_RUN = [
    ("environment", "observation:agent_state_changed"),
    ("agent", "action:system"),
    ("user", "action:message"),
    ("environment", "action:change_agent_state"),
    ("user", "action:recall"),
    ("environment", "observation:agent_state_changed"),
    ("environment", "observation:recall"),
    ("agent", "action:finish"),
    ("environment", "observation:agent_state_changed"),
]
"""CONTRACT.md §3.5: a real one-step run on 1.6.0."""

FOLLOW_UP = [
    ("user", "action:message"),
    ("user", "action:recall"),
    ("environment", "observation:agent_state_changed"),
    ("environment", "observation:null"),
    ("agent", "action:finish"),
    ("environment", "observation:agent_state_changed"),
]
"""A follow-up message to a finished conversation (real capture, event ids 9–14)."""


def shape(events: list[dict[str, object]]) -> list[tuple[object, str]]:
    return [(e["source"], kinds([e])[0]) for e in events]


async def wait_for_turn(
    client: httpx.AsyncClient, clock: ManualClock, conversation_id: str
) -> list[dict[str, object]]:
    clock.advance(RUN_TIME)
    return await all_events(client, conversation_id)


# ------------------------------------------------------------------------------ startup
async def test_status_is_starting_until_the_startup_delay_has_passed(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await create(client)
    clock.advance(0.49)
    assert (await info(client, conversation_id))["status"] == "STARTING"
    assert len(await all_events(client, conversation_id)) == 1
    clock.advance(0.02)
    data = await info(client, conversation_id)
    assert (data["status"], data["runtime_status"]) == ("RUNNING", "STATUS$READY")


async def test_startup_delay_and_speed_are_configurable(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(startup_delay=10.0, speed=4.0)
    conversation_id = await create(client)
    clock.advance(2.4)
    assert (await info(client, conversation_id))["status"] == "STARTING"
    clock.advance(0.2)
    assert (await info(client, conversation_id))["status"] == "RUNNING"


# ------------------------------------------------------------------------------ finish
async def test_one_step_run_produces_the_real_event_sequence(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    events = await all_events(client, await run(client, clock))
    assert [e["id"] for e in events] == list(range(len(ONE_STEP_RUN)))
    assert shape(events) == ONE_STEP_RUN
    assert agent_states(events) == ["loading", "running", "finished"]
    assert events[6]["cause"] == 4  # the recall observation answers the recall action
    assert events[4]["args"]["recall_type"] == "workspace_context"


async def test_status_stays_running_after_the_agent_finished(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock)
    clock.advance(3600)
    data = await info(client, conversation_id)
    assert (data["status"], data["runtime_status"]) == ("RUNNING", "STATUS$READY")
    assert last_agent_state(await all_events(client, conversation_id)) == "finished"


async def test_finish_event_carries_final_thought_tool_call_and_metrics(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    events = await all_events(client, await run(client, clock))
    finish = events[7]
    assert list(finish) == [
        "id", "timestamp", "source", "message", "action", "tool_call_metadata", "llm_metrics", "args",
    ]  # fmt: skip
    assert finish["message"] == "All done! What's next on the agenda?"
    assert finish["args"] == {"final_thought": "Task complete (fake LLM).", "outputs": {}, "thought": ""}
    assert finish["tool_call_metadata"]["function_name"] == "finish"
    assert finish["tool_call_metadata"]["tool_call_id"] == "toolu_01"
    assert finish["llm_metrics"]["accumulated_token_usage"]["prompt_tokens"] > 0


async def test_user_message_event_repeats_the_initial_message_and_images(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock, "Look at this", image_urls=["https://x/y.png"])
    message = (await all_events(client, conversation_id))[2]
    assert message["message"] == "Look at this"
    assert message["args"] == {
        "content": "Look at this",
        "file_urls": None,
        "image_urls": ["https://x/y.png"],
        "wait_for_response": False,
        "security_risk": -1,
    }


async def test_conversation_instructions_appear_in_the_workspace_context(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock, conversation_instructions="Be brief.")
    recall = (await all_events(client, conversation_id))[6]
    assert recall["observation"] == "recall"
    assert recall["extras"]["conversation_instructions"] == "Be brief."


async def test_events_materialise_lazily_with_step_spaced_timestamps(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await create(client, "Go [fake-llm steps=2]")
    clock.advance(RUN_TIME)  # nobody looked while the run happened
    events = await all_events(client, conversation_id)
    times = {e["id"]: datetime.fromisoformat(e["timestamp"]) for e in events}
    # system at startup (0.5 s); each LLM call takes step_delay (0.05 s)
    assert (times[1] - times[0]).total_seconds() == pytest.approx(0.5, abs=1e-3)
    assert (times[7] - times[1]).total_seconds() == pytest.approx(0.05, abs=1e-3)
    assert (times[9] - times[7]).total_seconds() == pytest.approx(0.05, abs=1e-3)


async def test_no_initial_message_leaves_the_agent_awaiting_user_input(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock, None)
    events = await all_events(client, conversation_id)
    assert kinds(events) == [
        "observation:agent_state_changed",
        "action:system",
        "action:change_agent_state",
        "observation:agent_state_changed",
    ]
    assert agent_states(events) == ["loading", "awaiting_user_input"]


# ------------------------------------------------------------------------------ title
async def test_title_becomes_fake_title_after_the_first_message(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await create(client)
    assert (await info(client, conversation_id))["title"] == f"Conversation {conversation_id[:5]}"
    clock.advance(RUN_TIME)
    assert (await info(client, conversation_id))["title"] == "Fake title"


async def test_a_patched_title_is_not_overwritten_by_the_generated_one(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await create(client)
    await client.patch(f"/api/conversations/{conversation_id}", json={"title": "mine"})
    clock.advance(RUN_TIME)
    assert (await info(client, conversation_id))["title"] == "mine"


# ------------------------------------------------------------------------------ directives
async def test_ask_directive_ends_the_turn_with_a_question(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    events = await all_events(client, await run(client, clock, "Help me [fake-llm ask]"))
    question, state = events[-2], events[-1]
    assert list(question) == ["id", "timestamp", "source", "message", "action", "llm_metrics", "args"]
    assert (question["source"], question["action"]) == ("agent", "message")
    assert question["args"]["wait_for_response"] is True
    assert question["args"]["content"] == question["message"]
    assert question["args"]["content"]
    assert state["extras"] == {"agent_state": "awaiting_user_input", "reason": ""}


async def test_error_directive_fails_like_an_llm_500(client: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(client, clock, "Fail [fake-llm error]")
    events = await all_events(client, conversation_id)
    assert kinds(events)[-2:] == ["observation:recall", "observation:agent_state_changed"]
    assert events[-1]["extras"] == {
        "agent_state": "error",
        "reason": "STATUS$ERROR_LLM_INTERNAL_SERVER_ERROR",
    }
    assert (await info(client, conversation_id))["status"] == "RUNNING"


async def test_error_400_after_a_step_has_the_bad_request_reason(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    events = await all_events(client, await run(client, clock, "Fail [fake-llm steps=1 error=400]"))
    assert kinds(events)[-3:] == ["action:think", "observation:think", "observation:agent_state_changed"]
    assert events[-1]["extras"]["reason"] == (
        "BadRequestError: litellm.BadRequestError: OpenAIException - Fake LLM error (injected, HTTP 400)."
    )


async def test_error_429_leaves_the_agent_rate_limited(client: httpx.AsyncClient, clock: ManualClock) -> None:
    events = await all_events(client, await run(client, clock, "Fail [fake-llm error=429]"))
    assert events[-1]["extras"] == {"agent_state": "rate_limited", "reason": ""}


async def test_steps_directive_makes_a_long_run_with_consecutive_ids(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await create(client, "Work hard [fake-llm steps=60]")
    clock.advance(10.0)
    events = await all_events(client, conversation_id)
    assert [e["id"] for e in events] == list(range(7 + 2 * 60 + 2))
    thinks = [e for e in events if e.get("action") == "think"]
    assert len(thinks) == 60
    assert thinks[0]["args"] == {"thought": "Fake step 1 of 60."}
    assert thinks[-1]["message"] == "I am thinking...: Fake step 60 of 60."
    observation = events[8]
    assert (observation["observation"], observation["cause"]) == ("think", 7)
    assert observation["tool_call_metadata"]["tool_call_id"] == "toolu_01"
    assert events[-2]["tool_call_metadata"]["tool_call_id"] == "toolu_61"
    assert last_agent_state(events) == "finished"


async def test_delay_directive_keeps_the_agent_running_meanwhile(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await create(client, "Slowly [fake-llm delay=2]")
    clock.advance(1.5)
    assert last_agent_state(await all_events(client, conversation_id)) == "running"
    clock.advance(1.5)
    assert last_agent_state(await all_events(client, conversation_id)) == "finished"


async def test_server_wide_defaults_apply_without_directives(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, _ = make_client(llm_steps=2, llm_ask=True)
    events = await all_events(client, await run(client, clock, "plain"))
    assert kinds(events).count("action:think") == 2
    assert last_agent_state(events) == "awaiting_user_input"


async def test_noerror_directive_overrides_a_server_wide_error(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, _ = make_client(llm_error=500)
    assert last_agent_state(await all_events(client, await run(client, clock, "x"))) == "error"
    events = await all_events(client, await run(client, clock, "x [fake-llm noerror]"))
    assert last_agent_state(events) == "finished"


# ------------------------------------------------------------------------------ follow-ups
async def test_follow_up_message_adds_the_real_follow_up_events(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock)
    response = await client.post(
        f"/api/conversations/{conversation_id}/message", json={"message": "Now say bye."}
    )
    assert (response.status_code, response.json()) == (200, {"success": True})
    events = await wait_for_turn(client, clock, conversation_id)
    follow_up = events[9:]
    assert [e["id"] for e in follow_up] == list(range(9, 15))
    assert shape(follow_up) == FOLLOW_UP
    assert follow_up[0]["args"]["image_urls"] is None
    assert follow_up[1]["args"] == {"recall_type": "knowledge", "query": "Now say bye.", "thought": ""}
    assert follow_up[3]["cause"] == 10
    assert agent_states(follow_up) == ["running", "finished"]


async def test_follow_up_events_up_to_running_appear_immediately(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock)
    await client.post(f"/api/conversations/{conversation_id}/message", json={"message": "more"})
    events = await all_events(client, conversation_id)
    assert kinds(events[9:]) == [
        "action:message",
        "action:recall",
        "observation:agent_state_changed",
        "observation:null",
    ]
    assert last_agent_state(events) == "running"


async def test_follow_up_inherits_directives_of_earlier_messages(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock, "First [fake-llm steps=2]")
    await client.post(f"/api/conversations/{conversation_id}/message", json={"message": "again"})
    events = await wait_for_turn(client, clock, conversation_id)
    second_turn = events[events.index(next(e for e in events if e.get("message") == "again")) :]
    assert kinds(second_turn).count("action:think") == 2


async def test_later_directives_win(client: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(client, clock, "First [fake-llm error]")
    await client.post(
        f"/api/conversations/{conversation_id}/message", json={"message": "retry [fake-llm noerror]"}
    )
    events = await wait_for_turn(client, clock, conversation_id)
    assert agent_states(events)[-3:] == ["error", "running", "finished"]


async def test_message_during_a_run_restarts_the_turn(client: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await create(client, "Long [fake-llm steps=10]")
    clock.advance(0.5 + 0.05 * 3 + 0.01)  # three think steps done
    await client.post(
        f"/api/conversations/{conversation_id}/message", json={"message": "stop that [fake-llm steps=0]"}
    )
    events = await wait_for_turn(client, clock, conversation_id)
    assert kinds(events).count("action:think") == 3
    tail = events[
        events.index(next(e for e in events if e.get("message") == "stop that [fake-llm steps=0]")) :
    ]
    # already running: no second "running" state change
    assert kinds(tail) == ["action:message", "action:recall", "observation:null", "action:finish",
                           "observation:agent_state_changed"]  # fmt: skip
    assert last_agent_state(events) == "finished"


async def test_message_while_starting_is_recorded_before_the_system_event(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await create(client, "First")
    response = await client.post(f"/api/conversations/{conversation_id}/message", json={"message": "early"})
    assert response.json() == {"success": True}
    events = await wait_for_turn(client, clock, conversation_id)
    assert kinds(events)[:3] == ["observation:agent_state_changed", "action:message", "action:system"]
    assert events[1]["args"]["content"] == "early"
    assert last_agent_state(events) == "finished"


async def test_message_while_restarting_is_answered_once_the_runtime_is_up(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock)
    await client.post(f"/api/conversations/{conversation_id}/stop")
    await client.post(f"/api/conversations/{conversation_id}/start", json={})
    await client.post(f"/api/conversations/{conversation_id}/message", json={"message": "while starting"})
    events = await wait_for_turn(client, clock, conversation_id)
    assert agent_states(events)[-4:] == ["stopped", "loading", "running", "finished"]


async def test_first_message_while_starting_without_initial_message_is_answered(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await create(client, None)
    await client.post(
        f"/api/conversations/{conversation_id}/message", json={"message": "hello [fake-llm ask]"}
    )
    events = await wait_for_turn(client, clock, conversation_id)
    assert kinds(events)[3:5] == ["action:recall", "observation:agent_state_changed"]
    assert events[3]["args"]["recall_type"] == "workspace_context"
    assert last_agent_state(events) == "awaiting_user_input"


async def test_message_without_message_field_is_422(client: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(client, clock)
    response = await client.post(f"/api/conversations/{conversation_id}/message", json={})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"type": "missing", "loc": ["body", "message"], "msg": "Field required", "input": {}}]
    }


async def test_message_to_unknown_conversation_is_404(client: httpx.AsyncClient) -> None:
    unknown = "0123456789abcdef0123456789abcdef"
    response = await client.post(f"/api/conversations/{unknown}/message", json={"message": "x"})
    assert (response.status_code, response.json()) == (404, {"detail": f"Conversation {unknown} not found"})


async def test_message_to_stopped_conversation_is_500_no_conversation(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock)
    await client.post(f"/api/conversations/{conversation_id}/stop")
    response = await client.post(f"/api/conversations/{conversation_id}/message", json={"message": "x"})
    assert response.status_code == 500
    assert response.json() == {
        "success": False,
        "error": f"Error adding message to conversation: no_conversation:{conversation_id}",
    }


async def test_message_to_stopped_conversation_is_404_with_a_cold_attach_cache(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, _ = make_client(stopped_attach_cached=False)
    conversation_id = await run(client, clock)
    await client.post(f"/api/conversations/{conversation_id}/stop")
    response = await client.post(f"/api/conversations/{conversation_id}/message", json={"message": "x"})
    assert response.status_code == 404


async def test_raw_event_to_stopped_conversation_is_plain_500(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock)
    await client.post(f"/api/conversations/{conversation_id}/stop")
    response = await client.post(
        f"/api/conversations/{conversation_id}/events", json={"action": "message", "args": {"content": "x"}}
    )
    assert (response.status_code, response.text) == (500, "Internal Server Error")


async def test_raw_message_event_starts_a_turn(client: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(client, clock)
    response = await client.post(
        f"/api/conversations/{conversation_id}/events",
        json={
            "action": "message",
            "args": {"content": "raw event path", "image_urls": None, "wait_for_response": False},
        },
    )
    assert (response.status_code, response.json()) == (200, {"success": True})
    events = await wait_for_turn(client, clock, conversation_id)
    assert events[9]["args"]["content"] == "raw event path"
    assert agent_states(events)[-2:] == ["running", "finished"]


async def test_raw_change_agent_state_event_changes_the_agent_state(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await create(client, "Long [fake-llm steps=50]")
    clock.advance(0.7)
    await client.post(
        f"/api/conversations/{conversation_id}/events",
        json={"action": "change_agent_state", "args": {"agent_state": "paused"}},
    )
    events = await wait_for_turn(client, clock, conversation_id)
    assert last_agent_state(events) == "paused"
    assert kinds(events)[-2:] == ["action:change_agent_state", "observation:agent_state_changed"]


# ------------------------------------------------------------------------------ stop / start
async def test_stop_appends_stopped_and_clears_the_runtime_fields(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock)
    await client.post(f"/api/conversations/{conversation_id}/stop")
    data = await info(client, conversation_id)
    assert (data["status"], data["runtime_status"], data["url"]) == ("STOPPED", None, None)
    events = await all_events(client, conversation_id)
    assert events[-1]["extras"] == {"agent_state": "stopped", "reason": ""}
    assert events[-1]["id"] == 9


async def test_stop_does_not_touch_last_updated_at(client: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(client, clock)
    before = (await info(client, conversation_id))["last_updated_at"]
    clock.advance(60)
    await client.post(f"/api/conversations/{conversation_id}/stop")
    assert (await info(client, conversation_id))["last_updated_at"] == before


async def test_stop_cancels_the_rest_of_the_run(client: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await create(client, "Long [fake-llm steps=50]")
    clock.advance(0.7)
    await client.post(f"/api/conversations/{conversation_id}/stop")
    count = len(await all_events(client, conversation_id))
    clock.advance(60)
    assert len(await all_events(client, conversation_id)) == count


async def test_start_on_stopped_restarts_with_loading_then_awaiting_user_input(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock)
    await client.post(f"/api/conversations/{conversation_id}/stop")
    response = await client.post(f"/api/conversations/{conversation_id}/start", json={"providers_set": []})
    assert response.json()["conversation_status"] == "STARTING"
    data = await info(client, conversation_id)
    assert (data["status"], data["runtime_status"]) == ("STARTING", "STATUS$STARTING_RUNTIME")
    events = await wait_for_turn(client, clock, conversation_id)
    assert kinds(events[10:]) == [
        "observation:agent_state_changed",
        "action:change_agent_state",
        "observation:agent_state_changed",
    ]
    assert agent_states(events)[-3:] == ["stopped", "loading", "awaiting_user_input"]
    assert events[11]["args"] == {"agent_state": "awaiting_user_input", "thought": ""}
    assert (await info(client, conversation_id))["status"] == "RUNNING"


async def test_restarted_conversation_takes_follow_up_messages(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock)
    await client.post(f"/api/conversations/{conversation_id}/stop")
    await client.post(f"/api/conversations/{conversation_id}/start", json={})
    clock.advance(RUN_TIME)
    await client.post(f"/api/conversations/{conversation_id}/message", json={"message": "after restart"})
    events = await wait_for_turn(client, clock, conversation_id)
    assert agent_states(events)[-2:] == ["running", "finished"]


@pytest.mark.parametrize("directive", ["[fake-start stuck]", "[fake-start error]"])
async def test_start_directive_leaves_the_runtime_starting_for_good(
    client: httpx.AsyncClient, clock: ManualClock, directive: str
) -> None:
    """1.6.0 shows a runtime that never came up (or failed to) as STARTING, no event after
    ``loading`` and no error in ``runtime_status`` (seen in CI: its start gave up after 120 s)."""
    conversation_id = await create(client, f"Hello. {directive}")
    clock.advance(3600)
    data = await info(client, conversation_id)
    assert (data["status"], data["runtime_status"]) == ("STARTING", "STATUS$STARTING_RUNTIME")
    assert agent_states(await all_events(client, conversation_id)) == ["loading"]
    await client.post(f"/api/conversations/{conversation_id}/stop")
    assert (await info(client, conversation_id))["status"] == "STOPPED"


async def test_start_directive_in_a_follow_up_hangs_the_next_restart_and_nostuck_undoes_it(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock)
    await client.post(
        f"/api/conversations/{conversation_id}/message", json={"message": "On. [fake-start stuck]"}
    )
    events = await wait_for_turn(client, clock, conversation_id)
    assert agent_states(events)[-1] == "finished"  # the running runtime is not affected
    await client.post(f"/api/conversations/{conversation_id}/stop")
    await client.post(f"/api/conversations/{conversation_id}/start", json={})
    clock.advance(3600)
    assert (await info(client, conversation_id))["status"] == "STARTING"
    await client.post(
        f"/api/conversations/{conversation_id}/message", json={"message": "[fake-start nostuck]"}
    )
    await client.post(f"/api/conversations/{conversation_id}/stop")
    await client.post(f"/api/conversations/{conversation_id}/start", json={})
    await wait_for_turn(client, clock, conversation_id)
    assert (await info(client, conversation_id))["status"] == "RUNNING"


# ------------------------------------------------------------------------------ concurrency
async def test_fourth_running_conversation_evicts_the_least_recently_updated(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    first = await run(client, clock)
    second = await run(client, clock)
    third = await run(client, clock)
    # a message makes the first one the most recently updated; the second is now the oldest
    await client.post(f"/api/conversations/{first}/message", json={"message": "keep me"})
    clock.advance(RUN_TIME)
    fourth = await create(client)
    statuses = {cid: (await info(client, cid))["status"] for cid in (first, second, third, fourth)}
    assert statuses == {first: "RUNNING", second: "STOPPED", third: "RUNNING", fourth: "STARTING"}
    assert last_agent_state(await all_events(client, second)) == "stopped"


async def test_restarting_a_stopped_conversation_can_evict_another(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    ids = [await run(client, clock) for _ in range(3)]
    await client.post(f"/api/conversations/{ids[2]}/stop")
    fourth = await run(client, clock)
    await client.post(f"/api/conversations/{ids[2]}/start", json={})
    assert (await info(client, ids[0]))["status"] == "STOPPED"
    assert {(await info(client, cid))["status"] for cid in (ids[1], fourth)} == {"RUNNING"}


async def test_concurrency_limit_is_configurable(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(max_concurrent_conversations=1)
    first = await run(client, clock)
    await run(client, clock)
    assert (await info(client, first))["status"] == "STOPPED"
