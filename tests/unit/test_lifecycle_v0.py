"""The V0 decision table (CONTRACT.md §4.2), row by row, from the shared JSON vectors."""

from __future__ import annotations

from typing import Any

import pytest

from openhands_api.models import ConversationInfo, Outcome, V0Event
from openhands_api.protocol.lifecycle import V0_ROWS, classify_v0, newest_agent_state
from tests.conftest import load_vectors

CASES = load_vectors("lifecycle_v0.json")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_decision_table_case(case: dict[str, Any]) -> None:
    info = None if case["info"] is None else ConversationInfo.model_validate(case["info"])
    events = [V0Event.model_validate(e) for e in case["events"]]
    verdict = classify_v0(info, newest_agent_state(events, case["marker"]))
    assert verdict.outcome == Outcome(case["outcome"])
    assert verdict.row == case["row"]
    if "detail" in case:
        assert verdict.detail == case["detail"]
    if "phase" in case:
        assert verdict.phase == case["phase"]


def test_every_table_row_has_a_vector() -> None:
    assert {row.number for row in V0_ROWS} == {case["row"] for case in CASES}


def test_only_in_progress_is_not_terminal() -> None:
    assert [o for o in Outcome if not o.is_terminal] == [Outcome.IN_PROGRESS]


def test_finished_and_waiting_for_user_are_the_successful_outcomes() -> None:
    assert {o for o in Outcome if o.succeeded} == {Outcome.FINISHED, Outcome.WAITING_FOR_USER}


def test_newest_agent_state_carries_the_reason() -> None:
    events = [
        V0Event(id=3, observation="agent_state_changed", extras={"agent_state": "error", "reason": "boom"})
    ]
    change = newest_agent_state(events)
    assert change is not None
    assert (change.event_id, change.state, change.reason) == (3, "error", "boom")


def test_runtime_field_follows_status() -> None:
    info = ConversationInfo(conversation_id="a" * 32, status="STOPPED")
    assert classify_v0(info, None).runtime == "stopped"
    assert classify_v0(None, None).runtime == "gone"
