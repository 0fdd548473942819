"""The synchronous client against the fake V0 server over loopback: the main job, end to end."""

from __future__ import annotations

import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from openhands_api import (
    APIConnectionError,
    AuthenticationError,
    ConversationStartError,
    InvalidInputError,
    NotFoundError,
    OpenHandsAPI,
    Outcome,
    WaitTimeoutError,
)
from openhands_api.testing import FakeOpenHandsServer, FaultRule


def test_create_then_wait_reaches_finished_while_status_stays_running(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Say hello and finish.")
    assert conversation.api_version == "v0"
    assert conversation.web_url == f"{api.base_url}/conversations/{conversation.id}"
    result = api.wait(conversation.id, timeout=30)
    assert result.outcome is Outcome.FINISHED
    assert result.final_message
    assert result.conversation.runtime == "running"
    assert result.conversation.raw["status"] == "RUNNING"
    assert result.conversation.agent_state == "finished"


def test_the_agent_asking_a_question_is_waiting_for_user(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Which file? [fake-llm ask]")
    result = api.wait(conversation.id, timeout=30)
    assert result.outcome is Outcome.WAITING_FOR_USER
    assert result.final_message


def test_an_agent_error_is_failed_with_the_reason(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Break. [fake-llm error]")
    result = api.wait(conversation.id, timeout=30)
    assert result.outcome is Outcome.FAILED
    assert result.detail
    assert result.final_message is None


def test_a_long_run_is_followed_to_the_end(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Think hard. [fake-llm steps=40]")
    result = api.wait(conversation.id, timeout=60)
    assert result.outcome is Outcome.FINISHED
    events = list(api.iter_events(conversation.id, page_size=25))
    assert len(events) > 80
    assert [e.seq for e in events] == list(range(len(events)))
    newest_first = list(api.iter_events(conversation.id, reverse=True, page_size=25))
    assert [e.seq for e in newest_first] == list(reversed(range(len(events))))


def test_wait_times_out_with_a_typed_error_that_says_it_may_still_run(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Slow. [fake-llm delay=30]")
    with pytest.raises(WaitTimeoutError, match="may still be running") as caught:
        api.wait(conversation.id, timeout=1.0)
    assert caught.value.conversation_id == conversation.id
    assert caught.value.last is not None
    assert caught.value.last.outcome is Outcome.IN_PROGRESS


def test_follow_up_waits_for_the_new_turn_not_the_previous_finish(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("First task.")
    first = api.wait(conversation.id, timeout=30)
    events_before = len(list(api.iter_events(conversation.id)))
    second = api.send_and_wait(conversation.id, "Second task. [fake-llm steps=3]", timeout=30)
    assert first.outcome is second.outcome is Outcome.FINISHED
    events_after = list(api.iter_events(conversation.id))
    assert len(events_after) > events_before + 6  # the second turn really ran before wait returned
    assert events_after[-1].raw.get("extras", {}).get("agent_state") == "finished"


def test_send_message_then_wait_after_the_receipt(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("First.")
    api.wait(conversation.id, timeout=30)
    sent = api.send_message(conversation.id, "Now ask me something. [fake-llm ask]")
    result = api.wait(conversation.id, after=sent, timeout=30)
    assert result.outcome is Outcome.WAITING_FOR_USER


def test_stop_then_resume(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Work. [fake-llm delay=30]")
    while api.get_conversation(conversation.id).agent_state != "running":
        time.sleep(0.05)
    api.stop(conversation.id)
    stopped = api.get_conversation(conversation.id)
    assert stopped.runtime == "stopped"
    assert stopped.outcome is Outcome.STOPPED
    api.resume(conversation.id)
    result = api.wait(conversation.id, timeout=30)
    assert result.conversation.runtime == "running"
    assert result.outcome is Outcome.WAITING_FOR_USER  # a restarted runtime awaits input


def test_a_message_to_a_stopped_conversation_restarts_it_first(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("First.")
    api.wait(conversation.id, timeout=30)
    api.stop(conversation.id)
    result = api.send_and_wait(conversation.id, "Continue.", timeout=30)
    assert result.outcome is Outcome.FINISHED
    assert result.conversation.runtime == "running"


def test_a_restart_that_the_server_abandons_is_a_start_error_not_a_long_wait(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], make_api: Callable[..., OpenHandsAPI]
) -> None:
    """1.6.0 runs at most N conversations and closes the least recently updated one when
    another starts: a restart caught by that ends STOPPED, and no event will ever come."""
    server = fake_openhands_factory(rate_limit=False, max_concurrent_conversations=1, startup_delay=1.0)
    api = make_api(server)
    first = api.create_conversation("First.")
    api.wait(first.id, timeout=30)
    api.stop(first.id)
    other: list[str] = []

    def start_another_once_the_restart_begins() -> None:
        with httpx.Client(base_url=server.base_url) as http:
            while http.get(f"/api/conversations/{first.id}").json()["status"] != "STARTING":
                time.sleep(0.02)
            answer = http.post("/api/conversations", json={"initial_user_msg": "Second."})
            other.append(answer.json()["conversation_id"])

    thread = threading.Thread(target=start_another_once_the_restart_begins)
    thread.start()
    began = time.monotonic()
    with pytest.raises(ConversationStartError) as caught:
        api.send_and_wait(first.id, "Continue.", timeout=60)
    thread.join()
    assert time.monotonic() - began < 10
    assert caught.value.conversation_id == first.id
    assert "stopped again" in str(caught.value)
    assert other
    assert api.get_conversation(first.id).runtime == "stopped"


def test_a_runtime_that_never_comes_up_ends_the_wait_with_a_timeout(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Hello. [fake-start stuck]")
    with pytest.raises(WaitTimeoutError) as caught:
        api.wait(conversation.id, timeout=1.5)
    assert caught.value.last is not None
    assert caught.value.last.outcome is Outcome.IN_PROGRESS
    assert caught.value.last.conversation.runtime == "starting"


def test_a_restart_that_never_comes_up_ends_at_the_start_timeout(
    server: FakeOpenHandsServer, make_api: Callable[..., OpenHandsAPI]
) -> None:
    api = make_api(server, start_timeout=1.5)
    conversation = api.create_conversation("First.")
    api.wait(conversation.id, timeout=30)
    assert (
        api.send_and_wait(conversation.id, "On. [fake-start stuck]", timeout=30).outcome is Outcome.FINISHED
    )
    api.stop(conversation.id)
    with pytest.raises(WaitTimeoutError, match=r"did not start running within 1\.5s"):
        api.send_and_wait(conversation.id, "Are you back?", timeout=30)
    assert api.get_conversation(conversation.id).runtime == "starting"


def test_a_restart_rides_out_a_server_that_fails_while_the_runtime_starts(
    server: FakeOpenHandsServer, api: OpenHandsAPI
) -> None:
    conversation = api.create_conversation("First.")
    api.wait(conversation.id, timeout=30)
    api.stop(conversation.id)
    # The events read that fixes the marker goes through; the restart's first look at the
    # events then fails through all of the request's retries (1 + 3).
    rule = FaultRule("status", method="GET", path="/api/conversations/*/events", status=503, skip=1, times=4)
    server.state.faults.add(rule)
    result = api.send_and_wait(conversation.id, "Are you back?", timeout=30)
    assert result.outcome is Outcome.FINISHED
    assert [status.hits for status in server.state.faults.rules] == [4]


def test_delete_then_the_conversation_is_gone(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Hi.")
    api.wait(conversation.id, timeout=30)
    assert api.delete_conversation(conversation.id) is True
    with pytest.raises(NotFoundError):
        api.get_conversation(conversation.id)
    assert api.wait(conversation.id, timeout=5).outcome is Outcome.GONE
    assert api.delete_conversation(conversation.id) is False


def test_waiting_on_an_unknown_id_is_gone_at_once(api: OpenHandsAPI) -> None:
    assert api.wait("0123456789abcdef0123456789abcdef", timeout=5).outcome is Outcome.GONE


def test_iter_conversations_follows_every_page(api: OpenHandsAPI) -> None:
    ids = {api.create_conversation(f"Task {i}").id for i in range(23)}
    listed = [c.id for c in api.iter_conversations(page_size=5)]
    assert len(listed) == len(set(listed))
    assert ids <= set(listed)
    assert [c.id for c in api.list_conversations(limit=7)] == listed[:7]


def test_title_rename_and_result(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Hi.", title="My task")
    api.wait(conversation.id, timeout=30)
    api.set_title(conversation.id, "Renamed")
    assert api.get_conversation(conversation.id).title == "Renamed"
    result = api.result(conversation.id)
    assert result.outcome is Outcome.FINISHED
    assert result.final_message
    assert result.pr_numbers == []


def test_download_history_writes_the_trajectory(api: OpenHandsAPI, tmp_path: Path) -> None:
    conversation = api.create_conversation("Hi.")
    api.wait(conversation.id, timeout=30)
    path = api.download_history(conversation.id, tmp_path / "history.json")
    import json

    trajectory = json.loads(path.read_text())["trajectory"]
    assert trajectory[0]["id"] == 0
    assert any(e.get("action") == "finish" for e in trajectory)


def test_raw_v0_routes(api: OpenHandsAPI, server: FakeOpenHandsServer, tmp_path: Path) -> None:
    conversation = api.create_conversation("Hi.")
    api.wait(conversation.id, timeout=30)
    server.state.seed_workspace({"README.md": "# hello\n", "src/app.py": "print(1)\n"})
    info = api.v0.get_conversation(conversation.id)
    assert info is not None
    assert info.status == "RUNNING"
    assert api.v0.get_conversation("0123456789abcdef0123456789abcdef") is None
    page = api.v0.get_events(conversation.id, reverse=True, limit=2)
    assert [e.id for e in page.events] == sorted((e.id for e in page.events), reverse=True)
    assert page.has_more
    assert len(api.v0.get_trajectory(conversation.id)) == len(list(api.iter_events(conversation.id)))
    assert "README.md" in api.v0.list_files(conversation.id)
    assert api.v0.read_file(conversation.id, "README.md") == "# hello\n"
    size = api.v0.download_workspace(conversation.id, tmp_path / "ws.zip")
    assert size == (tmp_path / "ws.zip").stat().st_size
    assert "README.md" in zipfile.ZipFile(tmp_path / "ws.zip").namelist()
    assert isinstance(api.v0.git_changes(conversation.id), list)
    assert api.v0.update_title(conversation.id, "raw title") is True


def test_bad_input_is_refused_before_any_request(api: OpenHandsAPI, server: FakeOpenHandsServer) -> None:
    before = server.state.create_calls
    for call in (
        lambda: api.create_conversation(""),
        lambda: api.create_conversation("x", repository="not-a-repo"),
        lambda: api.get_conversation("../../etc/passwd"),
        lambda: api.wait("a/b"),
    ):
        with pytest.raises(InvalidInputError):
            call()
    assert server.state.create_calls == before


def test_session_key_auth(fake_openhands_factory: Callable[..., FakeOpenHandsServer]) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, session_api_key="sess-key-1")
    with OpenHandsAPI(base_url=server.base_url, session_api_key="wrong") as wrong:
        with pytest.raises(AuthenticationError) as caught:
            wrong.create_conversation("hi")
        assert "wrong" not in str(caught.value)
    with OpenHandsAPI(base_url=server.base_url, session_api_key="sess-key-1", poll_interval=0.05) as right:
        conversation = right.create_conversation("hi")
        assert right.wait(conversation.id, timeout=30).outcome is Outcome.FINISHED


def test_bearer_key_auth(fake_openhands_factory: Callable[..., FakeOpenHandsServer]) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, api_key="sk-bearer-1")
    with OpenHandsAPI(base_url=server.base_url) as anonymous, pytest.raises(AuthenticationError):
        anonymous.create_conversation("hi")
    with OpenHandsAPI(base_url=server.base_url, api_key="sk-bearer-1") as keyed:
        assert keyed.create_conversation("hi").id


def test_unreachable_server_is_a_connection_error_that_never_sent_anything() -> None:
    with (
        OpenHandsAPI(base_url="http://127.0.0.1:9", max_retries=1) as api,
        pytest.raises(APIConnectionError) as caught,
    ):
        api.create_conversation("hi")
    assert caught.value.request_sent is False


def test_the_client_rides_out_the_real_rate_limiter(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], make_api: Callable[..., OpenHandsAPI]
) -> None:
    server = fake_openhands_factory(speed=5.0, rate_limit=True)
    api = make_api(server)
    answers = [api.v0.get_conversation("0123456789abcdef0123456789abcdef") for _ in range(30)]
    assert answers == [None] * 30  # 30 requests in a burst: delayed and 429'd, never failed


def test_auto_detects_v0(api: OpenHandsAPI) -> None:
    assert api.api_version is None
    api.list_conversations(limit=1)
    assert api.api_version == "v0"
