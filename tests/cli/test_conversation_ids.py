"""Every command that takes a conversation takes its id, a unique prefix of it, or its web URL
(issue 12), through the real entry point against the fake server; an ambiguous prefix or
another server's URL exits 2 with one line; ``new-conversation --json`` carries the id."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from openhands_api import OpenHandsAPI, Outcome
from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import run_cli
from tests.cli.test_interrupt import _interrupt_once_waiting
from tests.e2e.test_conversation_ids import IDS, hand_out_v0_ids

Factory = Callable[..., FakeOpenHandsServer]


def _run(server: FakeOpenHandsServer, *args: str) -> tuple[int, str, str]:
    done = run_cli(*args, "--base-url", server.base_url)
    return done.returncode, done.stdout, done.stderr


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def v0_server(fake_openhands_factory: Factory, monkeypatch: pytest.MonkeyPatch) -> FakeOpenHandsServer:
    """A V0 server with the conversations of ``IDS`` (aaaa1…, bbbb2…, aaaa2…, cccc3…), finished."""
    server = fake_openhands_factory(rate_limit=False, speed=5.0)
    hand_out_v0_ids(monkeypatch, IDS)
    with OpenHandsAPI(base_url=server.base_url, poll_interval=0.05, throttle=False) as api:
        for n in range(len(IDS)):
            api.wait(api.create_conversation(f"Task {n}. [fake-llm steps=1]").id, timeout=30)
    return server


@pytest.fixture
def v1_server(fake_openhands_factory: Factory) -> FakeOpenHandsServer:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations="v1")
    with OpenHandsAPI(base_url=server.base_url, poll_interval=0.05, throttle=False) as api:
        for n, cid in enumerate(IDS):
            api.wait(
                api.create_conversation(f"Task {n}. [fake-llm steps=1]", conversation_id=cid).id, timeout=30
            )
    return server


@pytest.mark.parametrize("generation", ["v0", "v1"])
def test_every_command_takes_a_prefix_or_a_url(
    generation: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server: FakeOpenHandsServer = request.getfixturevalue(f"{generation}_server")
    full = IDS[1]
    url = f"{server.base_url}/conversations/{full}"

    code, out, err = _run(server, "get", "bbbb", "--json")
    assert code == 0, err
    assert json.loads(out)["id"] == full
    code, out, err = _run(server, "get", url + "/?tab=changes")
    assert code == 0, err
    assert full in out

    code, out, err = _run(server, "wait", url, "--json")
    assert code == 0, err
    assert json.loads(out)["id"] == full
    code, out, err = _run(server, "result", "bbbb22", "--json")
    assert code == 0, err
    assert json.loads(out)["conversation_id"] == full
    code, out, err = _run(server, "events", "BBBB", "--limit", "1")
    assert code == 0, err
    assert len(out.splitlines()) == 1

    code, out, err = _run(server, "stop", url)
    assert (code, out.strip()) == (0, f"stopped {full}"), err
    code, out, err = _run(server, "resume", "bbbb")
    assert (code, out.strip()) == (0, f"resumed {full}"), err
    code, out, err = _run(
        server, "send", "bbbb", "--message", "Again. [fake-llm steps=1]", "--wait", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["id"] == full

    code, out, err = _run(server, "download", url, str(tmp_path / "history"))
    assert code == 0, err
    assert (tmp_path / "history").stat().st_size > 0
    code, out, err = _run(server, "delete", "bbbb2222", "--yes")
    assert (code, out.strip()) == (0, f"deleted {full}"), err
    code, out, err = _run(server, "get", "bbbb")  # gone now: no conversation starts with it
    assert code == 4
    assert "No conversation's id starts with 'bbbb'" in _one_error_line(err)


@pytest.mark.parametrize("generation", ["v0", "v1"])
@pytest.mark.parametrize("command", [["get"], ["delete", "--yes"], ["send", "--message", "Hi."]])
def test_an_ambiguous_prefix_exits_2_with_one_line_listing_the_candidates(
    generation: str, command: list[str], request: pytest.FixtureRequest
) -> None:
    server: FakeOpenHandsServer = request.getfixturevalue(f"{generation}_server")
    code, out, err = _run(server, command[0], "aaaa", *command[1:])
    assert code == 2
    assert out == ""
    line = _one_error_line(err)
    assert line.startswith("error: 2 conversations start with 'aaaa': ")
    assert line.index(IDS[2]) < line.index(IDS[0])  # newest first
    assert "give more characters" in line
    with OpenHandsAPI(base_url=server.base_url) as api:
        title = api.get_conversation(IDS[2]).title
        assert title
        assert title[:30] in line  # each candidate with its title
        assert {c.id for c in api.list_conversations()} >= {IDS[0], IDS[2]}  # nothing was deleted


def test_a_short_prefix_or_another_server_s_url_exits_2_and_sends_nothing(
    v0_server: FakeOpenHandsServer,
) -> None:
    before = len(v0_server.state.requests)
    code, _, err = _run(v0_server, "wait", "aaa")
    assert code == 2
    assert "at least 4 characters" in _one_error_line(err)
    other = f"http://elsewhere.test:3000/conversations/{IDS[0]}"
    for command in (["get"], ["delete", "--yes"]):
        code, _, err = _run(v0_server, command[0], other, *command[1:])
        assert code == 2
        line = _one_error_line(err)
        assert "--base-url http://elsewhere.test:3000" in line
        assert "nothing was sent" in line
    assert len(v0_server.state.requests) == before


def test_ctrl_c_names_the_full_id_a_prefix_resolved_to(fake_openhands_factory: Factory) -> None:
    server = fake_openhands_factory(speed=1.0)
    with OpenHandsAPI(base_url=server.base_url) as api:
        conversation = api.create_conversation("A long task. [fake-llm steps=200]")
    done = _interrupt_once_waiting(
        server, ["wait", conversation.id[:8], "--base-url", server.base_url], {**os.environ}
    )
    assert done.returncode == 130, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert f"conversation {conversation.id} goes on running" in line
    assert f"openhands-api wait {conversation.id} --base-url" in line


@pytest.mark.parametrize("generation", ["v0", "v1"])
def test_new_conversation_prints_the_url_and_with_json_the_id(
    generation: str, fake_openhands_factory: Factory
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations=generation)
    code, out, err = _run(server, "new-conversation", "--prompt", "Hi.")
    assert code == 0, err
    [url] = out.splitlines()
    assert url.startswith(f"{server.base_url}/conversations/")
    code, out, err = _run(server, "new-conversation", "--prompt", "Hi.", "--json")
    assert code == 0, err
    created = json.loads(out)  # only JSON: `| jq .id` works
    assert created["web_url"] == f"{server.base_url}/conversations/{created['id']}"
    code, out, err = _run(
        server,
        "new-conversation",
        "--prompt",
        "Hi. [fake-llm steps=1]",
        "--poll",
        "--json",
        "--poll-interval-s",
        "0.1",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["url"] == f"{server.base_url}/conversations/{result['id']}"
    assert result["id"] == result["conversation_id"] == result["conversation"]["id"]
    assert result["status"] == Outcome.FINISHED.value
    # the id and the URL it printed are accepted by the other commands
    assert _run(server, "get", result["url"])[0] == 0
    assert _run(server, "result", result["id"][:8])[0] == 0
