"""Defects a review found, pinned through the ``openhands-api`` command against the fake server.

One behaviour per test, named after it. Each test of a defect failed before its fix (they were
written first, marked ``xfail(strict=True)``, and the marks went with the fixes).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from openhands_api import OpenHandsAPI, Outcome
from openhands_api.testing import FakeOpenHandsServer, FaultRule
from tests.cli.conftest import run_cli

UNKNOWN = "0123456789abcdef0123456789abcdef"
FAST = {"rate_limit": False, "speed": 5.0}
POLL = {"poll_interval": 0.05, "max_poll_interval": 0.2}
LONG_STEP = "Work slowly. [fake-llm delay=60]"
"""A prompt whose first agent step takes 60 simulated seconds (12 s at speed 5)."""

Factory = Callable[..., FakeOpenHandsServer]


def _run(server: FakeOpenHandsServer, *args: str) -> tuple[int, str, str]:
    done = run_cli(*args, "--base-url", server.base_url)
    return done.returncode, done.stdout, done.stderr


def _api(server: FakeOpenHandsServer, **kwargs: object) -> OpenHandsAPI:
    return OpenHandsAPI(base_url=server.base_url, **{**POLL, **kwargs})  # type: ignore[arg-type]


def _finished_then_deleted(server: FakeOpenHandsServer) -> str:
    with _api(server) as api:
        conversation = api.create_conversation("Hello.")
        api.wait(conversation.id, timeout=30)
        assert api.delete_conversation(conversation.id)
    return conversation.id


# ---------------------------------------------------------------------------- defect 1 (fixed)


@pytest.mark.parametrize("generation", ["v0", "v1"])
def test_result_of_a_running_conversation_exits_8_with_the_outcome(
    fake_openhands_factory: Factory, generation: str
) -> None:
    server = fake_openhands_factory(**FAST, generations=generation)
    with _api(server) as api:
        conversation = api.create_conversation(LONG_STEP)
        deadline = time.monotonic() + 10
        while api.get_conversation(conversation.id).agent_state != "running":
            assert time.monotonic() < deadline, "the agent did not start running"
            time.sleep(0.05)
    code, out, err = _run(server, "result", conversation.id)
    assert code == 8, err
    assert out.startswith("in_progress  http"), out
    assert "internal error" not in err


# ---------------------------------------------------------------------------- defect 5

WAYS_TO_LOOK = re.compile(r"\b(list|get)", re.IGNORECASE)


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
def test_new_conversation_on_a_server_answering_html_pages_exits_7_within_seconds_saying_how_to_look(
    fake_openhands_factory: Factory, generation: str
) -> None:
    server = fake_openhands_factory(**FAST, generations=generation)
    server.state.faults.add(FaultRule("html", status=200, path="/api/*", times=None))
    started = time.monotonic()
    code, _, err = _run(server, "new-conversation", "--api-version", generation, "--prompt", "Hi.")
    assert time.monotonic() - started < 20
    assert code == 7, err
    assert "may have been created" in err
    assert WAYS_TO_LOOK.search(err), err


# ---------------------------------------------------------------------------- defect 6


def test_get_of_a_listed_v1_conversation_on_a_server_with_both_generations_exits_0(
    fake_openhands_factory: Factory,
) -> None:
    server = fake_openhands_factory(**FAST, generations="both")
    with _api(server, api_version="v1") as v1_api:
        conversation = v1_api.create_conversation("Hello.")
        assert v1_api.wait(conversation.id, timeout=30).outcome is Outcome.FINISHED
    code, out, _ = _run(server, "list", "--json")
    assert code == 0
    assert conversation.id in out
    code, out, err = _run(server, "get", conversation.id)
    assert code == 0, err
    assert f"id          {conversation.id}" in out
    assert "outcome     finished" in out


# ---------------------------------------------------------------------------- defect 7


def test_events_of_an_unknown_v1_conversation_exit_4(fake_openhands_factory: Factory) -> None:
    server = fake_openhands_factory(**FAST, generations="v1")
    code, out, err = _run(server, "events", UNKNOWN)
    assert code == 4, (out, err)
    assert err.startswith("error:")


def test_events_of_a_deleted_v1_conversation_exit_4(fake_openhands_factory: Factory) -> None:
    server = fake_openhands_factory(**FAST, generations="v1")
    conversation_id = _finished_then_deleted(server)
    code, out, err = _run(server, "events", conversation_id)
    assert code == 4, (out, err)
    assert err.startswith("error:")


def test_events_of_an_unknown_v0_conversation_exit_4(cli_server: FakeOpenHandsServer) -> None:
    code, _, err = _run(cli_server, "events", UNKNOWN)
    assert code == 4
    assert err.startswith("error:")


# ---------------------------------------------------------------------------- defect 8


def test_stop_of_a_deleted_v0_conversation_exits_4(cli_server: FakeOpenHandsServer) -> None:
    conversation_id = _finished_then_deleted(cli_server)
    code, out, err = _run(cli_server, "stop", conversation_id)
    assert code == 4, (out, err)
    assert err.startswith("error:")
