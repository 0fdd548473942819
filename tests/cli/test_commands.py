"""The commands that follow and manage conversations, end to end against the fake server."""

from __future__ import annotations

import json
from pathlib import Path

from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import run_cli

UNKNOWN = "0123456789abcdef0123456789abcdef"


def _new(server: FakeOpenHandsServer, prompt: str = "Hi.") -> str:
    done = run_cli("new-conversation", "--base-url", server.base_url, "--prompt", prompt)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().rsplit("/", 1)[1]


def _run(server: FakeOpenHandsServer, *args: str) -> tuple[int, str, str]:
    done = run_cli(*args, "--base-url", server.base_url)
    return done.returncode, done.stdout, done.stderr


def test_wait_get_result_and_events(cli_server: FakeOpenHandsServer) -> None:
    cid = _new(cli_server, "Hi. [fake-llm steps=1]")
    code, out, _ = _run(cli_server, "wait", cid, "--json")
    assert code == 0
    assert json.loads(out)["outcome"] == "finished"
    code, out, _ = _run(cli_server, "get", cid)
    assert code == 0
    assert cid in out
    assert "finished" in out
    code, out, _ = _run(cli_server, "result", cid)
    assert code == 0
    assert out.startswith("finished  http")
    code, out, _ = _run(cli_server, "events", cid, "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [e["seq"] for e in lines] == list(range(len(lines)))
    code, out, _ = _run(cli_server, "events", cid, "--reverse", "--limit", "2")
    assert len(out.splitlines()) == 2
    assert "agent_state_changed" in out.splitlines()[0]


def test_list(cli_server: FakeOpenHandsServer) -> None:
    ids = {_new(cli_server) for _ in range(3)}
    code, out, _ = _run(cli_server, "list", "--limit", "10", "--json")
    assert code == 0
    assert ids <= {c["id"] for c in json.loads(out)}


def test_send_and_wait_exit_code_follows_the_outcome(cli_server: FakeOpenHandsServer) -> None:
    cid = _new(cli_server)
    _run(cli_server, "wait", cid)
    code, out, _ = _run(cli_server, "send", cid, "--message", "Ask me. [fake-llm ask]", "--wait", "--json")
    assert code == 0
    assert json.loads(out)["outcome"] == "waiting_for_user"
    code, out, _ = _run(cli_server, "send", cid, "--message", "Fail now. [fake-llm error]", "--wait")
    assert code == 1
    assert out.startswith("failed")


def test_stop_resume_delete(cli_server: FakeOpenHandsServer) -> None:
    cid = _new(cli_server)
    assert _run(cli_server, "wait", cid)[0] == 0
    assert _run(cli_server, "stop", cid)[0] == 0
    code, out, _ = _run(cli_server, "get", cid, "--json")
    assert json.loads(out)["runtime"] == "stopped"
    assert _run(cli_server, "resume", cid)[0] == 0
    assert _run(cli_server, "delete", cid, "--yes")[0] == 0
    code, _, err = _run(cli_server, "delete", cid, "--yes")
    assert code == 4
    assert err.startswith("error: no conversation")


def test_download(cli_server: FakeOpenHandsServer, tmp_path: Path) -> None:
    cid = _new(cli_server)
    _run(cli_server, "wait", cid)
    code, _out, _ = _run(cli_server, "download", cid, str(tmp_path / "history.json"))
    assert code == 0
    assert json.loads((tmp_path / "history.json").read_text())["trajectory"]
    code, _, err = _run(cli_server, "download", cid, str(tmp_path / "missing-dir" / "h.json"))
    assert code == 2
    assert "does not exist" in err


def test_unknown_conversation_exits_4(cli_server: FakeOpenHandsServer) -> None:
    code, _, err = _run(cli_server, "get", UNKNOWN)
    assert code == 4
    assert err.startswith("error:")
    code, out, _ = _run(cli_server, "wait", UNKNOWN)
    assert code == 0  # gone is an outcome: wait is done (gh run watch's semantics)
    assert out.startswith("gone")
    code, out, _ = _run(cli_server, "wait", UNKNOWN, "--exit-status")
    assert code == 4
    assert out.startswith("gone")


def test_bad_ids_and_messages_exit_2(cli_server: FakeOpenHandsServer) -> None:
    assert _run(cli_server, "get", "../../etc/passwd")[0] == 2
    assert _run(cli_server, "send", UNKNOWN)[0] == 2
    assert _run(cli_server, "send", UNKNOWN, "--message", "  ")[0] == 2


def test_auth_status(fake_openhands_factory: object) -> None:
    server = fake_openhands_factory(rate_limit=False, session_api_key="status-key")  # type: ignore[operator]
    done = run_cli(
        "auth",
        "status",
        "--base-url",
        server.base_url,
        "--json",
        env={"OPENHANDS_SESSION_API_KEY": "status-key"},
    )
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["api_version"] == "v0"
    assert status["session_api_key"] == "set"
    assert "status-key" not in done.stdout
    denied = run_cli(
        "auth", "status", "--base-url", server.base_url, env={"OPENHANDS_SESSION_API_KEY": "nope"}
    )
    assert denied.returncode == 6


def test_new_conversation_json(cli_server: FakeOpenHandsServer) -> None:
    done = run_cli("new-conversation", "--base-url", cli_server.base_url, "--prompt", "Hi.", "--json")
    assert done.returncode == 0
    assert json.loads(done.stdout)["web_url"].startswith(cli_server.base_url)
