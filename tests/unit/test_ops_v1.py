"""Every V1 operation through the scripted driver: the requests it makes, what it returns, how it fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openhands_api.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    ConversationStartError,
    GoneError,
    NotFoundError,
    NotSupportedError,
    ProtocolError,
    WaitTimeoutError,
)
from openhands_api.models import Outcome, SentMessage
from openhands_api.protocol.generation import SILENT_LOOKUP_LIMIT, NewConversation
from openhands_api.protocol.http import Request, Response
from openhands_api.protocol.lifecycle import ANSWER_GRACE
from openhands_api.protocol.polling import PollPolicy
from openhands_api.protocol.v1_ops import V1Generation
from tests.unit.opdriver import Driver, json_response
from tests.unit.scripted import (
    BASE_URL,
    POLL,
    SANDBOX,
    V1_CID,
    V1_CONVERSATIONS,
    V1_EVENTS,
    V1_PATH,
    V1_TASK,
    V1Server,
    agent_message,
    app_conversation,
    context,
    error,
    error_event,
    event_id,
    finish_action,
    full_state,
    html,
    params,
    start_task,
    status_update,
    task_ready,
    text_500,
    user_message,
    v1_turn,
)

TASKS = f"{V1_CONVERSATIONS}/start-tasks"
SEND = f"{V1_PATH}/send-message"
PAUSE = f"/api/v1/sandboxes/{SANDBOX}/pause"
RESUME = f"/api/v1/sandboxes/{SANDBOX}/resume"
NEWEST_50 = {"sort_order": "TIMESTAMP_DESC", "limit": "50"}


def generation(start_timeout: float = 60.0) -> V1Generation:
    return V1Generation(context(start_timeout))


def wait(
    server: V1Server,
    *,
    timeout: float = 30.0,
    after: SentMessage | None = None,
    ref: str = V1_CID,
    now: float = 0.0,
    poll: PollPolicy = POLL,
) -> tuple[Any, Driver]:
    driver = Driver(server.answer, now=now)
    result = driver.run(generation().wait(ref, timeout=timeout, after=after, poll=poll))
    return result, driver


def run(server: V1Server, op: Any) -> tuple[Any, Driver]:
    driver = Driver(server.answer)
    return driver.run(op), driver


def after_first_turn() -> SentMessage:
    """The receipt of a message sent after the first turn (user message 1) had finished."""
    return SentMessage(conversation_id=V1_CID, execution_status="finished", previous_message_id=event_id(1))


def transport_error() -> APIConnectionError:
    return APIConnectionError("connection reset", method="GET", path=V1_CONVERSATIONS, request_sent=True)


def finishes(answer: str) -> Any:
    """Timeline step: the run ends, its answer in the events."""

    def step(s: V1Server) -> None:
        s.add(finish_action(s.next_n, answer), status_update(s.next_n + 1, "finished"))
        s.run("finished")

    return step


def runs(s: V1Server) -> None:
    s.add(status_update(s.next_n, "running"))
    s.run("running")


# ---------------------------------------------------------------------------- wait: outcomes


ANSWER_READS = [
    {"kind__eq": "MessageEvent", "sort_order": "TIMESTAMP_DESC", "limit": "5"},
    {"kind__eq": "ActionEvent", "sort_order": "TIMESTAMP_DESC", "limit": "1"},
]
"""The answer is looked for only among the kinds that can hold one (not the growing full_state)."""


def test_wait_on_a_finished_run_reads_the_conversation_and_the_answer_kinds() -> None:
    result, driver = wait(V1Server("RUNNING", "finished", v1_turn(1, "Hello.")))
    assert result.outcome is Outcome.FINISHED
    assert result.final_message == "Hello."
    assert driver.calls() == [f"GET {V1_CONVERSATIONS}", f"GET {V1_EVENTS}", f"GET {V1_EVENTS}"]
    assert driver.requests[0].params == (("ids", V1_CID),)
    assert [params(r) for r in driver.requests[1:]] == ANSWER_READS
    assert driver.now == 0


def test_the_answer_is_the_newest_of_finish_and_agent_message_after_the_user_message() -> None:
    # finish in turn 1, then a user message and a plain-text answer in turn 2
    events = [*v1_turn(1, "First answer."), user_message(5), agent_message(6, "Which file?")]
    result, _ = run(V1Server("RUNNING", "finished", events), generation().result(V1_CID))
    assert result.outcome is Outcome.WAITING_FOR_USER
    assert result.final_message == "Which file?"
    # a user message newer than every answer: the turn has none yet
    result, _ = run(
        V1Server("RUNNING", "finished", [*v1_turn(1, "First answer."), user_message(5)]),
        generation().result(V1_CID),
    )
    assert result.final_message is None


def test_wait_on_finished_after_a_plain_text_answer_is_waiting_for_user() -> None:
    events = [user_message(1), status_update(2, "running"), agent_message(3, "Which file?")]
    result, _ = wait(V1Server("RUNNING", "finished", [*events, status_update(4, "finished")]))
    assert result.outcome is Outcome.WAITING_FOR_USER
    assert result.final_message == "Which file?"


def test_wait_on_idle_with_an_answer_is_waiting_for_user() -> None:
    events = [user_message(1), status_update(2, "running"), agent_message(3, "Hi!"), status_update(4, "idle")]
    result, _ = wait(V1Server("RUNNING", "idle", events))
    assert result.outcome is Outcome.WAITING_FOR_USER
    assert result.final_message == "Hi!"


def test_wait_on_an_error_is_failed_with_the_newest_error_event_detail() -> None:
    events = [
        user_message(1),
        error_event(2, "old"),
        error_event(3, "LLMBadRequestError: bad"),
        status_update(4, "error"),
    ]
    result, driver = wait(V1Server("RUNNING", "error", events))
    assert result.outcome is Outcome.FAILED
    assert result.detail == "LLMBadRequestError: bad"
    assert driver.calls() == [f"GET {V1_CONVERSATIONS}", f"GET {V1_EVENTS}"]
    assert params(driver.requests[1]) == {
        "kind__eq": "ConversationErrorEvent",
        "sort_order": "TIMESTAMP_DESC",
        "limit": "1",
    }


def test_wait_on_stuck_without_an_error_event_is_failed_stuck() -> None:
    result, _ = wait(V1Server("RUNNING", "stuck", [user_message(1)]))
    assert result.outcome is Outcome.FAILED
    assert result.detail == "stuck"


def test_wait_on_an_unknown_id_is_gone_after_asking_for_a_start_task_too() -> None:
    result, driver = wait(V1Server(None))
    assert result.outcome is Outcome.GONE
    assert driver.calls() == [f"GET {V1_CONVERSATIONS}", f"GET {TASKS}"]


def test_wait_on_a_conversation_deleted_mid_wait_is_gone() -> None:
    server = V1Server("RUNNING", "running")
    server.timeline = [None, lambda s: setattr(s, "conversation", None)]
    result, driver = wait(server)
    assert result.outcome is Outcome.GONE
    assert driver.now == 1


def test_wait_on_a_failed_sandbox_is_failed() -> None:
    result, _ = wait(V1Server("ERROR"))
    assert (result.outcome, result.detail) == (Outcome.FAILED, "the sandbox failed")


def test_wait_on_a_sandbox_paused_mid_run_is_stopped_from_the_last_known_status() -> None:
    result, driver = wait(V1Server("PAUSED", events=[user_message(1), status_update(2, "running")]))
    assert result.outcome is Outcome.STOPPED
    assert result.conversation.runtime == "stopped"
    assert params(driver.requests[1]) == {"kind__eq": "ConversationStateUpdateEvent", **NEWEST_50}


def test_wait_on_a_paused_sandbox_that_had_finished_is_finished_with_its_answer() -> None:
    result, driver = wait(V1Server("PAUSED", events=v1_turn(1, "Done.")))
    assert result.outcome is Outcome.FINISHED
    assert result.final_message == "Done."
    assert driver.now == 0


def test_wait_on_a_paused_sandbox_that_had_failed_is_failed_with_the_error_detail() -> None:
    events = [user_message(1), status_update(2, "running"), error_event(3, "boom"), status_update(4, "error")]
    result, driver = wait(V1Server("PAUSED", events=events))
    assert (result.outcome, result.detail) == (Outcome.FAILED, "boom")
    assert [params(r).get("kind__eq") for r in driver.requests[1:]] == [
        "ConversationStateUpdateEvent",
        "ConversationErrorEvent",
    ]


def test_wait_on_a_deleted_sandbox_after_finishing_is_finished() -> None:
    result, _ = wait(V1Server("MISSING", events=v1_turn(1, "Done.")))
    assert result.outcome is Outcome.FINISHED
    assert result.conversation.runtime == "gone"


def test_wait_on_a_deleted_sandbox_with_nothing_known_is_gone() -> None:
    result, _ = wait(V1Server("MISSING"))
    assert result.outcome is Outcome.GONE


# ---------------------------------------------------------------------------- wait: settling after a message


def test_wait_after_a_message_does_not_take_the_previous_turns_finished_as_the_answer() -> None:
    server = V1Server("RUNNING", "finished", v1_turn(1, "First answer."))
    server.timeline = [
        None,
        lambda s: (s.add(user_message(s.next_n, "More.")), s.run("idle")),
        runs,
        finishes("Second answer."),
    ]
    result, driver = wait(server, after=after_first_turn())
    assert result.outcome is Outcome.FINISHED
    assert result.final_message == "Second answer."
    assert [(p.outcome, p.conversation.agent_state) for p in driver.progress] == [
        (Outcome.IN_PROGRESS, "finished"),
        (Outcome.IN_PROGRESS, "idle"),
        (Outcome.IN_PROGRESS, "running"),
    ]
    assert driver.now == 3


def test_wait_after_a_message_counts_finished_once_running_was_seen() -> None:
    server = V1Server("RUNNING", "running", [*v1_turn(1, "First answer."), user_message(5, "More.")])
    server.timeline = [None, finishes("Second answer.")]
    result, driver = wait(server, after=after_first_turn())
    assert result.final_message == "Second answer."
    assert driver.now == 1


def test_wait_after_a_message_accepts_a_finished_that_the_events_prove_new() -> None:
    events = [*v1_turn(1, "First answer."), *v1_turn(5, "Second answer.")]
    result, driver = wait(V1Server("RUNNING", "finished", events), after=after_first_turn())
    assert result.outcome is Outcome.FINISHED
    assert result.final_message == "Second answer."
    assert driver.now == 0
    assert driver.calls() == [f"GET {V1_CONVERSATIONS}", *[f"GET {V1_EVENTS}"] * 4]
    # the proof: the newest user message is new and an answer follows it (not the newest events
    # of every kind, which hold the growing full_state); then the answer itself
    assert [params(r) for r in driver.requests[1:]] == [*ANSWER_READS, *ANSWER_READS]


def test_wait_after_a_message_proves_another_status_by_its_update_after_the_message() -> None:
    # the previous run failed, and so does this one: "error" again, proven by its update
    message = user_message(5)
    events = [
        *v1_turn(1, answer=None, end="error"),
        message,
        status_update(6, "running"),
        error_event(7, "boom again"),
        status_update(8, "error"),
        full_state(9, "error"),
    ]
    after = SentMessage(conversation_id=V1_CID, execution_status="error", previous_message_id=event_id(1))
    result, driver = wait(V1Server("RUNNING", "error", events), after=after)
    assert (result.outcome, result.detail) == (Outcome.FAILED, "boom again")
    assert driver.now == 0
    assert [params(r) for r in driver.requests[1:3]] == [
        ANSWER_READS[0],
        {"kind__eq": "ConversationStateUpdateEvent", "timestamp__gte": message["timestamp"], "limit": "50"},
    ]


def test_a_proof_read_before_the_new_message_shows_is_one_small_read() -> None:
    server = V1Server("RUNNING", "finished", [*v1_turn(1, "First answer."), full_state(5, "finished")])
    server.timeline = [None, lambda s: s.add(*v1_turn(6, "Second answer."))]
    result, driver = wait(server, after=after_first_turn())
    assert result.final_message == "Second answer."
    first_poll = driver.requests[: driver.calls().index(f"GET {V1_CONVERSATIONS}", 1)]
    assert [params(r) for r in first_poll[1:]] == [ANSWER_READS[0]]


def test_wait_after_a_message_accepts_an_unchanged_finished_after_the_settle_window() -> None:
    # the app server's copy of the events lags: nothing proves the new turn
    result, driver = wait(
        V1Server("RUNNING", "finished", v1_turn(1, "First answer.")), after=after_first_turn()
    )
    assert result.outcome is Outcome.FINISHED
    assert driver.now == 10
    assert all(p.outcome is Outcome.IN_PROGRESS for p in driver.progress)


def test_a_fresh_error_after_a_message_counts_at_once() -> None:
    server = V1Server(
        "RUNNING", "error", [*v1_turn(1, "First answer."), user_message(5), error_event(6, "boom")]
    )
    result, driver = wait(server, after=after_first_turn())
    assert (result.outcome, result.detail) == (Outcome.FAILED, "boom")
    assert driver.now == 0


# ---------------------------------------------------------------------------- wait: the answer grace


def _finished_without_answer() -> V1Server:
    return V1Server("RUNNING", "finished", v1_turn(1, answer=None))


def test_a_finished_run_without_its_answer_yet_stays_in_progress_for_the_answer_grace() -> None:
    result, driver = wait(_finished_without_answer())
    assert result.outcome is Outcome.FINISHED
    assert result.final_message is None
    assert driver.now == ANSWER_GRACE
    assert len(driver.progress) == ANSWER_GRACE  # one in-progress snapshot per second of grace
    assert all(p.outcome is Outcome.IN_PROGRESS for p in driver.progress)


def test_an_answer_arriving_within_the_grace_ends_the_wait_with_it() -> None:
    server = _finished_without_answer()
    server.timeline = [None, None, lambda s: s.add(finish_action(s.next_n, "Late answer."))]
    result, driver = wait(server)
    assert (result.outcome, result.final_message) == (Outcome.FINISHED, "Late answer.")
    assert driver.now == 2


def test_the_answer_grace_ends_at_the_first_poll_after_it() -> None:
    result, driver = wait(_finished_without_answer(), poll=PollPolicy(interval=2.0, max_interval=2.0))
    assert result.outcome is Outcome.FINISHED
    assert driver.now == 6


def test_observe_of_a_finished_run_without_its_answer_is_finished_at_once() -> None:
    result, driver = run(_finished_without_answer(), generation().observe(V1_CID))
    assert (result.outcome, result.final_message) == (Outcome.FINISHED, None)
    assert driver.now == 0


# ---------------------------------------------------------------------------- wait: polling


def test_a_status_change_between_two_polls_is_seen_at_the_next_poll() -> None:
    server = V1Server("RUNNING", "running", [user_message(1), status_update(2, "running")])
    server.timeline = [None, finishes("Done.")]
    result, driver = wait(server)
    assert (result.outcome, result.final_message) == (Outcome.FINISHED, "Done.")
    assert driver.now == 1
    assert driver.count("GET", V1_CONVERSATIONS) == 2


def test_wait_emits_a_progress_snapshot_for_every_poll_still_in_progress() -> None:
    server = V1Server("RUNNING", "running", [user_message(1)])
    server.timeline = [None, None, finishes("Done.")]
    _, driver = wait(server)
    assert [(p.outcome, p.conversation.runtime, p.conversation.agent_state) for p in driver.progress] == [
        (Outcome.IN_PROGRESS, "running", "running")
    ] * 2


def test_wait_rides_out_server_errors_html_pages_and_transport_errors() -> None:
    server = V1Server("RUNNING", "finished", v1_turn(1))
    server.fail("GET", V1_CONVERSATIONS, text_500(), html(), transport_error(), error(503, "unavailable"))
    server.fail("GET", V1_EVENTS, html())
    result, driver = wait(server)
    assert result.outcome is Outcome.FINISHED
    assert driver.count("GET", V1_CONVERSATIONS) == 6
    assert driver.now == 5


def test_wait_ends_at_once_on_401() -> None:
    server = V1Server("RUNNING", "running")
    server.fail("GET", V1_CONVERSATIONS, error(401, "Invalid API key"))
    driver = Driver(server.answer)
    with pytest.raises(AuthenticationError):
        driver.run(generation().wait(V1_CID, timeout=30, after=None, poll=POLL))
    assert len(driver.requests) == 1
    assert driver.now == 0


def test_wait_times_out_with_the_last_result_it_saw() -> None:
    driver = Driver(V1Server("RUNNING", "running").answer)
    with pytest.raises(WaitTimeoutError) as caught:
        driver.run(generation().wait(V1_CID, timeout=4, after=None, poll=POLL))
    assert (caught.value.timeout, caught.value.conversation_id) == (4, V1_CID)
    assert caught.value.last.outcome is Outcome.IN_PROGRESS
    assert driver.now == 4


def test_every_request_of_a_wait_is_bounded_by_its_deadline() -> None:
    server = V1Server("RUNNING", "finished", v1_turn(1, "First answer."))
    server.fail("GET", V1_CONVERSATIONS, text_500())
    driver = Driver(server.answer, now=100.0)
    with pytest.raises(WaitTimeoutError):
        driver.run(generation().wait(V1_CID, timeout=5, after=after_first_turn(), poll=POLL))
    assert driver.count("GET", V1_EVENTS) >= 5
    assert {r.deadline for r in driver.requests} == {105.0}


# ---------------------------------------------------------------------------- wait: start tasks


def test_wait_on_a_start_task_id_follows_it_to_its_conversation() -> None:
    server = V1Server(None)
    server.task = start_task("WORKING")
    server.task_timeline = [None, task_ready]
    # conversation reads: the task id (poll 1), the task id and the conversation (poll 2), …
    server.timeline = [None, None, None, finishes("Done.")]
    result, driver = wait(server, ref=V1_TASK)
    assert (result.outcome, result.final_message) == (Outcome.FINISHED, "Done.")
    assert result.conversation_id == V1_CID
    assert result.conversation.start_task_id == V1_TASK
    assert [(p.outcome, p.conversation.runtime) for p in driver.progress] == [
        (Outcome.IN_PROGRESS, "starting"),
        (Outcome.IN_PROGRESS, "running"),
    ]
    assert driver.count("GET", TASKS) == 2


def test_wait_on_a_start_task_that_fails_is_failed_with_its_detail() -> None:
    server = V1Server(None)
    server.task = start_task("WORKING")
    server.task_timeline = [None, lambda s: s.task.update(status="ERROR", detail="Sandbox failed to start")]
    result, driver = wait(server, ref=V1_TASK)
    assert (result.outcome, result.detail) == (Outcome.FAILED, "Sandbox failed to start")
    assert result.conversation.start_task_id == V1_TASK
    assert driver.now == 1


def test_wait_on_a_start_task_that_never_gets_ready_times_out_with_its_last_state() -> None:
    server = V1Server(None)
    server.task = start_task("PREPARING_REPOSITORY")
    driver = Driver(server.answer)
    with pytest.raises(WaitTimeoutError) as caught:
        driver.run(generation().wait(V1_TASK, timeout=3, after=None, poll=POLL))
    assert caught.value.last is not None
    assert (caught.value.last.outcome, caught.value.last.detail) == (
        Outcome.IN_PROGRESS,
        "PREPARING_REPOSITORY",
    )


# ---------------------------------------------------------------------------- observe, result


def test_observe_of_a_start_task_still_working_is_in_progress_starting() -> None:
    server = V1Server(None)
    server.task = start_task("WORKING")
    result, driver = run(server, generation().observe(V1_TASK))
    assert (result.outcome, result.conversation.runtime) == (Outcome.IN_PROGRESS, "starting")
    assert result.conversation.start_task_id == V1_TASK
    assert driver.calls() == [f"GET {V1_CONVERSATIONS}", f"GET {TASKS}"]


def test_a_start_task_snapshot_links_the_page_of_the_conversation_it_starts() -> None:
    server = V1Server(None)
    server.task = start_task("WORKING")
    result, _ = run(server, generation().observe(V1_TASK))
    assert result.web_url == result.conversation.web_url == f"{BASE_URL}/conversations/{V1_CID}"
    server.task = start_task("WORKING", request={})  # a task someone else's client made
    result, _ = run(server, generation().observe(V1_TASK))
    assert result.web_url == f"{BASE_URL}/conversations/{V1_TASK}"  # nothing better is known


def test_observe_of_a_ready_start_task_reads_its_conversation() -> None:
    server = V1Server("RUNNING", "running")
    server.task = start_task("READY")
    result, _ = run(server, generation().observe(V1_TASK))
    assert (result.conversation_id, result.conversation.start_task_id) == (V1_CID, V1_TASK)
    assert result.outcome is Outcome.IN_PROGRESS


def test_observe_of_an_unknown_id_is_not_found() -> None:
    driver = Driver(V1Server(None).answer)
    with pytest.raises(NotFoundError):
        driver.run(generation().observe(V1_CID))
    assert driver.calls() == [f"GET {V1_CONVERSATIONS}", f"GET {TASKS}"]


def test_result_is_observe() -> None:
    result, _ = run(V1Server("RUNNING", "finished", v1_turn(1, "Hi.")), generation().result(V1_CID))
    assert (result.outcome, result.final_message) == (Outcome.FINISHED, "Hi.")


# ---------------------------------------------------------------------------- send_message


def test_send_to_a_running_conversation_records_the_status_and_the_message_before() -> None:
    server = V1Server("RUNNING", "finished", v1_turn(1))
    receipt, driver = run(server, generation().send_message(V1_CID, "More.", resume=True))
    assert receipt == after_first_turn()
    assert driver.calls() == [f"GET {V1_CONVERSATIONS}", f"GET {V1_EVENTS}", f"POST {SEND}"]
    assert params(driver.requests[1]) == {
        "kind__eq": "MessageEvent",
        "sort_order": "TIMESTAMP_DESC",
        "limit": "10",
    }
    post = driver.requests[2]
    assert post.json == {"role": "user", "content": [{"type": "text", "text": "More."}], "run": True}
    assert post.idempotent is False


def test_send_to_a_paused_sandbox_resumes_it_and_waits_until_it_runs() -> None:
    server = V1Server("RUNNING", "finished", v1_turn(1))
    server.pause()
    receipt, driver = run(server, generation().send_message(V1_CID, "More.", resume=True))
    assert driver.calls() == [
        f"GET {V1_CONVERSATIONS}",
        f"GET {V1_EVENTS}",
        f"POST {RESUME}",
        f"GET {V1_CONVERSATIONS}",
        f"GET {V1_CONVERSATIONS}",
        f"POST {SEND}",
    ]
    assert receipt.execution_status == "finished"  # the status the sandbox came back with
    assert driver.now == 2


def test_send_answered_409_resumes_the_sandbox_waits_and_sends_again() -> None:
    server = V1Server("RUNNING", "finished", v1_turn(1))

    def paused_meanwhile(request: Request) -> Response:
        server.pause()
        return error(409, f"Sandbox is PAUSED. Use POST /api/v1/sandboxes/{SANDBOX}/resume first.")

    server.fail("POST", SEND, paused_meanwhile)
    receipt, driver = run(server, generation().send_message(V1_CID, "More.", resume=True))
    assert driver.count("POST", SEND) == 2
    assert driver.count("POST", RESUME) == 1
    assert driver.calls()[-1] == f"POST {SEND}"
    assert receipt.execution_status == "finished"


def test_send_answered_409_whose_sandbox_runs_again_on_the_next_read_just_sends_again() -> None:
    server = V1Server("RUNNING", "finished", v1_turn(1))
    server.fail("POST", SEND, error(409, "Sandbox is STARTING."))
    _, driver = run(server, generation().send_message(V1_CID, "More.", resume=True))
    assert driver.count("POST", SEND) == 2
    assert driver.count("POST", RESUME) == 0


def test_send_to_a_paused_sandbox_without_resume_is_a_conflict() -> None:
    server = V1Server("RUNNING", "finished")
    server.pause()
    driver = Driver(server.answer)
    with pytest.raises(ConflictError):
        driver.run(generation().send_message(V1_CID, "More.", resume=False))
    assert driver.count("POST", SEND) == 1
    assert driver.count("POST", RESUME) == 0


@pytest.mark.parametrize(
    "answer", [error(405, "Method Not Allowed"), error(404, "Not Found")], ids=["405", "404 Not Found"]
)
def test_send_on_a_server_without_the_route_is_not_supported(answer: Response) -> None:
    server = V1Server("RUNNING", "finished")
    server.fail("POST", SEND, answer)
    driver = Driver(server.answer)
    with pytest.raises(NotSupportedError, match="api_version='v0'"):
        driver.run(generation().send_message(V1_CID, "More.", resume=True))


def test_send_answered_404_for_the_conversation_is_not_found_not_unsupported() -> None:
    server = V1Server("RUNNING", "finished")
    server.fail("POST", SEND, error(404, f"Sandbox not found for conversation {V1_CID}"))
    driver = Driver(server.answer)
    with pytest.raises(NotFoundError):
        driver.run(generation().send_message(V1_CID, "More.", resume=True))


def test_send_to_an_unknown_conversation_is_not_found_after_one_read() -> None:
    driver = Driver(V1Server(None).answer)
    with pytest.raises(NotFoundError):
        driver.run(generation().send_message(V1_CID, "More.", resume=True))
    assert driver.calls() == [f"GET {V1_CONVERSATIONS}"]


def test_send_to_a_conversation_whose_sandbox_is_gone_is_a_gone_error() -> None:
    driver = Driver(V1Server("MISSING").answer)
    with pytest.raises(GoneError):
        driver.run(generation().send_message(V1_CID, "More.", resume=True))
    assert driver.count("POST", SEND) == 0


def test_a_lost_answer_of_send_message_is_not_resent() -> None:
    server = V1Server("RUNNING", "finished")
    server.fail("POST", SEND, APITimeoutError("timed out", method="POST", path=SEND, request_sent=True))
    driver = Driver(server.answer)
    with pytest.raises(APITimeoutError):
        driver.run(generation().send_message(V1_CID, "Once.", resume=True))
    assert driver.count("POST", SEND) == 1


def test_a_resumed_sandbox_that_never_runs_times_out() -> None:
    server = V1Server("RUNNING", "finished")
    server.pause()
    server.fail("POST", RESUME, json_response({"success": True}))  # accepted, nothing happens
    driver = Driver(server.answer)
    with pytest.raises(WaitTimeoutError, match="did not start running within 4s"):
        driver.run(generation(start_timeout=4).send_message(V1_CID, "More.", resume=True))
    assert driver.count("POST", SEND) == 0
    assert driver.now == 4


def test_send_and_wait_waits_for_the_turn_its_message_started() -> None:
    server = V1Server("RUNNING", "finished", v1_turn(1, "First answer."))
    server.on_send = lambda s: s.run("idle")
    server.timeline = [None, None, runs, finishes("Second answer.")]
    result, driver = run(server, generation().send_and_wait(V1_CID, "More.", timeout=30))
    assert (result.outcome, result.final_message) == (Outcome.FINISHED, "Second answer.")
    assert driver.count("POST", SEND) == 1
    assert len(driver.progress) == 2


# ---------------------------------------------------------------------------- paging


def test_iter_events_pages_through_the_search() -> None:
    server = V1Server("RUNNING", "finished", v1_turn(1))
    _, driver = run(server, generation().iter_events(V1_CID, reverse=False, page_size=2))
    assert [e.id for e in driver.emitted] == [event_id(1), event_id(2), event_id(3), event_id(4)]
    assert driver.calls()[0] == f"GET {V1_CONVERSATIONS}"  # the conversation is asked first
    assert [params(r) for r in driver.requests[1:]] == [{"limit": "2"}, {"page_id": "2", "limit": "2"}]


def test_iter_events_in_reverse_asks_for_newest_first() -> None:
    server = V1Server("RUNNING", "finished", v1_turn(1, "Done."))
    _, driver = run(server, generation().iter_events(V1_CID, reverse=True, page_size=100))
    assert [e.id for e in driver.emitted] == [event_id(4), event_id(3), event_id(2), event_id(1)]
    assert params(driver.requests[1]) == {"sort_order": "TIMESTAMP_DESC", "limit": "100"}
    assert (driver.emitted[1].kind, driver.emitted[1].text) == ("ActionEvent", "Done.")


def test_iter_events_of_an_unknown_conversation_is_not_found() -> None:
    driver = Driver(V1Server(None).answer)
    with pytest.raises(NotFoundError):
        driver.run(generation().iter_events(V1_CID, reverse=False, page_size=100))
    assert driver.calls() == [f"GET {V1_CONVERSATIONS}"]


def test_iter_events_of_a_conversation_without_events_emits_nothing() -> None:
    _, driver = run(
        V1Server("RUNNING", "idle"), generation().iter_events(V1_CID, reverse=False, page_size=100)
    )
    assert driver.emitted == []
    assert driver.calls() == [f"GET {V1_CONVERSATIONS}", f"GET {V1_EVENTS}"]


def test_iter_conversations_dedupes_and_follows_next_page_id() -> None:
    pages = iter(
        [
            ([app_conversation(id="a" * 32), app_conversation(id="b" * 32)], "p1"),
            ([], "p2"),
            ([app_conversation(id="b" * 32), app_conversation(id="c" * 32)], None),
        ]
    )

    def answer(request: Request) -> Response:
        items, next_page = next(pages)
        return json_response({"items": items, "next_page_id": next_page})

    driver = Driver(answer)
    driver.run(generation().iter_conversations(page_size=2, filters={"title__contains": "x"}))
    assert [c.id for c in driver.emitted] == ["a" * 32, "b" * 32, "c" * 32]
    assert {c.api_version for c in driver.emitted} == {"v1"}
    assert [params(r).get("page_id") for r in driver.requests] == [None, "p1", "p2"]
    assert params(driver.requests[0]) == {"limit": "2", "title__contains": "x"}


def test_count_running_counts_the_sandboxes_up_or_coming_up_over_every_page() -> None:
    pages = iter(
        [
            ([("s1", "RUNNING"), ("s2", "PAUSED"), ("s3", "STARTING")], "p1"),
            ([("s4", "ERROR"), ("s5", "RUNNING"), ("s6", "MISSING")], None),
        ]
    )

    def answer(request: Request) -> Response:
        items, next_page = next(pages)
        return json_response(
            {"items": [{"id": i, "status": status} for i, status in items], "next_page_id": next_page}
        )

    driver = Driver(answer)
    assert driver.run(generation().count_running()) == 3  # s1, s3, s5
    assert driver.calls() == ["GET /api/v1/sandboxes/search"] * 2
    assert [params(r).get("page_id") for r in driver.requests] == [None, "p1"]
    assert driver.emitted == []
    assert (V1Generation.chooses_conversation_id, V1Generation.self_hosted_running_limit) == (True, None)


# ---------------------------------------------------------------------------- managing


def test_stop_pauses_the_sandbox() -> None:
    server = V1Server("RUNNING", "finished")
    _, driver = run(server, generation().stop(V1_CID))
    assert driver.calls() == [f"GET {V1_CONVERSATIONS}", f"POST {PAUSE}"]
    assert server.conversation is not None
    assert server.conversation["sandbox_status"] == "PAUSED"


def test_resume_resumes_the_sandbox() -> None:
    server = V1Server("RUNNING", "finished")
    server.pause()
    _, driver = run(server, generation().resume(V1_CID))
    assert driver.calls() == [f"GET {V1_CONVERSATIONS}", f"POST {RESUME}"]


@pytest.mark.parametrize("op", ["stop", "resume"])
def test_stop_or_resume_of_a_conversation_without_a_sandbox_is_gone(op: str) -> None:
    server = V1Server("MISSING")
    server.set(sandbox_id=None)
    driver = Driver(server.answer)
    with pytest.raises(GoneError):
        driver.run(getattr(generation(), op)(V1_CID))
    assert [r.method for r in driver.requests] == ["GET"]


@pytest.mark.parametrize("op", ["stop", "resume"])
def test_stop_or_resume_of_an_unknown_conversation_is_not_found(op: str) -> None:
    driver = Driver(V1Server(None).answer)
    with pytest.raises(NotFoundError):
        driver.run(getattr(generation(), op)(V1_CID))
    assert len(driver.requests) == 1


def test_the_history_is_a_zip_and_no_workspace_download_is_offered(tmp_path: Path) -> None:
    assert V1Generation.history_format == "zip"
    driver = Driver(V1Server("RUNNING", "finished").answer)
    with pytest.raises(NotSupportedError, match=r"^this server offers no workspace download \(V1\)"):
        driver.run(generation().download_workspace(V1_CID, tmp_path / "w.zip"))
    assert driver.requests == []
    assert not (tmp_path / "w.zip").exists()


def test_delete_is_true_when_deleted() -> None:
    deleted, driver = run(V1Server("RUNNING", "finished"), generation().delete(V1_CID))
    assert deleted is True
    assert driver.calls() == [f"DELETE {V1_PATH}"]


def test_delete_of_an_unknown_conversation_is_false() -> None:
    deleted, driver = run(V1Server(None), generation().delete(V1_CID))
    assert deleted is False
    assert len(driver.requests) == 1


@pytest.mark.parametrize(
    "answer", [error(405, "Method Not Allowed"), error(404, "Not Found")], ids=["405", "404 Not Found"]
)
def test_delete_on_a_server_without_the_route_is_not_supported(answer: Response) -> None:
    server = V1Server("RUNNING", "finished")
    server.fail("DELETE", V1_PATH, answer)
    driver = Driver(server.answer)
    with pytest.raises(NotSupportedError):
        driver.run(generation().delete(V1_CID))


def test_set_title_patches_the_conversation() -> None:
    _, driver = run(V1Server("RUNNING", "finished"), generation().set_title(V1_CID, "Fix the tests"))
    assert driver.calls() == [f"PATCH {V1_PATH}"]
    assert driver.requests[0].json == {"title": "Fix the tests"}


def test_download_history_streams_the_zip_to_the_destination(tmp_path: Path) -> None:
    destination = tmp_path / "history.zip"
    path, driver = run(V1Server("PAUSED"), generation().download_history(V1_CID, destination))
    assert path == destination
    assert driver.calls() == [f"GET {V1_PATH}/download"]
    assert driver.requests[0].stream_to == destination


def test_download_history_of_an_unknown_conversation_is_not_found(tmp_path: Path) -> None:
    driver = Driver(V1Server(None).answer)
    with pytest.raises(NotFoundError):
        driver.run(generation().download_history(V1_CID, tmp_path / "h.zip"))


# ---------------------------------------------------------------------------- create


def _create(server: V1Server, title: str | None = None, start_timeout: float = 60.0) -> tuple[Any, Driver]:
    driver = Driver(server.answer)
    request = NewConversation("Fix it.", title=title, options={"conversation_id": V1_CID})
    return driver.run(generation(start_timeout).create(request)), driver


def test_create_follows_the_start_task_to_its_conversation() -> None:
    server = V1Server(None)
    server.task_timeline = [None, task_ready]
    conversation, driver = _create(server)
    assert (conversation.id, conversation.start_task_id) == (V1_CID, V1_TASK)
    assert driver.calls() == [
        f"POST {V1_CONVERSATIONS}",
        f"GET {TASKS}",
        f"GET {TASKS}",
        f"GET {V1_CONVERSATIONS}",
    ]
    assert driver.requests[0].json["conversation_id"] == V1_CID
    assert driver.now == 2


def test_create_with_a_title_the_server_ignored_patches_it_after_ready() -> None:
    server = V1Server(None)
    server.task_timeline = [task_ready]
    conversation, driver = _create(server, title="Fix the tests")
    assert driver.requests[0].json["title"] == "Fix the tests"
    assert driver.calls()[-1] == f"PATCH {V1_PATH}"
    assert driver.requests[-1].json == {"title": "Fix the tests"}
    assert conversation.title == "Fix the tests"


def test_create_with_a_title_the_server_honoured_does_not_patch() -> None:
    server = V1Server(None)
    server.task_timeline = [lambda s: (task_ready(s), s.set(title="Fix the tests"))]
    conversation, driver = _create(server, title="Fix the tests")
    assert driver.count("PATCH", V1_PATH) == 0
    assert conversation.title == "Fix the tests"


def test_create_whose_start_task_fails_is_a_start_error() -> None:
    server = V1Server(None)
    server.task_timeline = [lambda s: s.task.update(status="ERROR", detail="No LLM configured")]
    with pytest.raises(ConversationStartError, match="No LLM configured") as caught:
        _create(server)
    assert caught.value.start_task_id == V1_TASK


def test_create_whose_start_task_never_gets_ready_times_out() -> None:
    with pytest.raises(WaitTimeoutError, match="still WORKING"):
        _create(V1Server(None), start_timeout=5)


def test_create_reports_the_start_task_while_it_starts() -> None:
    server = V1Server(None)
    server.task_timeline = [None, task_ready]
    _, driver = _create(server)
    assert [(p.conversation_id, p.outcome.value, p.detail) for p in driver.progress] == [
        (V1_TASK, "in_progress", "WORKING"),
        (V1_TASK, "in_progress", "WORKING"),
    ]
    assert all(p.conversation.start_task_id == V1_TASK for p in driver.progress)


def test_a_start_timeout_of_the_call_bounds_the_start_and_keeps_the_last_state() -> None:
    driver = Driver(V1Server(None).answer)
    request = NewConversation("Fix it.", options={"conversation_id": V1_CID})
    with pytest.raises(WaitTimeoutError, match=r"still WORKING after the start timeout \(3s\)") as caught:
        driver.run(generation(start_timeout=300).create(request, start_timeout=3))
    assert 3 <= driver.now < 4
    assert caught.value.conversation_id == V1_TASK
    assert caught.value.timeout == 3
    assert (caught.value.last.conversation_id, caught.value.last.detail) == (V1_TASK, "WORKING")


def test_create_whose_start_task_is_ready_in_the_answer_is_not_polled() -> None:
    server = V1Server("RUNNING", "running")
    server.fail("POST", V1_CONVERSATIONS, json_response(start_task("READY")))
    conversation, driver = _create(server)
    assert conversation.id == V1_CID
    assert driver.calls() == [f"POST {V1_CONVERSATIONS}", f"GET {V1_CONVERSATIONS}"]
    assert driver.now == 0


def test_create_whose_start_task_vanishes_is_not_found() -> None:
    server = V1Server(None)
    server.task_timeline = [lambda s: setattr(s, "task", None)]
    with pytest.raises(NotFoundError):
        _create(server)


def test_create_whose_ready_task_has_no_conversation_is_a_protocol_error_at_the_start_timeout() -> None:
    server = V1Server(None)
    server.task_timeline = [lambda s: s.task.update(status="READY", app_conversation_id=V1_CID)]
    with pytest.raises(ProtocolError, match="is READY but conversation"):
        _create(server, start_timeout=5)


def test_create_against_a_server_answering_only_web_pages_gives_up_after_the_silent_lookup_limit() -> None:
    driver = Driver(lambda request: html())
    request = NewConversation("Fix it.", options={"conversation_id": V1_CID})
    expected = f"may have been created: look for it \\(openhands-api get {V1_CID}"
    with pytest.raises(ProtocolError, match=expected):
        driver.run(generation(start_timeout=300).create(request))
    assert driver.count("POST", V1_CONVERSATIONS) == 1
    assert SILENT_LOOKUP_LIMIT <= driver.now < SILENT_LOOKUP_LIMIT + 2
