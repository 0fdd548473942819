"""The library against the fake V1 server (like openhands-ai 1.11.0) over loopback: every V1
route and lifecycle case of CONTRACT §5–6 through the public API."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from openhands_api import (
    AsyncOpenHandsAPI,
    ConcurrencyLimitError,
    ConflictError,
    ConversationStartError,
    GoneError,
    NotFoundError,
    NotSupportedError,
    OpenHandsAPI,
    Outcome,
    ServerError,
    WaitTimeoutError,
)
from openhands_api.testing import FakeOpenHandsServer

UNKNOWN = "0123456789abcdef0123456789abcdef"
POLL = {"poll_interval": 0.05, "max_poll_interval": 0.2}


@pytest.fixture
def v1_server(fake_openhands_factory: Callable[..., FakeOpenHandsServer]) -> FakeOpenHandsServer:
    return fake_openhands_factory(rate_limit=False, speed=5.0, generations="v1")


@pytest.fixture
def api(v1_server: FakeOpenHandsServer) -> Iterator[OpenHandsAPI]:
    with OpenHandsAPI(base_url=v1_server.base_url, **POLL) as client:  # type: ignore[arg-type]
        yield client


def test_auto_detects_v1_and_create_follows_the_start_task(
    api: OpenHandsAPI, v1_server: FakeOpenHandsServer
) -> None:
    conversation = api.create_conversation(
        "Hello. [fake-llm steps=1]", repository="owner/repo", branch="main"
    )
    assert api.api_version == "v1"
    assert conversation.start_task_id
    assert conversation.start_task_id in v1_server.state.start_tasks
    assert conversation.id in v1_server.state.app_conversations
    assert (conversation.repository, conversation.branch) == ("owner/repo", "main")
    result = api.wait(conversation.id, timeout=30)
    assert result.outcome is Outcome.FINISHED
    assert result.final_message
    assert result.conversation.cost is not None


def test_a_start_task_id_resolves_to_its_conversation(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Hi.")
    assert api.get_conversation(conversation.start_task_id).id == conversation.id  # type: ignore[arg-type]
    assert api.wait(conversation.start_task_id, timeout=30).conversation_id == conversation.id  # type: ignore[arg-type]


def test_follow_up_is_not_fooled_by_the_previous_finished(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("First.")
    api.wait(conversation.id, timeout=30)
    before = api.v1.count_events(conversation.id)
    result = api.send_and_wait(conversation.id, "Second. [fake-llm steps=2]", timeout=30)
    assert result.outcome is Outcome.FINISHED
    assert api.v1.count_events(conversation.id) > before + 4


def test_a_plain_text_answer_is_waiting_for_user(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Which file? [fake-llm ask]")
    result = api.wait(conversation.id, timeout=30)
    assert result.outcome is Outcome.WAITING_FOR_USER
    assert result.final_message


def test_an_llm_error_is_failed_with_the_detail(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Break. [fake-llm error=400]")
    result = api.wait(conversation.id, timeout=30)
    assert result.outcome is Outcome.FAILED
    assert result.detail


def test_a_start_error_raises_with_the_servers_detail(api: OpenHandsAPI) -> None:
    with pytest.raises(ConversationStartError) as caught:
        api.create_conversation("Start fails. [fake-start error]")
    assert caught.value.detail
    assert caught.value.start_task_id


def test_a_start_task_stuck_forever_ends_in_a_wait_timeout(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations="v1")
    with (
        OpenHandsAPI(base_url=server.base_url, start_timeout=1.0, **POLL) as api,  # type: ignore[arg-type]
        pytest.raises(WaitTimeoutError, match="still"),
    ):
        api.create_conversation("Stuck. [fake-start stuck=WAITING_FOR_SANDBOX]")


def test_batch_get_splits_over_99_ids_in_order(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Hi.")
    ids = [f"{i:032x}" for i in range(150)]
    ids[120] = conversation.id
    got = api.v1.get_conversations(ids)
    assert len(got) == 150
    assert got[120] is not None
    assert got[120].id == conversation.id
    assert sum(item is not None for item in got) == 1
    tasks = api.v1.get_start_tasks([conversation.start_task_id, UNKNOWN] * 60)  # type: ignore[list-item]
    assert len(tasks) == 120
    assert tasks[0] is not None
    assert tasks[1] is None


def test_search_count_update_and_iterate(api: OpenHandsAPI) -> None:
    made = [api.create_conversation(f"T{i}").id for i in range(5)]
    assert set(made) <= {c.id for c in api.iter_conversations(page_size=2)}
    assert api.v1.count_conversations() == 5
    assert api.v1.update_conversation(made[0], title="renamed").title == "renamed"
    api.set_title(made[1], "via unified")
    assert api.get_conversation(made[1]).title == "via unified"


def test_events_filters_and_both_orders(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Think. [fake-llm steps=3]")
    api.wait(conversation.id, timeout=30)
    events = list(api.iter_events(conversation.id, page_size=4))
    reverse = list(api.iter_events(conversation.id, reverse=True, page_size=4))
    assert [e.id for e in reverse] == [e.id for e in reversed(events)]
    actions = list(api.v1.iter_events(conversation.id, kind="ActionEvent"))
    assert len(actions) == api.v1.count_events(conversation.id, kind="ActionEvent") == 4  # 3 thinks + finish
    assert api.v1.count_events(UNKNOWN) == 0


def test_pause_409_resume_and_send(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Hi.")
    api.wait(conversation.id, timeout=30)
    api.stop(conversation.id)
    stopped = api.get_conversation(conversation.id)
    assert stopped.runtime == "stopped"
    assert stopped.outcome is Outcome.FINISHED
    with pytest.raises(ConflictError):
        api.send_message(conversation.id, "no resume", resume=False)
    assert api.send_and_wait(conversation.id, "resume first", timeout=30).outcome is Outcome.FINISHED
    api.stop(conversation.id)
    api.resume(conversation.id)
    assert api.get_conversation(conversation.id).runtime == "running"


def test_send_to_an_archived_or_broken_sandbox(api: OpenHandsAPI, v1_server: FakeOpenHandsServer) -> None:
    archived = api.create_conversation("A.")
    broken = api.create_conversation("B.")
    api.wait(archived.id, timeout=30)
    api.wait(broken.id, timeout=30)
    v1_server.state.set_sandbox_status(archived.sandbox_id, "MISSING")  # type: ignore[arg-type]
    v1_server.state.set_sandbox_status(broken.sandbox_id, "ERROR")  # type: ignore[arg-type]
    with pytest.raises(GoneError):
        api.v1.send_message(archived.id, "x")
    with pytest.raises(ServerError) as caught:
        api.v1.send_message(broken.id, "x")
    assert caught.value.status_code == 503
    assert api.result(broken.id).outcome is Outcome.FAILED


def test_sandbox_routes_and_deleting_a_sandbox(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Hi.")
    api.wait(conversation.id, timeout=30)
    sandbox_id = conversation.sandbox_id
    assert sandbox_id is not None
    assert [s.id for s in api.v1.iter_sandboxes()] == [sandbox_id]
    [sandbox] = api.v1.get_sandboxes([sandbox_id])
    assert sandbox is not None
    assert sandbox.status == "RUNNING"
    assert api.v1.pause_sandbox(sandbox_id) is True
    assert api.v1.resume_sandbox(sandbox_id) is True
    assert api.v1.delete_sandbox(sandbox_id) is True
    gone = api.result(conversation.id)
    assert gone.conversation.runtime == "gone"
    assert gone.outcome is Outcome.FINISHED  # the turn had ended; L from the events says so
    with pytest.raises(NotFoundError):
        api.v1.pause_sandbox(sandbox_id)


def test_files_git_download_and_users_me(api: OpenHandsAPI, tmp_path: Path) -> None:
    conversation = api.create_conversation("Hi.")
    api.wait(conversation.id, timeout=30)
    assert api.v1.read_file(conversation.id, "/workspace/project/nope.txt") == ""
    assert isinstance(api.v1.git_changes(conversation.id, "/workspace/project"), list)
    with pytest.raises(ServerError) as caught:  # as on 1.11.0: no repository there, the agent server says 400
        api.v1.git_diff(conversation.id, "/workspace/project/a.py")
    assert caught.value.status_code == 502
    path = api.download_history(conversation.id, tmp_path / "c.zip")
    names = zipfile.ZipFile(path).namelist()
    assert names[0] == "meta.json"
    assert all(n.startswith("event_") for n in names[1:])
    assert isinstance(api.v1.users_me(), dict)


def test_delete_and_unknown_ids(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Hi.")
    api.wait(conversation.id, timeout=30)
    assert api.delete_conversation(conversation.id) is True
    assert api.delete_conversation(conversation.id) is False
    with pytest.raises(NotFoundError):
        api.get_conversation(conversation.id)
    assert api.wait(UNKNOWN, timeout=5).outcome is Outcome.GONE
    with pytest.raises(NotFoundError):  # the event search answers [] for an unknown id
        list(api.iter_events(UNKNOWN))


def test_concurrency_limit_is_a_typed_error_and_not_retried(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations="v1", concurrency_limit=1)
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        api.create_conversation("First.")
        with pytest.raises(ConcurrencyLimitError) as caught:
            api.create_conversation("Second.")
    assert (caught.value.limit, caught.value.current) == (1, 1)
    assert server.state.start_calls == 1


def test_lagging_events_still_give_the_final_message(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(rate_limit=False, generations="v1", webhook_flush_delay=1.0)
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation("Hi. [fake-llm steps=1]")
        result = api.wait(conversation.id, timeout=30)
    assert result.outcome is Outcome.FINISHED
    assert result.final_message


def test_a_server_speaking_both_generations_is_used_through_v0(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations="both")
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation("Hi.")
        assert api.api_version == "v0"
        assert api.wait(conversation.id, timeout=30).outcome is Outcome.FINISHED


def test_cloud_flavor_is_detected_as_v1(fake_openhands_factory: Callable[..., FakeOpenHandsServer]) -> None:
    server = fake_openhands_factory(
        rate_limit=False, speed=5.0, generations="v1", flavor="cloud", api_key="sk-c"
    )
    with OpenHandsAPI(base_url=server.base_url, api_key="sk-c", **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation("Hi.")
        assert api.api_version == "v1"
        assert api.wait(conversation.id, timeout=30).outcome is Outcome.FINISHED


async def test_async_client_on_v1(v1_server: FakeOpenHandsServer) -> None:
    async with AsyncOpenHandsAPI(base_url=v1_server.base_url, **POLL) as api:  # type: ignore[arg-type]
        conversation = await api.create_conversation("Async V1.")
        assert (await api.wait(conversation.id, timeout=30)).outcome is Outcome.FINISHED
        assert (await api.send_and_wait(conversation.id, "Again.", timeout=30)).outcome is Outcome.FINISHED
        got = await api.v1.get_conversations([conversation.id])
        assert got[0] is not None
        events = [e async for e in api.iter_events(conversation.id)]
        assert events
        assert await api.delete_conversation(conversation.id) is True


def test_forcing_v1_on_a_1_6_server_says_what_is_missing(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations="both")
    with OpenHandsAPI(base_url=server.base_url, api_version="v1", **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation("Hi.")
        assert api.wait(conversation.id, timeout=30).outcome is Outcome.FINISHED
        with pytest.raises(NotSupportedError, match="api_version='v0'"):
            api.send_message(conversation.id, "more")
        with pytest.raises(NotSupportedError):
            api.delete_conversation(conversation.id)
