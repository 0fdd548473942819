"""Defects a review found, pinned through the public library against the fake server.

One behaviour per test, named after the behaviour it demands. Each test of a defect failed
before its fix (they were written first, marked ``xfail(strict=True)``, and the marks went with
the fixes); the others are regression tests and controls.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from openhands_api import (
    APIConnectionError,
    APITimeoutError,
    NotFoundError,
    OpenHandsAPI,
    Outcome,
    ProtocolError,
    WaitTimeoutError,
)
from openhands_api.testing import FakeOpenHandsServer, FaultRule

UNKNOWN = "0123456789abcdef0123456789abcdef"
FAST = {"rate_limit": False, "speed": 5.0}
LONG_STEP = "Work slowly. [fake-llm delay=60]"
"""A prompt whose first agent step takes 60 simulated seconds (12 s at speed 5): the
conversation is still running for the whole test."""

Factory = Callable[..., FakeOpenHandsServer]
MakeApi = Callable[..., OpenHandsAPI]


def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _running_v0_conversation(api: OpenHandsAPI) -> str:
    conversation = api.create_conversation(LONG_STEP)
    _until(lambda: api.get_conversation(conversation.id).agent_state == "running")
    return conversation.id


# ---------------------------------------------------------------------------- defect 1 (control)


def test_v0_result_of_a_running_conversation_is_in_progress(api: OpenHandsAPI) -> None:
    conversation_id = _running_v0_conversation(api)
    result = api.result(conversation_id)
    assert result.outcome is Outcome.IN_PROGRESS
    assert result.conversation.agent_state == "running"


# ---------------------------------------------------------------------------- defect 2


def _wait_while_the_server_stops_answering(server: FakeOpenHandsServer, make_api: MakeApi) -> float:
    """Create, then hold every GET for 60 s; return how long ``wait(timeout=3)`` took to give up."""
    api = make_api(server, timeout=60)
    conversation = api.create_conversation(LONG_STEP)
    server.state.faults.add(FaultRule("slow", method="GET", delay=60, times=None))
    started = time.monotonic()
    with pytest.raises(WaitTimeoutError):
        api.wait(conversation.id, timeout=3)
    return time.monotonic() - started


@pytest.mark.timeout(15)
def test_v0_wait_gives_up_at_its_timeout_when_the_server_stops_answering(
    server: FakeOpenHandsServer, make_api: MakeApi
) -> None:
    assert _wait_while_the_server_stops_answering(server, make_api) < 6


@pytest.mark.timeout(15)
def test_v1_wait_gives_up_at_its_timeout_when_the_server_stops_answering(
    fake_openhands_factory: Factory, make_api: MakeApi
) -> None:
    server = fake_openhands_factory(**FAST, generations="v1")
    assert _wait_while_the_server_stops_answering(server, make_api) < 6


# ---------------------------------------------------------------------------- defect 3


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda api: api.get_conversation(UNKNOWN), id="get_conversation"),
        pytest.param(lambda api: api.result(UNKNOWN), id="result"),
        pytest.param(lambda api: api.stop(UNKNOWN), id="stop"),
        pytest.param(lambda api: api.resume(UNKNOWN), id="resume"),
        pytest.param(lambda api: api.send_message(UNKNOWN, "Hi."), id="send_message"),
        pytest.param(lambda api: api.set_title(UNKNOWN, "T"), id="set_title"),
    ],
)
def test_v1_not_found_errors_name_the_v1_path_that_was_asked(
    fake_openhands_factory: Factory, make_api: MakeApi, operation: Callable[[OpenHandsAPI], Any]
) -> None:
    api = make_api(fake_openhands_factory(**FAST, generations="v1"))
    with pytest.raises(NotFoundError) as caught:
        operation(api)
    assert caught.value.path.startswith("/api/v1/"), caught.value.path
    assert "/api/conversations/" not in str(caught.value)


# ---------------------------------------------------------------------------- defect 4

# The run of the initial message starts 30 simulated seconds after the start task is READY
# (6 s at speed 5): longer than the 5 s a wait keeps looking for the answer of a finished-looking
# turn (lifecycle.ANSWER_GRACE), which alone hid a short pre-run ``idle`` before the fix
# (lifecycle.with_answer: ``idle`` with no answer in the turn is the moment before the run).
SLOW_RUN_START = {**FAST, "generations": "v1", "run_start_delay": 30.0}


def test_v1_wait_right_after_create_is_not_fooled_by_the_idle_before_the_run(
    fake_openhands_factory: Factory, make_api: MakeApi
) -> None:
    api = make_api(fake_openhands_factory(**SLOW_RUN_START))
    conversation = api.create_conversation("Hello.")
    result = api.wait(conversation.id, timeout=30)
    assert result.outcome is Outcome.FINISHED
    assert result.final_message


def test_v1_wait_on_the_start_task_is_not_fooled_by_the_idle_before_the_run(
    fake_openhands_factory: Factory, make_api: MakeApi
) -> None:
    api = make_api(fake_openhands_factory(**SLOW_RUN_START))
    conversation = api.create_conversation("Hello.")
    assert conversation.start_task_id
    result = api.wait(conversation.start_task_id, timeout=30)
    assert result.outcome is Outcome.FINISHED
    assert result.final_message


def test_v1_result_right_after_create_is_in_progress_before_the_run_starts(
    fake_openhands_factory: Factory, make_api: MakeApi
) -> None:
    api = make_api(fake_openhands_factory(**SLOW_RUN_START))
    conversation = api.create_conversation("Hello.")
    assert api.result(conversation.id).outcome is Outcome.IN_PROGRESS


# ---------------------------------------------------------------------------- defect 5

CREATE_ROUTE = {"v0": "/api/conversations", "v1": "/api/v1/app-conversations"}
WAYS_TO_LOOK = re.compile(r"\b(list|get)", re.IGNORECASE)
DEFAULT_POLL: dict[str, Any] = {"poll_interval": None, "max_poll_interval": None}
"""The library's own polling pace (1 s growing to 5 s), which paces the lookups after a lost
create: what a user gets, rather than the suite's fast polling."""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("generation", ["v0", "v1"])
def test_a_create_answered_with_an_html_page_fails_within_seconds(
    fake_openhands_factory: Factory, make_api: MakeApi, generation: str
) -> None:
    """Only the create POST gets the page (lookups work): the lookup proves nothing was made."""
    server = fake_openhands_factory(**FAST, generations=generation)
    server.state.faults.add(
        FaultRule("html", status=200, method="POST", path=CREATE_ROUTE[generation], times=None)
    )
    api = make_api(server, api_version=generation, **DEFAULT_POLL)
    started = time.monotonic()
    with pytest.raises(ProtocolError, match="HTML"):
        api.create_conversation("Hi.")
    assert time.monotonic() - started < 20


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "generation",
    [
        pytest.param(
            "v0",
        ),
        pytest.param(
            "v1",
        ),
    ],
)
def test_a_create_on_a_server_answering_html_pages_fails_within_seconds_saying_how_to_look(
    fake_openhands_factory: Factory, make_api: MakeApi, generation: str
) -> None:
    """Every API request gets the page (a web app at the base URL, a broken proxy), so the
    lookup after the lost create cannot tell whether it was made: say so, fast."""
    server = fake_openhands_factory(**FAST, generations=generation)
    server.state.faults.add(FaultRule("html", status=200, path="/api/*", times=None))
    api = make_api(server, api_version=generation, **DEFAULT_POLL)
    started = time.monotonic()
    with pytest.raises(ProtocolError) as caught:
        api.create_conversation("Hi.")
    assert time.monotonic() - started < 20
    message = str(caught.value)
    assert "may have been created" in message
    assert WAYS_TO_LOOK.search(message), message


# ---------------------------------------------------------------------------- defect 6


@pytest.fixture
def both_server(fake_openhands_factory: Factory) -> FakeOpenHandsServer:
    return fake_openhands_factory(**FAST, generations="both")


@pytest.fixture
def listed_v1_conversation(both_server: FakeOpenHandsServer, make_api: MakeApi) -> str:
    """A finished V1 conversation on a 1.6.0-like server, shown by the auto client's list."""
    v1_api = make_api(both_server, api_version="v1")
    conversation = v1_api.create_conversation("Hello. [fake-llm steps=1]")
    assert v1_api.wait(conversation.id, timeout=30).outcome is Outcome.FINISHED
    listed = [c.id for c in make_api(both_server).list_conversations()]
    assert conversation.id in listed
    return conversation.id


def test_a_listed_v1_conversation_is_found_by_get_on_a_server_with_both_generations(
    both_server: FakeOpenHandsServer, make_api: MakeApi, listed_v1_conversation: str
) -> None:
    conversation = make_api(both_server).get_conversation(listed_v1_conversation)
    assert conversation.id == listed_v1_conversation
    assert conversation.outcome is Outcome.FINISHED


def test_a_listed_v1_conversation_is_waited_for_on_a_server_with_both_generations(
    both_server: FakeOpenHandsServer, make_api: MakeApi, listed_v1_conversation: str
) -> None:
    result = make_api(both_server).wait(listed_v1_conversation, timeout=10)
    assert result.outcome is Outcome.FINISHED


def test_a_listed_v1_conversation_has_a_result_on_a_server_with_both_generations(
    both_server: FakeOpenHandsServer, make_api: MakeApi, listed_v1_conversation: str
) -> None:
    result = make_api(both_server).result(listed_v1_conversation)
    assert result.outcome is Outcome.FINISHED
    assert result.final_message


# ---------------------------------------------------------------------------- defect 7


@pytest.fixture
def v1_api(fake_openhands_factory: Factory, make_api: MakeApi) -> OpenHandsAPI:
    return make_api(fake_openhands_factory(**FAST, generations="v1"))


def test_v1_events_of_an_unknown_conversation_raise_not_found(v1_api: OpenHandsAPI) -> None:
    with pytest.raises(NotFoundError):
        list(v1_api.iter_events(UNKNOWN))


def test_v1_events_of_a_deleted_conversation_raise_not_found(v1_api: OpenHandsAPI) -> None:
    conversation = v1_api.create_conversation("Hello.")
    v1_api.wait(conversation.id, timeout=30)
    assert v1_api.delete_conversation(conversation.id)
    with pytest.raises(NotFoundError):
        list(v1_api.iter_events(conversation.id))


def test_v0_events_of_a_deleted_conversation_raise_not_found(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Hello.")
    api.wait(conversation.id, timeout=30)
    assert api.delete_conversation(conversation.id)
    with pytest.raises(NotFoundError):
        list(api.iter_events(conversation.id))


# ---------------------------------------------------------------------------- defect 8


def test_v0_stop_of_a_deleted_conversation_raises_not_found(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Hello.")
    api.wait(conversation.id, timeout=30)
    assert api.delete_conversation(conversation.id)
    with pytest.raises(NotFoundError):
        api.stop(conversation.id)


# ---------------------------------------------------------------------------- defect 9


def test_v1_create_with_a_title_gives_the_conversation_that_title(
    fake_openhands_factory: Factory, make_api: MakeApi
) -> None:
    # The server's automatic title overwrites whatever title is there once it is ready (also a
    # PATCHed one, CONTRACT §10 item 14); title_delay=0 makes the fake's land before the start
    # task is READY, so a title set after the start is not raced by it.
    api = make_api(fake_openhands_factory(**FAST, generations="v1", title_delay=0.0))
    conversation = api.create_conversation("Hello.", title="Release notes")
    assert api.get_conversation(conversation.id).title == "Release notes"
    api.wait(conversation.id, timeout=30)
    assert api.get_conversation(conversation.id).title == "Release notes"


def test_v0_create_with_a_title_gives_the_conversation_that_title(api: OpenHandsAPI) -> None:
    conversation = api.create_conversation("Hello.", title="Release notes")
    api.wait(conversation.id, timeout=30)
    assert api.get_conversation(conversation.id).title == "Release notes"


# ---------------------------------------------------------------------------- defect 10


def test_a_read_timeout_is_caught_as_a_connection_error(
    server: FakeOpenHandsServer, make_api: MakeApi
) -> None:
    api = make_api(server, api_version="v0", timeout=0.5, max_retries=0)
    server.state.faults.add(FaultRule("slow", method="GET", delay=5, times=None))
    try:
        api.list_conversations()
    except APIConnectionError as exc:
        assert isinstance(exc, APITimeoutError)
    else:
        pytest.fail("the read timeout was not raised")
