"""The V0 lifecycle beyond its decision table (its rows: tests/vectors/lifecycle_v0.json)."""

from __future__ import annotations

from openhands_api.models import ConversationInfo, Outcome, V0Event
from openhands_api.protocol.lifecycle import classify_v0, newest_agent_state


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
