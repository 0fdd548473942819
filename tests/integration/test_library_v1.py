"""The library's V1 surface against the real openhands-ai 1.11.0 server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from openhands_api import (
    AsyncOpenHandsAPI,
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    OpenHandsAPI,
    Outcome,
)
from tests.user_script import run_user_script

from .clients import library_client
from .realserver.harness import RealServer

UNKNOWN = "0123456789abcdef0123456789abcdef"
WAIT = 180.0


@pytest.fixture(scope="module")
def api(real_v1: RealServer) -> Iterator[OpenHandsAPI]:
    with library_client(real_v1) as client:
        yield client


@pytest.fixture(scope="module")
def finished(api: OpenHandsAPI) -> Iterator[object]:
    conversation = api.create_conversation("Say hello. [fake-llm steps=2]")
    result = api.wait(conversation.id, timeout=WAIT)
    yield conversation, result
    api.delete_conversation(conversation.id)


def test_auto_detection_picks_v1(api: OpenHandsAPI, finished: object) -> None:
    assert api.api_version == "v1"


def test_create_follows_the_start_task_and_wait_finishes(finished: object) -> None:
    conversation, result = finished  # type: ignore[misc]
    assert conversation.api_version == "v1"
    assert conversation.start_task_id
    assert conversation.start_task_id != conversation.id
    assert conversation.web_url.endswith(f"/conversations/{conversation.id}")
    assert result.outcome is Outcome.FINISHED
    assert result.final_message == "Task complete (fake LLM)."
    assert result.conversation.runtime == "running"


def test_a_start_task_id_is_accepted_where_a_conversation_is_expected(
    api: OpenHandsAPI, finished: object
) -> None:
    conversation, _ = finished  # type: ignore[misc]
    assert api.get_conversation(conversation.start_task_id).id == conversation.id
    assert api.wait(conversation.start_task_id, timeout=30).conversation_id == conversation.id


def test_batch_get_splits_keeps_order_and_marks_missing(api: OpenHandsAPI, finished: object) -> None:
    conversation, _ = finished  # type: ignore[misc]
    ids = [f"{i:032x}" for i in range(120)]
    ids[100] = conversation.id
    got = api.v1.get_conversations(ids)
    assert len(got) == 120
    assert got[100] is not None
    assert got[100].id == conversation.id
    assert all(item is None for i, item in enumerate(got) if i != 100)


def test_search_count_and_events(api: OpenHandsAPI, finished: object) -> None:
    conversation, _ = finished  # type: ignore[misc]
    assert conversation.id in [c.id for c in api.v1.iter_conversations(page_size=1)]
    assert api.v1.count_conversations() >= 1
    events = list(api.iter_events(conversation.id, page_size=3))
    newest_first = list(api.iter_events(conversation.id, reverse=True, page_size=3))
    assert [e.id for e in newest_first] == [e.id for e in reversed(events)]
    assert api.v1.count_events(conversation.id) == len(events)
    thinks = [
        e
        for e in api.v1.iter_events(conversation.id, kind="ActionEvent")
        if e.model_extra.get("tool_name") == "think"
    ]
    assert len(thinks) == 2
    assert api.v1.count_events(UNKNOWN) == 0  # the raw routes answer an unknown id with nothing …
    assert list(api.v1.iter_events(UNKNOWN)) == []
    with pytest.raises(NotFoundError):  # … and the unified view says it does not exist
        list(api.iter_events(UNKNOWN))


def test_update_read_file_and_download(api: OpenHandsAPI, finished: object, tmp_path: Path) -> None:
    conversation, _ = finished  # type: ignore[misc]
    assert api.v1.update_conversation(conversation.id, title="renamed by test").title == "renamed by test"
    assert api.v1.read_file(conversation.id, "/workspace/project/nothing-here.txt") == ""
    path = api.download_history(conversation.id, tmp_path / "history.zip")
    names = zipfile.ZipFile(path).namelist()
    assert "meta.json" in names
    assert any(name.startswith("event_000000_") for name in names)


def test_users_me_and_sandboxes(api: OpenHandsAPI, finished: object) -> None:
    conversation, _ = finished  # type: ignore[misc]
    assert isinstance(api.v1.users_me(), dict)
    sandboxes = {s.id: s for s in api.v1.iter_sandboxes()}
    assert sandboxes[conversation.sandbox_id].status == "RUNNING"
    assert "session_api_key" not in repr(sandboxes[conversation.sandbox_id])


def test_pause_409_resume_and_follow_up(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Hello.")
    try:
        assert api.wait(conversation.id, timeout=WAIT).outcome is Outcome.FINISHED
        api.stop(conversation.id)  # V1: pauses the sandbox
        paused = api.get_conversation(conversation.id)
        assert paused.runtime == "stopped"
        assert paused.outcome is Outcome.FINISHED  # L from the events: the turn had ended
        with pytest.raises(ConflictError, match="PAUSED"):
            api.send_message(conversation.id, "while paused", resume=False)
        result = api.send_and_wait(conversation.id, "Resume and answer. [fake-llm steps=1]", timeout=WAIT)
        assert result.outcome is Outcome.FINISHED
        assert result.conversation.runtime == "running"
    finally:
        api.delete_conversation(conversation.id)


def test_an_llm_failure_is_failed_with_the_servers_detail(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Break. [fake-llm error=400]")
    try:
        result = api.wait(conversation.id, timeout=WAIT)
        assert result.outcome is Outcome.FAILED
        assert result.detail
        assert "error" not in (result.final_message or "")
    finally:
        api.delete_conversation(conversation.id)


def test_deleting_the_sandbox_leaves_a_finished_conversation_finished(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Hello.")
    try:
        api.wait(conversation.id, timeout=WAIT)
        assert api.v1.delete_sandbox(conversation.sandbox_id) is True
        after = api.result(conversation.id)
        assert after.conversation.runtime == "gone"
        assert after.outcome is Outcome.FINISHED
    finally:
        api.delete_conversation(conversation.id)


def test_unknown_ids_and_bad_input(api: OpenHandsAPI) -> None:
    with pytest.raises(NotFoundError):
        api.get_conversation(UNKNOWN)
    assert api.wait(UNKNOWN, timeout=10).outcome is Outcome.GONE
    assert api.delete_conversation(UNKNOWN) is False
    with pytest.raises(NotFoundError):
        api.v1.send_message(UNKNOWN, "x")
    with pytest.raises(InvalidInputError):
        api.v1.get_conversations(["not-a-uuid"])


def test_session_key_missing_or_wrong(real_v1: RealServer) -> None:
    with (
        OpenHandsAPI(base_url=real_v1.base_url, api_version="v1") as anonymous,
        pytest.raises(AuthenticationError),
    ):
        anonymous.list_conversations()
    with (
        OpenHandsAPI(base_url=real_v1.base_url, session_api_key="wrong-v1-key") as wrong,
        pytest.raises(AuthenticationError) as caught,
    ):
        wrong.list_conversations()
    assert "wrong-v1-key" not in str(caught.value)


def test_the_same_user_script_runs_on_v1(real_v1: RealServer, tmp_path: Path) -> None:
    with library_client(real_v1) as api:
        outcome = run_user_script(api, tmp_path)
    assert outcome["api_version"] == "v1"


async def test_async_client_on_v1(real_v1: RealServer) -> None:
    async with AsyncOpenHandsAPI(
        base_url=real_v1.base_url,
        session_api_key=real_v1.session_api_key,
        poll_interval=0.5,
        max_poll_interval=2.0,
    ) as api:
        conversation = await api.create_conversation("Async V1.")
        try:
            assert (await api.wait(conversation.id, timeout=WAIT)).outcome is Outcome.FINISHED
            assert (
                await api.send_and_wait(conversation.id, "Again.", timeout=WAIT)
            ).outcome is Outcome.FINISHED
        finally:
            await api.delete_conversation(conversation.id)


def test_cli_new_conversation_works_unchanged_on_v1(real_v1: RealServer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    env.update(OPENHANDS_BASE_URL=real_v1.base_url, OPENHANDS_SESSION_API_KEY=real_v1.session_api_key or "")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "openhands_api",
            "new-conversation",
            "--prompt",
            "CLI on V1.",
            "--poll",
            "--poll-interval-s",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=WAIT + 30,
    )
    assert done.returncode == 0, done.stderr
    url, rest = done.stdout.split("\n", 1)
    assert json.loads(rest)["status"] == "finished"
    with library_client(real_v1) as api:
        api.delete_conversation(url.rsplit("/", 1)[1])


def test_an_agent_question_is_waiting_for_user_on_v1_too(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Ask me something. [fake-llm ask]")
    try:
        result = api.wait(conversation.id, timeout=WAIT)
        assert result.outcome is Outcome.WAITING_FOR_USER
        assert result.final_message
        assert result.conversation.raw["execution_status"] == "finished"  # what the server says
    finally:
        api.delete_conversation(conversation.id)


def test_a_follow_up_wait_returns_the_new_turn_not_the_previous_finished(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("First.")
    try:
        api.wait(conversation.id, timeout=WAIT)
        sent = api.send_message(conversation.id, "Second. [fake-llm steps=2]")
        result = api.wait(conversation.id, after=sent, timeout=WAIT)
        assert result.outcome is Outcome.FINISHED
        thinks = [
            e
            for e in api.v1.iter_events(conversation.id, kind="ActionEvent")
            if e.model_extra.get("tool_name") == "think"
        ]
        assert len(thinks) == 2  # the second turn really ran before wait returned
    finally:
        api.delete_conversation(conversation.id)
