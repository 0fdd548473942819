"""Every V0 operation through the scripted driver: the requests it makes, what it returns, how it fails."""

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
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    ServerError,
    WaitTimeoutError,
)
from openhands_api.models import Outcome, SentMessage
from openhands_api.protocol import v0
from openhands_api.protocol.generation import SILENT_LOOKUP_LIMIT, NewConversation, OwnedByOtherGeneration
from openhands_api.protocol.http import Request, Response
from openhands_api.protocol.v0_ops import V0Generation, V0Tracker, read_new_events
from tests.unit.opdriver import Driver, json_response
from tests.unit.scripted import (
    POLL,
    V0_BASE,
    V0_CID,
    V0_PATH,
    V0Server,
    context,
    error,
    html,
    params,
    text_500,
    v0_agent,
    v0_finish,
    v0_first_turn,
    v0_info,
    v0_output,
    v0_run,
    v0_state,
    v0_user,
)

EVENTS = f"{V0_PATH}/events"
MESSAGE = f"{V0_PATH}/message"
START = f"{V0_PATH}/start"


def generation(start_timeout: float = 60.0) -> V0Generation:
    return V0Generation(context(start_timeout))


def wait(
    server: V0Server, *, timeout: float = 30.0, after: SentMessage | None = None, now: float = 0.0
) -> tuple[Any, Driver]:
    driver = Driver(server.answer, now=now)
    result = driver.run(generation().wait(V0_CID, timeout=timeout, after=after, poll=POLL))
    return result, driver


def run(server: V0Server, op: Any, now: float = 0.0) -> tuple[Any, Driver]:
    driver = Driver(server.answer, now=now)
    return driver.run(op), driver


def sent(marker: int) -> SentMessage:
    return SentMessage(conversation_id=V0_CID, marker=marker)


def transport_error() -> APIConnectionError:
    return APIConnectionError("connection reset", method="GET", path=V0_PATH, request_sent=True)


def second_turn(first: int, answer: str = "Second answer.") -> list[dict[str, Any]]:
    return [v0_state(first, "running"), v0_finish(first + 1, answer), v0_state(first + 2, "finished")]


# ---------------------------------------------------------------------------- wait: outcomes


def test_wait_on_a_finished_run_reads_the_conversation_and_one_page_of_newest_events() -> None:
    result, driver = wait(V0Server("RUNNING", v0_first_turn("Hello.")))
    assert result.outcome is Outcome.FINISHED
    assert result.final_message == "Hello."
    # The events first, then the conversation: the status is at least as new as the events.
    assert driver.calls() == [f"GET {EVENTS}", f"GET {V0_PATH}"]
    assert params(driver.requests[0]) == {"start_id": "0", "reverse": "true", "limit": "20"}
    assert driver.now == 0


def test_wait_on_awaiting_user_input_is_waiting_for_user_with_the_agent_reply() -> None:
    events = [*v0_first_turn()[:7], v0_agent(7, "Which file?"), v0_state(8, "awaiting_user_input")]
    result, _ = wait(V0Server("RUNNING", events))
    assert result.outcome is Outcome.WAITING_FOR_USER
    assert result.final_message == "Which file?"


def test_wait_on_an_agent_error_is_failed_with_its_reason() -> None:
    reason = "RuntimeError: Agent reached maximum iteration. Current iteration: 500, max iteration: 500"
    result, _ = wait(V0Server("RUNNING", [*v0_first_turn()[:6], v0_state(6, "error", reason)]))
    assert result.outcome is Outcome.FAILED
    assert result.detail == reason
    assert result.final_message is None


def test_wait_on_a_failing_runtime_status_is_failed_with_that_status() -> None:
    server = V0Server("RUNNING", v0_first_turn()[:6])
    server.set(runtime_status="STATUS$ERROR_LLM_AUTHENTICATION")
    result, _ = wait(server)
    assert result.outcome is Outcome.FAILED
    assert result.detail == "STATUS$ERROR_LLM_AUTHENTICATION"


def test_wait_on_a_deleted_conversation_is_gone() -> None:
    result, driver = wait(V0Server(None))
    assert result.outcome is Outcome.GONE
    assert result.conversation.runtime == "gone"
    assert driver.calls() == [f"GET {EVENTS}", f"GET {V0_PATH}"]  # events 404, then null


def test_wait_on_a_conversation_deleted_between_its_two_reads_is_gone() -> None:
    server = V0Server("RUNNING", v0_first_turn()[:6])
    server.fail("GET", V0_PATH, json_response(None))  # the events were read; then it was deleted
    result, _ = wait(server)
    assert result.outcome is Outcome.GONE


def test_wait_on_a_runtime_stopped_mid_turn_is_stopped_and_the_stopped_state_is_ignored() -> None:
    server = V0Server("STOPPED", [*v0_first_turn()[:6], v0_state(6, "stopped")])
    result, _ = wait(server)
    assert result.outcome is Outcome.STOPPED
    assert result.conversation.agent_state == "running"  # not the stop's own "stopped"


def test_wait_on_an_archived_runtime_is_gone() -> None:
    result, _ = wait(V0Server("ARCHIVED", v0_first_turn()[:6]))
    assert result.outcome is Outcome.GONE


def test_a_finished_run_whose_runtime_stopped_later_is_still_finished() -> None:
    result, _ = wait(V0Server("STOPPED", [*v0_first_turn(), v0_state(9, "stopped")]))
    assert result.outcome is Outcome.FINISHED
    assert result.conversation.runtime == "stopped"


# ---------------------------------------------------------------------------- wait: the marker


def test_wait_after_a_message_ignores_the_finished_state_older_than_the_marker() -> None:
    server = V0Server("RUNNING", [*v0_first_turn("First answer."), v0_user(9, "Now the docs.")])
    server.timeline = [None, lambda s: s.add(v0_state(10, "running")), lambda s: s.add(*second_turn(11)[1:])]
    result, driver = wait(server, after=sent(8))
    assert result.outcome is Outcome.FINISHED
    assert result.final_message == "Second answer."
    assert [p.outcome for p in driver.progress] == [Outcome.IN_PROGRESS, Outcome.IN_PROGRESS]
    assert driver.now == 2


def test_wait_after_a_message_that_never_started_a_turn_times_out_instead_of_taking_the_old_finish() -> None:
    with pytest.raises(WaitTimeoutError) as caught:
        wait(V0Server("RUNNING", v0_first_turn()), after=sent(8), timeout=3)
    assert caught.value.last is not None
    assert caught.value.last.outcome is Outcome.IN_PROGRESS


def test_a_turn_that_runs_entirely_between_two_polls_is_found_after_the_cursor() -> None:
    server = V0Server("RUNNING", v0_first_turn())
    server.timeline = [None, lambda s: s.add(v0_user(9, "More."), *second_turn(10))]
    result, driver = wait(server, after=sent(8))
    assert result.outcome is Outcome.FINISHED
    assert result.final_message == "Second answer."
    # Each poll asks only for the events after the newest one seen (the marker at first).
    event_reads = [params(r) for r in driver.requests if r.path == EVENTS]
    assert event_reads == [{"start_id": "9", "reverse": "true", "limit": "20"}] * 2


def test_a_turn_longer_than_a_page_between_two_polls_is_read_back_to_the_cursor() -> None:
    server = V0Server("RUNNING", v0_first_turn())
    burst = [v0_user(9, "More."), v0_state(10, "running"), *[v0_run(i) for i in range(11, 60)]]
    server.timeline = [None, lambda s: s.add(*burst, v0_finish(60, "Long answer."), v0_state(61, "finished"))]
    result, driver = wait(server, after=sent(8))
    assert result.outcome is Outcome.FINISHED
    assert result.final_message == "Long answer."
    # the deciding state is on the first page of the second look: no paging back
    assert len([r for r in driver.requests if r.path == EVENTS]) == 2


# ---------------------------------------------------------------------------- wait: polling


def test_wait_emits_a_progress_snapshot_for_every_poll_still_in_progress() -> None:
    server = V0Server("STARTING", [v0_state(0, "loading")])
    server.timeline = [
        None,
        lambda s: (s.set(status="RUNNING"), s.add(v0_user(1, "Go."), v0_state(2, "running"))),
        lambda s: s.add(v0_finish(3, "Done."), v0_state(4, "finished")),
    ]
    result, driver = wait(server)
    assert result.outcome is Outcome.FINISHED
    assert [(p.outcome, p.conversation.runtime) for p in driver.progress] == [
        (Outcome.IN_PROGRESS, "starting"),
        (Outcome.IN_PROGRESS, "running"),
    ]
    assert driver.progress[1].conversation.agent_state == "running"


def test_wait_rides_out_server_errors_html_pages_and_transport_errors() -> None:
    server = V0Server("RUNNING", v0_first_turn())
    server.fail("GET", V0_PATH, text_500(), html(), transport_error(), error(502, "Bad Gateway"))
    result, driver = wait(server)
    assert result.outcome is Outcome.FINISHED
    assert driver.count("GET", V0_PATH) == 5
    assert driver.now == 4


def test_wait_rides_out_a_failing_events_read() -> None:
    server = V0Server("RUNNING", v0_first_turn())
    server.fail("GET", EVENTS, json_response({"detail": "slow down"}, status=429))
    result, driver = wait(server)
    assert result.outcome is Outcome.FINISHED
    assert driver.count("GET", EVENTS) == 2


@pytest.mark.parametrize(("status", "error_type"), [(401, AuthenticationError), (403, PermissionDeniedError)])
def test_wait_ends_at_once_when_the_key_is_refused(status: int, error_type: type[Exception]) -> None:
    server = V0Server("RUNNING", v0_first_turn()[:6])
    server.fail("GET", EVENTS, error(status, "Invalid API key"))  # a look's first request
    driver = Driver(server.answer)
    with pytest.raises(error_type):
        driver.run(generation().wait(V0_CID, timeout=30, after=None, poll=POLL))
    assert len(driver.requests) == 1
    assert driver.now == 0


def test_wait_times_out_with_the_last_result_it_saw() -> None:
    driver = Driver(V0Server("RUNNING", v0_first_turn()[:6]).answer)
    with pytest.raises(WaitTimeoutError) as caught:
        driver.run(generation().wait(V0_CID, timeout=5, after=None, poll=POLL))
    assert caught.value.timeout == 5
    assert caught.value.conversation_id == V0_CID
    assert caught.value.last.outcome is Outcome.IN_PROGRESS
    assert "last seen: in_progress" in str(caught.value)
    assert driver.now == 5
    assert driver.count("GET", V0_PATH) == 6


def test_wait_that_saw_only_errors_times_out_naming_the_last_error() -> None:
    server = V0Server("RUNNING")
    server.fail("GET", V0_PATH, *[text_500()] * 10)
    with pytest.raises(WaitTimeoutError) as caught:
        wait(server, timeout=3)
    assert caught.value.last is None
    assert "no answer yet; last error" in str(caught.value)


def test_every_request_of_a_wait_is_bounded_by_its_deadline() -> None:
    server = V0Server("RUNNING", v0_first_turn()[:6])
    server.fail("GET", V0_PATH, text_500())
    driver = Driver(server.answer, now=100.0)
    with pytest.raises(WaitTimeoutError):
        driver.run(generation().wait(V0_CID, timeout=5, after=None, poll=POLL))
    assert len(driver.requests) > 6
    assert {r.deadline for r in driver.requests} == {105.0}


def test_wait_refuses_a_bad_id_before_any_request() -> None:
    driver = Driver(V0Server().answer)
    with pytest.raises(InvalidInputError):
        driver.run(generation().wait("../etc", timeout=5, after=None, poll=POLL))
    assert driver.requests == []


# ---------------------------------------------------------------------------- read_new_events


def _look(server: V0Server, tracker: V0Tracker) -> Driver:
    driver = Driver(server.answer)
    driver.run(read_new_events(V0_CID, tracker))
    return driver


def test_read_new_events_pages_back_only_until_it_meets_the_cursor() -> None:
    # Only command outputs since the cursor: no page can decide, so the read goes down to it.
    server = V0Server("RUNNING", [v0_output(i) for i in range(151)])
    tracker = V0Tracker(marker=50)
    driver = _look(server, tracker)
    assert [params(r) for r in driver.requests] == [
        {"start_id": "51", "reverse": "true", "limit": "20"},
        {"start_id": "51", "end_id": "130", "reverse": "true", "limit": "100"},
    ]
    assert tracker.cursor == 150
    assert tracker.paged_back == 1
    assert tracker.kept == []  # command outputs carry neither an answer nor a cost


def test_read_new_events_stops_paging_at_a_deciding_state() -> None:
    events = [v0_output(i) for i in range(131)]
    events[100] = v0_state(100, "finished")
    tracker = V0Tracker()
    driver = _look(V0Server("RUNNING", events), tracker)
    assert len(driver.requests) == 2
    assert tracker.agent is not None
    assert (tracker.agent.event_id, tracker.agent.state) == (100, "finished")


def test_read_new_events_with_a_deciding_state_on_the_first_page_makes_one_request() -> None:
    events = [v0_output(i) for i in range(61)]
    events[50] = v0_state(50, "awaiting_user_input")
    tracker = V0Tracker()
    driver = _look(V0Server("RUNNING", events), tracker)
    assert len(driver.requests) == 1
    assert tracker.agent is not None
    assert tracker.agent.state == "awaiting_user_input"
    assert tracker.cursor == 60


def test_read_new_events_with_an_agent_action_on_the_first_page_makes_one_request() -> None:
    # A long running turn: its ``running`` lies 10,000 events back, but an agent action on
    # the newest page proves the agent is working (lifecycle.v0_page_state).
    events = [v0_state(0, "running"), *(v0_run(i) if i % 2 else v0_output(i) for i in range(1, 10_000))]
    tracker = V0Tracker()
    driver = _look(V0Server("RUNNING", events), tracker)
    assert len(driver.requests) == 1
    assert tracker.agent is not None
    assert (tracker.agent.state, tracker.agent.inferred, tracker.agent.event_id) == ("running", True, 9999)
    assert tracker.paged_back == 0


def test_read_new_events_ignoring_loading_and_stopped_keeps_paging() -> None:
    events = [v0_output(i) for i in range(40)]
    events[30] = v0_state(30, "stopped")
    events[25] = v0_state(25, "loading")
    tracker = V0Tracker()
    driver = _look(V0Server("RUNNING", events), tracker)
    assert len(driver.requests) == 2
    assert tracker.agent is None


def test_read_new_events_pages_on_after_a_short_page_that_has_more() -> None:
    server = V0Server("RUNNING", [v0_output(i) for i in range(100)])
    server.fail(
        "GET", EVENTS, json_response({"events": [v0_output(i) for i in range(99, 94, -1)], "has_more": True})
    )
    tracker = V0Tracker()
    driver = _look(server, tracker)
    assert params(driver.requests[1]) == {"start_id": "0", "end_id": "94", "reverse": "true", "limit": "100"}
    assert tracker.cursor == 99


def test_read_new_events_ends_at_an_empty_page() -> None:
    server = V0Server("RUNNING", [v0_run(i) for i in range(100)])
    server.fail("GET", EVENTS, json_response({"events": [], "has_more": True}))
    tracker = V0Tracker(marker=10)
    driver = _look(server, tracker)
    assert len(driver.requests) == 1
    assert tracker.cursor == 10
    assert tracker.kept == []


def test_read_new_events_ends_when_has_more_is_false() -> None:
    server = V0Server("RUNNING", [v0_run(i) for i in range(100)])
    newest = [v0_run(i) for i in range(99, 79, -1)]
    server.fail("GET", EVENTS, json_response({"events": newest, "has_more": False}))
    tracker = V0Tracker()
    driver = _look(server, tracker)
    assert len(driver.requests) == 1
    assert tracker.cursor == 99


def test_read_new_events_with_nothing_new_leaves_the_tracker_as_it_was() -> None:
    tracker = V0Tracker(marker=8)
    driver = _look(V0Server("RUNNING", v0_first_turn()), tracker)
    assert len(driver.requests) == 1
    assert params(driver.requests[0]) == {"start_id": "9", "reverse": "true", "limit": "20"}
    assert (tracker.cursor, tracker.agent, tracker.kept) == (8, None, [])


# ---------------------------------------------------------------------------- observe, result, get


def test_observe_gives_the_outcome_now_without_waiting() -> None:
    result, driver = run(V0Server("RUNNING", v0_first_turn()[:6]), generation().observe(V0_CID))
    assert result.outcome is Outcome.IN_PROGRESS
    assert driver.now == 0
    assert len(driver.requests) == 2


def test_observe_of_an_unknown_conversation_is_not_found() -> None:
    driver = Driver(V0Server(None).answer)
    with pytest.raises(NotFoundError):
        driver.run(generation().observe(V0_CID))
    assert driver.calls() == [f"GET {EVENTS}", f"GET {V0_PATH}"]


def _finish_far_back() -> list[dict[str, Any]]:
    """A finish whose ``finished`` state is the oldest event of the second page a look reads."""
    events = [v0_output(i) for i in range(201)]
    events[80] = v0_finish(80, "The answer, far back.")
    events[81] = v0_state(81, "finished")
    return events


def test_observe_does_not_read_past_the_deciding_state_for_the_final_text() -> None:
    result, driver = run(V0Server("RUNNING", _finish_far_back()), generation().observe(V0_CID))
    assert result.outcome is Outcome.FINISHED
    assert result.final_message is None
    assert driver.count("GET", f"{V0_PATH}/trajectory") == 0


def test_result_reads_the_trajectory_when_the_final_text_lies_beyond_the_look() -> None:
    result, driver = run(V0Server("RUNNING", _finish_far_back()), generation().result(V0_CID))
    assert result.final_message == "The answer, far back."
    assert driver.count("GET", f"{V0_PATH}/trajectory") == 1


def test_result_with_the_final_text_at_hand_reads_no_trajectory() -> None:
    result, driver = run(V0Server("RUNNING", v0_first_turn("Hi.")), generation().result(V0_CID))
    assert result.final_message == "Hi."
    assert driver.count("GET", f"{V0_PATH}/trajectory") == 0


def test_get_returns_the_unified_conversation() -> None:
    conversation, _ = run(V0Server("RUNNING", v0_first_turn()), generation().get(V0_CID))
    assert (conversation.id, conversation.api_version, conversation.runtime) == (V0_CID, "v0", "running")
    assert conversation.outcome is Outcome.FINISHED
    assert conversation.web_url == f"http://oh.test/conversations/{V0_CID}"


# ---------------------------------------------------------------------------- send_message


def test_send_to_a_running_conversation_sends_at_once_with_the_newest_event_id_as_marker() -> None:
    server = V0Server("RUNNING", v0_first_turn())
    receipt, driver = run(server, generation().send_message(V0_CID, "Now the docs.", resume=True))
    assert receipt == SentMessage(conversation_id=V0_CID, marker=8)
    assert driver.calls() == [f"GET {V0_PATH}", f"GET {EVENTS}", f"POST {MESSAGE}"]
    assert params(driver.requests[1]) == {"start_id": "0", "reverse": "true", "limit": "1"}
    post = driver.requests[2]
    assert (post.json, post.idempotent) == ({"message": "Now the docs."}, False)


def test_send_to_a_conversation_without_events_has_marker_minus_one() -> None:
    receipt, _ = run(V0Server("RUNNING", []), generation().send_message(V0_CID, "Hi", resume=True))
    assert receipt.marker == -1


def _restartable(server: V0Server) -> None:
    """/start: the runtime starts (loading); it is ready one read after the next."""

    def start(s: V0Server) -> None:
        s.set(status="STARTING", runtime_status="STATUS$STARTING_RUNTIME")
        s.add(v0_state(s.next_id, "loading"))

    server.on_start = start


def _ready(s: V0Server) -> None:
    s.set(status="RUNNING", runtime_status="STATUS$READY")
    s.add(
        {
            "id": s.next_id,
            "source": "environment",
            "action": "change_agent_state",
            "args": {"agent_state": "awaiting_user_input"},
        }
    )
    s.add(v0_state(s.next_id, "awaiting_user_input"))


def test_send_to_a_stopped_conversation_starts_it_and_waits_until_the_agent_is_ready() -> None:
    server = V0Server("STOPPED", [*v0_first_turn(), v0_state(9, "stopped")])
    _restartable(server)
    server.timeline = [None, None, _ready]
    receipt, driver = run(server, generation().send_message(V0_CID, "Continue.", resume=True))
    assert driver.calls() == [
        f"GET {V0_PATH}",
        f"GET {EVENTS}",
        f"POST {START}",
        f"GET {EVENTS}",
        f"GET {V0_PATH}",
        f"GET {EVENTS}",
        f"GET {V0_PATH}",
        f"GET {EVENTS}",
        f"POST {MESSAGE}",
    ]
    assert driver.requests[2].json == {}
    assert receipt.marker == 12  # the restart's own awaiting_user_input is older than the message


def test_send_without_resume_to_a_stopped_conversation_refuses_and_sends_nothing() -> None:
    server = V0Server("STOPPED", [*v0_first_turn(), v0_state(9, "stopped")])
    _restartable(server)
    driver = Driver(server.answer)
    with pytest.raises(ConflictError) as caught:
        driver.run(generation().send_message(V0_CID, "Continue.", resume=False))
    assert caught.value.detail is None  # the library's own refusal, not an answer's
    assert driver.calls() == [f"GET {V0_PATH}"]  # no /start, no message


def test_the_history_is_json_and_the_workspace_comes_from_zip_directory(tmp_path: Path) -> None:
    assert V0Generation.history_format == "json"
    call = v0.download_workspace(V0_CID, tmp_path / "w.zip")
    assert (call.request.method, call.request.path) == ("GET", f"{V0_PATH}/zip-directory")


def test_a_restart_that_reads_running_before_the_agent_announced_itself_keeps_waiting() -> None:
    server = V0Server("STOPPED", v0_first_turn())
    _restartable(server)
    server.timeline = [None, lambda s: s.set(status="RUNNING"), _ready]
    receipt, driver = run(server, generation().send_message(V0_CID, "Continue.", resume=True))
    assert server.reads == 3
    assert driver.calls()[-1] == f"POST {MESSAGE}"
    assert receipt.marker == 11


def test_send_to_a_starting_conversation_waits_without_posting_start() -> None:
    server = V0Server("STARTING", [v0_state(0, "loading")])
    server.timeline = [None, None, _ready]
    _, driver = run(server, generation().send_message(V0_CID, "Continue.", resume=True))
    assert driver.count("POST", START) == 0
    assert driver.count("POST", MESSAGE) == 1


def test_a_runtime_that_stops_again_after_start_is_a_start_error() -> None:
    server = V0Server("STOPPED", v0_first_turn())
    _restartable(server)
    server.timeline = [None, lambda s: s.set(status="STOPPED")]
    driver = Driver(server.answer)
    with pytest.raises(ConversationStartError) as caught:
        driver.run(generation().send_message(V0_CID, "Continue.", resume=True))
    assert caught.value.conversation_id == V0_CID
    assert driver.count("POST", START) == 1
    assert driver.count("POST", MESSAGE) == 0


@pytest.mark.parametrize("status", ["ERROR", "ARCHIVED"])
def test_send_to_a_conversation_that_cannot_restart_is_not_found(status: str) -> None:
    driver = Driver(V0Server(status, v0_first_turn()).answer)
    with pytest.raises(NotFoundError, match="cannot be restarted"):
        driver.run(generation().send_message(V0_CID, "Continue.", resume=True))
    assert driver.count("POST", MESSAGE) == 0


def test_send_to_an_unknown_conversation_is_not_found_after_one_read() -> None:
    driver = Driver(V0Server(None).answer)
    with pytest.raises(NotFoundError):
        driver.run(generation().send_message(V0_CID, "Hi", resume=True))
    assert driver.calls() == [f"GET {V0_PATH}"]


def test_send_to_a_conversation_deleted_during_its_restart_is_not_found() -> None:
    server = V0Server("STOPPED", v0_first_turn())
    server.on_start = lambda s: setattr(s, "info", None)
    driver = Driver(server.answer)
    with pytest.raises(NotFoundError):
        driver.run(generation().send_message(V0_CID, "Hi", resume=True))
    assert driver.count("POST", MESSAGE) == 0


def test_a_lost_answer_of_post_message_is_not_resent() -> None:
    server = V0Server("RUNNING", v0_first_turn())
    server.fail("POST", MESSAGE, APITimeoutError("timed out", method="POST", path=MESSAGE, request_sent=True))
    driver = Driver(server.answer)
    with pytest.raises(APITimeoutError):
        driver.run(generation().send_message(V0_CID, "Once.", resume=True))
    assert driver.count("POST", MESSAGE) == 1


def test_a_server_error_of_post_message_is_not_resent() -> None:
    server = V0Server("RUNNING", v0_first_turn())
    server.fail("POST", MESSAGE, text_500())
    driver = Driver(server.answer)
    with pytest.raises(ServerError):
        driver.run(generation().send_message(V0_CID, "Once.", resume=True))
    assert driver.count("POST", MESSAGE) == 1


def test_an_empty_message_is_refused_before_any_request() -> None:
    driver = Driver(V0Server().answer)
    with pytest.raises(InvalidInputError):
        driver.run(generation().send_message(V0_CID, "", resume=True))
    assert driver.requests == []


# ---------------------------------------------------------------------------- restart


def test_a_restart_rides_out_transient_errors() -> None:
    server = V0Server("STOPPED", v0_first_turn())
    _restartable(server)
    server.timeline = [None, _ready]
    server.on_start = lambda s: (
        s.set(status="STARTING"),
        s.fail("GET", V0_PATH, text_500(), html(), transport_error()),
    )
    _, driver = run(server, generation().send_message(V0_CID, "Continue.", resume=True))
    assert driver.count("POST", MESSAGE) == 1
    assert driver.count("GET", V0_PATH) == 5
    assert driver.now == 3


def test_a_restart_that_never_completes_times_out() -> None:
    server = V0Server("STOPPED", v0_first_turn())
    _restartable(server)
    driver = Driver(server.answer)
    with pytest.raises(WaitTimeoutError, match="did not start running within 5s") as caught:
        driver.run(generation(start_timeout=5).send_message(V0_CID, "Continue.", resume=True))
    assert caught.value.timeout == 5
    assert driver.now == 5
    assert driver.count("POST", MESSAGE) == 0


def test_a_restart_timing_out_after_errors_names_the_last_error() -> None:
    server = V0Server("STOPPED", v0_first_turn())
    server.on_start = lambda s: s.fail("GET", V0_PATH, *[text_500()] * 10)
    driver = Driver(server.answer)
    with pytest.raises(WaitTimeoutError, match="last error"):
        driver.run(generation(start_timeout=3).send_message(V0_CID, "Continue.", resume=True))


# ---------------------------------------------------------------------------- send_and_wait


def test_send_and_wait_waits_for_the_turn_its_message_started() -> None:
    server = V0Server("RUNNING", v0_first_turn("First answer."))
    server.on_message = lambda s: s.add(v0_state(s.next_id, "running"))
    server.timeline = [None, None, lambda s: s.add(v0_finish(11, "Second answer."), v0_state(12, "finished"))]
    result, driver = run(server, generation().send_and_wait(V0_CID, "Now the docs.", timeout=30))
    assert result.outcome is Outcome.FINISHED
    assert result.final_message == "Second answer."
    assert driver.count("POST", MESSAGE) == 1
    assert len(driver.progress) == 1


# ---------------------------------------------------------------------------- hand-over to V1


def _v1_seen_through_v0() -> V0Server:
    server = V0Server("RUNNING")
    server.set(conversation_version="V1")
    server.fail("GET", EVENTS, error(404, f"Conversation {V0_CID} not found"))
    return server


HAND_OVER_OPS = {
    "observe": lambda g: g.observe(V0_CID),
    "result": lambda g: g.result(V0_CID),
    "wait": lambda g: g.wait(V0_CID, timeout=5, after=None, poll=POLL),
    "send_message": lambda g: g.send_message(V0_CID, "Hi", resume=True),
    "send_and_wait": lambda g: g.send_and_wait(V0_CID, "Hi", timeout=5),
    "stop": lambda g: g.stop(V0_CID),
    "resume": lambda g: g.resume(V0_CID),
    "iter_events": lambda g: g.iter_events(V0_CID, reverse=False, page_size=20),
}


@pytest.mark.parametrize("name", list(HAND_OVER_OPS))
def test_a_v1_conversation_seen_through_the_v0_routes_is_handed_over(name: str) -> None:
    driver = Driver(_v1_seen_through_v0().answer)
    with pytest.raises(OwnedByOtherGeneration) as caught:
        driver.run(HAND_OVER_OPS[name](generation()))
    assert (caught.value.version, caught.value.conversation_id) == ("v1", V0_CID)
    assert [r for r in driver.requests if r.method != "GET"] == []


# ---------------------------------------------------------------------------- paging


def test_iter_events_forward_pages_from_the_last_id_plus_one() -> None:
    server = V0Server("RUNNING", v0_first_turn()[:5])
    _, driver = run(server, generation().iter_events(V0_CID, reverse=False, page_size=2))
    assert [e.seq for e in driver.emitted] == [0, 1, 2, 3, 4]
    assert [params(r) for r in driver.requests] == [
        {"start_id": "0", "limit": "2"},
        {"start_id": "2", "limit": "2"},
        {"start_id": "4", "limit": "2"},
    ]


def test_iter_events_reverse_pages_down_from_the_last_id_minus_one() -> None:
    server = V0Server("RUNNING", v0_first_turn()[:5])
    _, driver = run(server, generation().iter_events(V0_CID, reverse=True, page_size=2))
    assert [e.seq for e in driver.emitted] == [4, 3, 2, 1, 0]
    assert [params(r) for r in driver.requests] == [
        {"start_id": "0", "reverse": "true", "limit": "2"},
        {"start_id": "0", "end_id": "2", "reverse": "true", "limit": "2"},
        {"start_id": "0", "end_id": "0", "reverse": "true", "limit": "2"},
    ]


def test_iter_events_stops_when_has_more_is_false_on_a_full_page() -> None:
    server = V0Server("RUNNING", v0_first_turn()[:4])
    _, driver = run(server, generation().iter_events(V0_CID, reverse=False, page_size=2))
    assert len(driver.emitted) == 4
    assert len(driver.requests) == 2


def test_iter_events_of_a_single_page_makes_one_request() -> None:
    _, driver = run(
        V0Server("RUNNING", v0_first_turn()), generation().iter_events(V0_CID, reverse=False, page_size=20)
    )
    assert [e.seq for e in driver.emitted] == list(range(9))
    assert len(driver.requests) == 1


def test_iter_events_with_a_page_size_above_the_server_limit_pages_at_the_limit() -> None:
    server = V0Server("RUNNING", [v0_run(i) for i in range(250)])
    _, driver = run(server, generation().iter_events(V0_CID, reverse=False, page_size=500))
    assert [e.seq for e in driver.emitted] == list(range(250))
    assert {params(r)["limit"] for r in driver.requests} == {"100"}


def test_iter_events_converts_to_unified_events() -> None:
    server = V0Server("RUNNING", v0_first_turn("Done."))
    _, driver = run(server, generation().iter_events(V0_CID, reverse=True, page_size=1))
    newest, finish = driver.emitted[0], driver.emitted[1]
    assert (newest.id, newest.kind, newest.text) == ("8", "observation:agent_state_changed", "finished")
    assert (finish.kind, finish.text, finish.source) == ("action:finish", "Done.", "agent")


def test_iter_events_of_an_unknown_conversation_is_not_found() -> None:
    driver = Driver(V0Server(None).answer)
    with pytest.raises(NotFoundError):
        driver.run(generation().iter_events(V0_CID, reverse=False, page_size=20))
    assert driver.calls() == [f"GET {EVENTS}", f"GET {V0_PATH}"]
    assert driver.emitted == []


def test_iter_events_404_of_an_existing_v0_conversation_is_the_404() -> None:
    server = V0Server("RUNNING")
    server.fail("GET", EVENTS, error(404, "Conversation not found"))
    driver = Driver(server.answer)
    with pytest.raises(NotFoundError, match="Conversation not found"):
        driver.run(generation().iter_events(V0_CID, reverse=False, page_size=20))


def _listing(*pages: tuple[list[str], str | None]) -> Any:
    answers = iter(pages)

    def answer(request: Request) -> Response:
        ids, next_page = next(answers)
        results = [v0_info(conversation_id=cid) for cid in ids]
        return json_response({"results": results, "next_page_id": next_page})

    return answer


def test_iter_conversations_dedupes_items_repeated_at_a_page_boundary() -> None:
    driver = Driver(_listing((["a1", "b2"], "p1"), ([], "p2"), (["b2", "c3"], None)))
    driver.run(generation().iter_conversations(page_size=2, filters={}))
    assert [c.id for c in driver.emitted] == ["a1", "b2", "c3"]
    assert [params(r).get("page_id") for r in driver.requests] == [None, "p1", "p2"]
    assert {params(r)["limit"] for r in driver.requests} == {"2"}


def test_iter_conversations_passes_the_filters() -> None:
    driver = Driver(_listing((["a1"], None)))
    driver.run(generation().iter_conversations(page_size=5, filters={"selected_repository": "o/r"}))
    assert params(driver.requests[0]) == {"limit": "5", "selected_repository": "o/r"}
    assert driver.emitted[0].api_version == "v0"


def test_count_running_counts_agent_loops_over_every_page_but_not_1x_v1_rows() -> None:
    rows = iter(
        [
            ([("a1", "RUNNING", "V0"), ("b2", "STARTING", "V0"), ("c3", "STOPPED", "V0")], "p1"),
            ([("d4", "RUNNING", "V1"), ("e5", "RUNNING", None), ("f6", "ERROR", "V0")], None),
        ]
    )

    def answer(request: Request) -> Response:
        page, next_page = next(rows)
        results = [v0_info(s, conversation_id=cid, conversation_version=kind) for cid, s, kind in page]
        return json_response({"results": results, "next_page_id": next_page})

    driver = Driver(answer)
    assert driver.run(generation().count_running()) == 3  # a1, b2, e5 (no version: V0)
    assert [params(r).get("page_id") for r in driver.requests] == [None, "p1"]
    assert {params(r)["limit"] for r in driver.requests} == {"100"}
    assert driver.emitted == []  # counted, not handed to anyone
    assert (V0Generation.chooses_conversation_id, V0Generation.self_hosted_running_limit) == (False, 3)


# ---------------------------------------------------------------------------- managing


def test_stop_of_a_deleted_conversation_is_not_found_without_posting_stop() -> None:
    driver = Driver(V0Server(None).answer)
    with pytest.raises(NotFoundError):
        driver.run(generation().stop(V0_CID))
    assert driver.calls() == [f"GET {V0_PATH}"]


def test_stop_reads_the_conversation_then_posts_stop() -> None:
    _, driver = run(V0Server("RUNNING"), generation().stop(V0_CID))
    assert driver.calls() == [f"GET {V0_PATH}", f"POST {V0_PATH}/stop"]


def test_resume_posts_start_with_an_empty_body() -> None:
    _, driver = run(V0Server("STOPPED"), generation().resume(V0_CID))
    assert driver.calls() == [f"GET {V0_PATH}", f"POST {START}"]
    assert driver.requests[1].json == {}


def test_resume_of_a_deleted_conversation_is_not_found_without_posting_start() -> None:
    driver = Driver(V0Server(None).answer)
    with pytest.raises(NotFoundError):
        driver.run(generation().resume(V0_CID))
    assert driver.count("POST", START) == 0


def test_delete_is_tried_once_more_after_a_500() -> None:
    server = V0Server("STARTING")
    server.fail("DELETE", V0_PATH, text_500())
    deleted, driver = run(server, generation().delete(V0_CID))
    assert deleted is True
    assert driver.count("DELETE", V0_PATH) == 2


def test_delete_failing_twice_raises_the_server_error() -> None:
    server = V0Server("STARTING")
    server.fail("DELETE", V0_PATH, text_500(), text_500())
    driver = Driver(server.answer)
    with pytest.raises(ServerError):
        driver.run(generation().delete(V0_CID))
    assert driver.count("DELETE", V0_PATH) == 2


def test_delete_of_an_unknown_conversation_is_false_after_one_request() -> None:
    deleted, driver = run(V0Server(None), generation().delete(V0_CID))
    assert deleted is False
    assert len(driver.requests) == 1


def test_delete_refused_is_not_retried() -> None:
    server = V0Server("RUNNING")
    server.fail("DELETE", V0_PATH, error(403, "denied"))
    driver = Driver(server.answer)
    with pytest.raises(PermissionDeniedError):
        driver.run(generation().delete(V0_CID))
    assert len(driver.requests) == 1


def test_set_title_patches_the_title() -> None:
    server = V0Server("RUNNING")
    _, driver = run(server, generation().set_title(V0_CID, "Fix the tests"))
    assert driver.calls() == [f"PATCH {V0_PATH}"]
    assert driver.requests[0].json == {"title": "Fix the tests"}
    assert server.info is not None
    assert server.info["title"] == "Fix the tests"


def test_set_title_refuses_an_empty_title_before_any_request() -> None:
    driver = Driver(V0Server().answer)
    with pytest.raises(InvalidInputError):
        driver.run(generation().set_title(V0_CID, ""))
    assert driver.requests == []


def test_download_history_streams_the_trajectory_to_the_destination(tmp_path: Path) -> None:
    destination = tmp_path / "history.json"
    path, driver = run(
        V0Server("RUNNING", v0_first_turn("Done.")), generation().download_history(V0_CID, destination)
    )
    assert path == destination
    assert driver.calls() == [f"GET {V0_PATH}/trajectory"]
    request = driver.requests[0]
    # Streamed by the driver into the file, checked as a trajectory, never parsed whole.
    assert request.stream_to == destination
    assert request.stream_json is v0.TRAJECTORY
    assert request.bulk


def test_download_history_of_an_unknown_conversation_is_not_found_and_writes_nothing(tmp_path: Path) -> None:
    driver = Driver(V0Server(None).answer)
    with pytest.raises(NotFoundError):
        driver.run(generation().download_history(V0_CID, tmp_path / "h.json"))
    assert driver.calls() == [f"GET {V0_PATH}/trajectory"]  # nothing streamed: the 404 came first


# ---------------------------------------------------------------------------- create


def _creating(answer_create: Response) -> Any:
    def answer(request: Request) -> Response:
        if (request.method, request.path) == ("POST", V0_BASE):
            return answer_create
        if request.method == "PATCH":
            return json_response(True)
        raise AssertionError(request.describe())

    return answer


def test_create_with_a_title_renames_right_after() -> None:
    created = json_response({"status": "ok", "conversation_id": V0_CID, "conversation_status": "STARTING"})
    driver = Driver(_creating(created))
    conversation = driver.run(generation().create(NewConversation("Fix it.", title="Fix the tests")))
    assert driver.calls() == [f"POST {V0_BASE}", f"PATCH {V0_PATH}"]
    assert driver.requests[1].json == {"title": "Fix the tests"}
    assert (conversation.id, conversation.title, conversation.outcome) == (
        V0_CID,
        "Fix the tests",
        Outcome.IN_PROGRESS,
    )


def test_create_without_a_title_does_not_rename() -> None:
    created = json_response({"status": "ok", "conversation_id": V0_CID, "conversation_status": "STARTING"})
    driver = Driver(_creating(created))
    driver.run(generation().create(NewConversation("Fix it.")))
    assert driver.calls() == [f"POST {V0_BASE}"]
    assert driver.requests[0].json == {"initial_user_msg": "Fix it."}


def test_create_against_a_server_answering_only_web_pages_gives_up_after_the_silent_lookup_limit() -> None:
    driver = Driver(lambda request: html())
    with pytest.raises(ProtocolError, match="may have been created"):
        driver.run(generation(start_timeout=300).create(NewConversation("Fix it.")))
    assert driver.count("POST", V0_BASE) == 1
    assert SILENT_LOOKUP_LIMIT <= driver.now < SILENT_LOOKUP_LIMIT + 2
