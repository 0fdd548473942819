"""The lifecycle rules around the decision tables, row by row, from tests/vectors/lifecycle_rules.json."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openhands_api.models import AppConversation, ConversationInfo, Outcome, V0Event, V1Event
from openhands_api.protocol.lifecycle import (
    ANSWER_GRACE,
    SETTLE_CANDIDATES,
    Assessment,
    RestartProgress,
    SettleTracker,
    error_detail,
    events_prove_new_turn,
    last_known_execution_status,
    needs_error_detail,
    needs_last_known,
    newest_agent_state,
    restart_progress,
    v0_page_state,
    with_answer,
)
from tests.conftest import VECTORS

DATA: dict[str, Any] = json.loads((VECTORS / "lifecycle_rules.json").read_text())


def cases(section: str) -> Any:
    rows: list[dict[str, Any]] = DATA[section]
    return pytest.mark.parametrize("case", rows, ids=[row["name"] for row in rows])


def v1_events(case: dict[str, Any]) -> list[V1Event]:
    return [V1Event.model_validate(e) for e in case["events"]]


# ---------------------------------------------------------------------------- restart_progress


@cases("restart_progress")
def test_restart_progress(case: dict[str, Any]) -> None:
    info = None if case["info"] is None else ConversationInfo.model_validate(case["info"])
    agent = newest_agent_state([V0Event.model_validate(e) for e in case["events"]], case["marker"])
    assert restart_progress(info, agent) is RestartProgress(case["expect"])


def test_every_restart_progress_value_has_a_vector() -> None:
    assert {case["expect"] for case in DATA["restart_progress"]} == {p.value for p in RestartProgress}


# ---------------------------------------------------------------------------- v0_page_state


@cases("v0_page_state")
def test_v0_page_state(case: dict[str, Any]) -> None:
    found = v0_page_state(V0Event.model_validate(e) for e in case["events"])
    expect = case["expect"]
    if expect is None:
        assert found is None
    else:
        assert found is not None
        assert (found.state, found.event_id, found.inferred) == (
            expect["state"],
            expect["event_id"],
            expect["inferred"],
        )


def test_v0_page_state_vectors_cover_deciding_inferred_and_undecided() -> None:
    expects = [case["expect"] for case in DATA["v0_page_state"]]
    assert None in expects
    assert {e["inferred"] for e in expects if e is not None} == {True, False}


# ---------------------------------------------------------------------------- with_answer


@cases("with_answer")
def test_with_answer(case: dict[str, Any]) -> None:
    assessment = Assessment(Outcome(case["outcome"]), detail="before", agent_state=case.get("agent_state"))
    judged = with_answer(
        assessment, case["answered_with"], has_answer=case["has_answer"], ended_for=case["ended_for"]
    )
    assert judged.outcome is Outcome(case["expect"])
    if "expect_detail" in case:
        assert judged.detail == case["expect_detail"]


def test_the_vectors_answer_grace_is_the_clients() -> None:
    assert DATA["answer_grace"] == ANSWER_GRACE


def test_with_answer_vectors_cover_the_grace_boundaries() -> None:
    waited = {case["ended_for"] for case in DATA["with_answer"] if not case["has_answer"]}
    assert None in waited
    assert ANSWER_GRACE in waited
    assert any(t is not None and 0 < t < ANSWER_GRACE for t in waited)
    assert {case["answered_with"] for case in DATA["with_answer"]} == {"finish", "message", None}


# ---------------------------------------------------------------------------- events_prove_new_turn


@cases("events_prove_new_turn")
def test_events_prove_new_turn(case: dict[str, Any]) -> None:
    assert events_prove_new_turn(v1_events(case), case["status"], case["before_message_id"]) is case["expect"]


def test_events_prove_new_turn_vectors_have_both_answers() -> None:
    assert {case["expect"] for case in DATA["events_prove_new_turn"]} == {True, False}


# ---------------------------------------------------------------------------- last known status


@cases("needs_last_known")
def test_needs_last_known(case: dict[str, Any]) -> None:
    assert needs_last_known(AppConversation.model_validate(case["conversation"])) is case["expect"]


@cases("last_known_execution_status")
def test_last_known_execution_status(case: dict[str, Any]) -> None:
    assert last_known_execution_status(v1_events(case)) == case["expect"]


# ---------------------------------------------------------------------------- error detail


@cases("needs_error_detail")
def test_needs_error_detail(case: dict[str, Any]) -> None:
    conversation = AppConversation.model_validate(case["conversation"])
    assessment = Assessment(Outcome(case["outcome"]))
    assert needs_error_detail(assessment, conversation, case["last_known"]) is case["expect"]


@cases("error_detail")
def test_error_detail(case: dict[str, Any]) -> None:
    assert error_detail(v1_events(case)) == case["expect"]


# ---------------------------------------------------------------------------- SettleTracker


def tracker_of(spec: dict[str, Any]) -> SettleTracker:
    if spec["kind"] == "plain":
        return SettleTracker()
    assert spec["kind"] == "after_message"
    return SettleTracker.after_message(spec["before"], spec["before_message_id"], window=spec["window"])


@cases("settle")
def test_settle_sequence(case: dict[str, Any]) -> None:
    tracker = tracker_of(case["tracker"])
    for i, observation in enumerate(case["observations"]):
        if observation.get("confirm_before"):
            tracker.confirm()
        settled = tracker.observe(observation["status"], observation["at"])
        assert settled is observation["expect"], f"observation {i}"
        assert tracker.wants_proof(observation["status"], settled) is observation["wants_proof"], (
            f"observation {i}"
        )


def test_settle_vectors_use_every_tracker_kind_and_the_default_window() -> None:
    specs = [case["tracker"] for case in DATA["settle"]]
    assert {spec["kind"] for spec in specs} == {"plain", "after_message"}
    assert SettleTracker().window in {spec.get("window") for spec in specs}


def test_settle_vectors_ask_for_proof_only_of_candidate_statuses() -> None:
    asked = {o["status"] for case in DATA["settle"] for o in case["observations"] if o["wants_proof"]}
    assert asked <= SETTLE_CANDIDATES
    assert {"finished", "idle", "error"} <= asked
