"""``openhands-api events``: the history, --since, --kind, --limit/--reverse, and --follow on
a running conversation (every event once, in order, then the outcome's exit code), on both
API generations; ``--follow | head -1`` in a real subprocess."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from openhands_api import OpenHandsAPI
from openhands_api.cli.app import Seam
from openhands_api.cli.events import parse_since
from openhands_api.protocol.streaming import EVENT_FAMILIES, event_family
from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import TERMINAL, Ran, finish, invoke
from tests.live_order import assert_same_events_in_stream_order

Factory = Callable[..., FakeOpenHandsServer]
GENERATIONS = pytest.mark.parametrize("generation", ["v0", "v1"])
# Fast polls, so that a follow sees a run of a second or two step by step.
QUICK = {"poll_interval": 0.05, "max_poll_interval": 0.2, "throttle": False}


def _seam() -> Seam:
    return Seam(client_factory=functools.partial(OpenHandsAPI, **QUICK))


def _events(server: FakeOpenHandsServer, *args: str, **kwargs: object) -> Ran:
    return invoke("events", *args, "--base-url", server.base_url, seam=_seam(), **kwargs)  # type: ignore[arg-type]


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def _finished(server: FakeOpenHandsServer, prompt: str = "Two steps. [fake-llm steps=2]") -> str:
    with OpenHandsAPI(base_url=server.base_url, **QUICK) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation(prompt)
        api.wait(conversation.id, timeout=60)
    return conversation.id


def _started(server: FakeOpenHandsServer, prompt: str) -> str:
    with OpenHandsAPI(base_url=server.base_url, **QUICK) as api:  # type: ignore[arg-type]
        return api.create_conversation(prompt).id


def _server(factory: Factory, generation: str, speed: float = 5.0) -> FakeOpenHandsServer:
    return factory(rate_limit=False, speed=speed, generations=generation)


# ---------------------------------------------------------------------------- the history


@GENERATIONS
def test_history_is_every_event_oldest_first(fake_openhands_factory: Factory, generation: str) -> None:
    server = _server(fake_openhands_factory, generation)
    cid = _finished(server)
    ran = _events(server, cid, "--json")
    assert ran.code == 0, ran.stderr
    with OpenHandsAPI(base_url=server.base_url) as api:
        expected = [e.id for e in api.iter_events(cid)]
    assert [e["id"] for e in _json_lines(ran.stdout)] == expected
    ran = _events(server, cid, "--reverse", "--limit", "2", "--json", "id")
    assert _json_lines(ran.stdout) == [{"id": expected[-1]}, {"id": expected[-2]}]


@GENERATIONS
def test_since_an_event_prints_only_the_newer_ones(fake_openhands_factory: Factory, generation: str) -> None:
    server = _server(fake_openhands_factory, generation)
    cid = _finished(server)
    everything = [e["id"] for e in _json_lines(_events(server, cid, "--json").stdout)]
    middle = str(everything[5])  # V0: the integer id as text; V1: a UUID
    ran = _events(server, cid, "--since", middle, "--json", "id")
    assert ran.code == 0, ran.stderr
    assert [e["id"] for e in _json_lines(ran.stdout)] == everything[6:]
    ran = _events(server, cid, "--since", middle, "--reverse", "--json", "id")
    assert [e["id"] for e in _json_lines(ran.stdout)] == everything[6:][::-1]


@GENERATIONS
def test_since_a_time_prints_the_events_from_then_on(
    fake_openhands_factory: Factory, generation: str
) -> None:
    server = _server(fake_openhands_factory, generation)
    cid = _finished(server)
    everything = _json_lines(_events(server, cid, "--json").stdout)
    ran = _events(server, cid, "--since", "10m", "--json", "id")  # a duration back from now
    assert [e["id"] for e in _json_lines(ran.stdout)] == [e["id"] for e in everything]
    cut = str(everything[len(everything) // 2]["timestamp"])
    ran = _events(server, cid, "--since", cut, "--json", "id")  # an ISO time with its offset
    assert ran.code == 0, ran.stderr
    expected = [e["id"] for e in everything if str(e["timestamp"]) >= cut]
    assert [e["id"] for e in _json_lines(ran.stdout)] == expected
    assert 0 < len(expected) < len(everything)
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    assert _events(server, cid, "--since", later).stdout == ""


def test_since_an_unknown_v1_event_exits_4(fake_openhands_factory: Factory) -> None:
    server = _server(fake_openhands_factory, "v1")
    cid = _finished(server)
    ran = _events(server, cid, "--since", "not-an-event-of-it")
    assert ran.code == 4
    assert "has no event not-an-event-of-it" in ran.stderr


def test_since_a_word_on_v0_is_a_usage_error(fake_openhands_factory: Factory) -> None:
    server = _server(fake_openhands_factory, "v0")
    cid = _finished(server)
    ran = _events(server, cid, "--since", "yesterday")
    assert ran.code == 2
    assert "integer id" in ran.stderr
    assert "Traceback" not in ran.stderr


@GENERATIONS
def test_kind_filters_by_exact_kind_or_family(fake_openhands_factory: Factory, generation: str) -> None:
    server = _server(fake_openhands_factory, generation)
    cid = _finished(server)
    everything = _json_lines(_events(server, cid, "--json").stdout)
    ran = _events(server, cid, "--kind", "message", "--json")
    messages = _json_lines(ran.stdout)
    assert messages == [e for e in everything if event_family(str(e["kind"])) == "message"]
    assert {e["source"] for e in messages} >= {"user"}
    ran = _events(server, cid, "--kind", "action", "--kind", "state", "--json", "kind")
    kinds = [str(e["kind"]) for e in _json_lines(ran.stdout)]
    assert kinds
    assert {event_family(kind) for kind in kinds} == {"action", "state"}
    exact = "action:finish" if generation == "v0" else "ActionEvent"
    ran = _events(server, cid, "--kind", exact, "--json", "kind")
    assert {e["kind"] for e in _json_lines(ran.stdout)} == {exact}


def test_a_kind_that_is_no_kind_is_a_usage_error(fake_openhands_factory: Factory) -> None:
    server = _server(fake_openhands_factory, "v1")
    cid = _finished(server)
    for typo in ("mesage", "Message event", "action:", "actions:run"):
        ran = _events(server, cid, "--kind", typo)
        assert ran.code == 2, (typo, ran.stderr)
        assert f"--kind {typo!r} is neither a family (message, action, observation, state)" in ran.stderr
        assert "Traceback" not in ran.stderr
    # a kind the servers may add later still passes (and here matches nothing)
    assert _events(server, cid, "--kind", "SomeFutureEvent").code == 0


def test_the_families_cover_both_generations_and_the_help_names_them() -> None:
    assert event_family("action:message") == "message"
    assert event_family("MessageEvent") == "message"
    assert event_family("action:run") == event_family("ActionEvent") == "action"
    assert event_family("observation:run") == event_family("ObservationEvent") == "observation"
    assert event_family("observation:agent_state_changed") == "state"
    assert event_family("ConversationStateUpdateEvent") == "state"
    assert event_family("Condensation") is None
    ran = invoke("events", "--help")
    assert all(family in ran.stdout for family in EVENT_FAMILIES)
    assert "events ID --follow" in ran.stdout
    assert "events ID --kind message --json" in ran.stdout


def test_parse_since() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    assert parse_since("42") == 42
    assert parse_since("10m", now) == now - timedelta(minutes=10)
    assert parse_since("2h", now) == now - timedelta(hours=2)
    assert parse_since("1.5d", now) == now - timedelta(days=1.5)
    assert parse_since("2026-12-01T10:00:00Z") == datetime(2026, 12, 1, 10, tzinfo=timezone.utc)
    local = parse_since("2026-12-01T10:00")
    assert isinstance(local, datetime)
    assert local.tzinfo is not None  # naive: local time
    assert parse_since("75bade24-cba0-4c48-8a2d-2033e496343f") == "75bade24-cba0-4c48-8a2d-2033e496343f"


def test_reverse_with_follow_and_timeout_without_follow_are_usage_errors() -> None:
    for args in (["--follow", "--reverse"], ["--timeout-s", "5"]):
        ran = invoke("events", "abcd1234", *args, "--base-url", "http://127.0.0.1:9")
        assert ran.code == 2, ran.stderr
        assert ran.stderr.startswith("error: ")


# ---------------------------------------------------------------------------- --follow


@GENERATIONS
def test_follow_prints_every_event_once_in_order_and_exits_0_when_finished(
    fake_openhands_factory: Factory, generation: str
) -> None:
    server = _server(fake_openhands_factory, generation)
    cid = _started(server, "Slow steps. [fake-llm steps=6 delay=1]")
    ran = _events(server, cid, "--follow", "--json")
    assert ran.code == 0, ran.stderr
    followed = [e["id"] for e in _json_lines(ran.stdout)]
    with OpenHandsAPI(base_url=server.base_url, **QUICK) as api:  # type: ignore[arg-type]
        listed = list(api.iter_events(cid))
    # same events, each once, in order (V1: the agent server's order, tests/live_order.py)
    assert_same_events_in_stream_order(followed, listed)
    assert len(set(followed)) == len(followed)
    assert "the turn ended: finished" in ran.stderr
    polls = [r for r in server.state.requests if r.method == "GET" and "/events" in r.path]
    assert len(polls) > 3  # it really followed a running conversation, poll after poll


@GENERATIONS
def test_follow_exits_1_when_the_agent_fails(fake_openhands_factory: Factory, generation: str) -> None:
    server = _server(fake_openhands_factory, generation)
    cid = _started(server, "Doomed. [fake-llm steps=3 delay=1 error]")
    ran = _events(server, cid, "--follow", "-q")
    assert ran.code == 1, ran.stderr
    assert ran.stderr == ""  # -q: no closing remark
    assert len(ran.stdout.splitlines()) == len(_events(server, cid).stdout.splitlines())


@GENERATIONS
def test_follow_shows_readable_lines_on_a_terminal_and_jq_per_event(
    fake_openhands_factory: Factory, generation: str
) -> None:
    server = _server(fake_openhands_factory, generation)
    cid = _finished(server)
    ran = _events(server, cid, "--follow", terminal=TERMINAL)
    assert ran.code == 0, ran.stderr
    assert all(not line.startswith("{") for line in ran.stdout.splitlines())
    assert "Task complete (fake LLM)." in ran.stdout
    ran = _events(server, cid, "--follow", "--jq", ".kind")
    assert ran.code == 0, ran.stderr
    assert ran.stdout.splitlines() == [e["kind"] for e in _json_lines(_events(server, cid, "--json").stdout)]


@GENERATIONS
def test_follow_with_since_and_limit(fake_openhands_factory: Factory, generation: str) -> None:
    server = _server(fake_openhands_factory, generation)
    cid = _finished(server)
    everything = [e["id"] for e in _json_lines(_events(server, cid, "--json").stdout)]
    ran = _events(server, cid, "--follow", "--since", str(everything[-3]), "--json", "id")
    assert ran.code == 0, ran.stderr
    assert [e["id"] for e in _json_lines(ran.stdout)] == everything[-2:]
    ran = _events(server, cid, "--follow", "--limit", "2", "--json", "id")
    assert ran.code == 0, ran.stderr
    assert [e["id"] for e in _json_lines(ran.stdout)] == everything[:2]


def test_follow_times_out_with_exit_5(fake_openhands_factory: Factory) -> None:
    server = _server(fake_openhands_factory, "v0", speed=1.0)
    cid = _started(server, "Very slow. [fake-llm steps=50 delay=1]")
    ran = _events(server, cid, "--follow", "--timeout-s", "0.5")
    assert ran.code == 5, ran.stderr
    assert "did not reach an outcome" in ran.stderr


def test_follow_into_head_1_exits_0_quietly(fake_openhands_factory: Factory) -> None:
    """``events ID --follow | head -1``: the reader goes away while the command follows."""
    server = _server(fake_openhands_factory, "v0", speed=1.0)
    cid = _started(server, "Slow steps. [fake-llm steps=40 delay=0.2]")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "openhands_api", "events", cid, "--follow", "--json"],
        env={**env, "OPENHANDS_BASE_URL": server.base_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # as `| head -1` does after its line
    stderr = process.stderr.read().decode()
    code = process.wait(timeout=60)
    assert first.startswith(b"{")
    assert code == 0, stderr
    assert stderr == ""
    with OpenHandsAPI(base_url=server.base_url) as api:
        assert api.result(cid).outcome.value == "in_progress"  # it stopped following, not the turn


@pytest.mark.parametrize("generation", ["v0", "v1"])
def test_ctrl_c_while_following_says_the_conversation_goes_on(
    fake_openhands_factory: Factory, generation: str
) -> None:
    server = _server(fake_openhands_factory, generation, speed=1.0)
    cid = _started(server, "A long task. [fake-llm steps=200 delay=0.5]")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "openhands_api", "events", cid, "--follow"],
        env={**env, "OPENHANDS_BASE_URL": server.base_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline()  # it is following
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, err = finish(process, 30)
    assert process.returncode == 130, err
    assert f"conversation {cid} goes on running on the server" in err
    assert f"openhands-api wait {cid}" in err
    assert "Traceback" not in err
