"""The V1 lifecycle beyond its decision tables (their rows: tests/vectors/lifecycle_v1.json)."""

from __future__ import annotations

from openhands_api.models import Outcome
from openhands_api.protocol.lifecycle import SettleTracker


def _run(tracker: SettleTracker, statuses: list[str | None], step: float = 1.0) -> list[bool]:
    return [tracker.observe(s, i * step) for i, s in enumerate(statuses)]


def test_plain_wait_trusts_every_status() -> None:
    assert _run(SettleTracker(), ["finished", "idle"]) == [True, True]


def test_finished_after_a_message_to_an_idle_conversation_counts_at_once() -> None:
    assert _run(SettleTracker.after_message("idle"), ["finished"]) == [True]


def test_the_idle_before_the_run_of_a_message_to_an_idle_conversation_does_not_count() -> None:
    assert _run(SettleTracker.after_message("idle"), ["idle", "idle", "running", "finished"]) == [
        False,
        False,
        True,
        True,
    ]


def test_stale_finished_after_a_message_waits_for_the_new_run() -> None:
    tracker = SettleTracker.after_message(before="finished")
    assert _run(tracker, ["finished", "idle", "running", "finished"]) == [False, False, True, True]


def test_a_run_too_quick_to_see_running_still_counts_after_the_idle_dip() -> None:
    tracker = SettleTracker.after_message(before="finished")
    assert _run(tracker, ["finished", "idle", "finished"]) == [False, False, True]


def test_unchanged_status_counts_after_the_settle_window() -> None:
    tracker = SettleTracker.after_message(before="finished", window=10.0)
    verdicts = _run(tracker, ["finished"] * 12, step=1.0)
    assert verdicts[:10] == [False] * 10
    assert verdicts[10:] == [True, True]


def test_a_fresh_error_after_finished_counts_at_once() -> None:
    assert _run(SettleTracker.after_message(before="finished"), ["error"]) == [True]


def test_no_status_while_the_sandbox_is_down_never_counts() -> None:
    assert _run(SettleTracker.after_message(before="finished"), [None]) == [False]


def test_a_plain_text_answer_is_waiting_for_user_like_v0() -> None:
    from openhands_api.protocol.lifecycle import Assessment, refine_v1_finished

    finished = Assessment(Outcome.FINISHED, row=6)
    assert refine_v1_finished(finished, "message").outcome is Outcome.WAITING_FOR_USER
    assert refine_v1_finished(finished, "finish").outcome is Outcome.FINISHED
    assert refine_v1_finished(finished, None).outcome is Outcome.FINISHED
    failed = Assessment(Outcome.FAILED, row=7)
    assert refine_v1_finished(failed, "message").outcome is Outcome.FAILED
