"""The fake's JSON against real 1.6.0 responses (``captured_v0.json``): same keys, same key
order, same types, and the same values wherever a value is not an id, a time or a port."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from openhands_api.testing import ManualClock

from .helpers import RUN_TIME, all_events, create, info

CAPTURED: dict[str, Any] = json.loads((Path(__file__).parent / "captured_v0.json").read_text())


def shape(value: Any) -> Any:
    """Structure with key order and leaf types; localhost port keys normalised."""
    if isinstance(value, dict):
        return [
            ("http://localhost:PORT" if key.startswith("http://localhost:") else key, shape(item))
            for key, item in value.items()
        ]
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def without_volatile(event: dict[str, Any]) -> dict[str, Any]:
    """An event minus what differs between any two runs (ids, times, model response ids)."""
    skip = {"id", "timestamp", "cause", "tool_call_metadata", "llm_metrics"}
    return {key: value for key, value in event.items() if key not in skip}


@pytest.fixture
async def fake_run(client: httpx.AsyncClient, clock: ManualClock) -> dict[str, Any]:
    """A steps=2 run, a follow-up, a stop and a restart — what the captures cover."""
    conversation_id = await create(client, "Do it [fake-llm steps=2]")
    starting = await info(client, conversation_id)
    clock.advance(RUN_TIME)
    await client.post(f"/api/conversations/{conversation_id}/message", json={"message": "again please"})
    clock.advance(RUN_TIME)
    await client.post(f"/api/conversations/{conversation_id}/stop")
    stopped = await info(client, conversation_id)
    await client.post(f"/api/conversations/{conversation_id}/start", json={})
    clock.advance(RUN_TIME)
    return {"starting": starting, "stopped": stopped, "events": await all_events(client, conversation_id)}


def test_conversation_info_while_starting_matches(fake_run: dict[str, Any]) -> None:
    real, fake = CAPTURED["conversation_info_starting"], fake_run["starting"]
    assert shape(fake) == shape(real)
    volatile = {"conversation_id", "title", "last_updated_at", "created_at", "url"}
    assert {k: v for k, v in fake.items() if k not in volatile} == {
        k: v for k, v in real.items() if k not in volatile
    }


def test_conversation_info_when_stopped_matches(fake_run: dict[str, Any]) -> None:
    real, fake = CAPTURED["conversation_info_stopped"], fake_run["stopped"]
    assert shape(fake) == shape(real)
    assert (fake["status"], fake["runtime_status"], fake["url"]) == (
        real["status"],
        real["runtime_status"],
        real["url"],
    )


def test_loading_event_matches(fake_run: dict[str, Any]) -> None:
    assert without_volatile(fake_run["events"][0]) == without_volatile(CAPTURED["loading"])


def test_first_turn_events_match(fake_run: dict[str, Any]) -> None:
    events = fake_run["events"]
    real_message, real_change = CAPTURED["message_and_change_agent_state"]
    assert shape(events[2]) == shape(real_message)
    assert without_volatile(events[3]) == without_volatile(real_change)
    for fake, real in zip(events[4:7], CAPTURED["first_turn_recall"], strict=True):
        assert shape(fake) == shape(real)
    assert events[4]["args"]["recall_type"] == "workspace_context"


def test_think_steps_match(fake_run: dict[str, Any]) -> None:
    for fake, real in zip(fake_run["events"][7:9], CAPTURED["think_pair"], strict=True):
        assert shape(fake) == shape(real)
        assert without_volatile(fake) == without_volatile(real)


def test_finish_and_finished_match(fake_run: dict[str, Any]) -> None:
    real_finished, real_finish = CAPTURED["finished_and_finish"]
    fake_finish, fake_finished = fake_run["events"][11], fake_run["events"][12]
    assert shape(fake_finish) == shape(real_finish)
    assert without_volatile(fake_finish) == without_volatile(real_finish)
    assert without_volatile(fake_finished) == without_volatile(real_finished)


def test_follow_up_events_match(fake_run: dict[str, Any]) -> None:
    for fake, real in zip(fake_run["events"][13:17], CAPTURED["follow_up_start"], strict=True):
        assert shape(fake) == shape(real)
        assert without_volatile(fake) == without_volatile(real)


def test_stop_and_restart_events_match(fake_run: dict[str, Any]) -> None:
    events = fake_run["events"]
    stopped = next(e for e in events if e.get("extras", {}).get("agent_state") == "stopped")
    assert without_volatile(stopped) == without_volatile(CAPTURED["stopped"])
    restart = events[stopped["id"] + 1 :]
    assert [without_volatile(e) for e in restart] == [without_volatile(e) for e in CAPTURED["restart"]]


async def test_ask_events_have_the_shape_of_a_real_plain_text_answer(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await create(client, "Please ask me something [fake-llm ask]")
    clock.advance(RUN_TIME)
    fake_question, fake_state = (await all_events(client, conversation_id))[-2:]
    real_question, real_state = CAPTURED["ask"]
    assert shape(fake_question) == shape(real_question)
    assert fake_question["args"]["wait_for_response"] is real_question["args"]["wait_for_response"] is True
    assert without_volatile(fake_state) == without_volatile(real_state)


async def test_error_400_event_matches(client: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await create(client, "Fail [fake-llm steps=1 error=400]")
    clock.advance(RUN_TIME)
    fake_error = (await all_events(client, conversation_id))[-1]
    assert without_volatile(fake_error) == without_volatile(CAPTURED["error_400"])
