"""``openhands-api new-conversation``: output, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openhands_api import OpenHandsAPI
from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import TERMINAL, invoke, run_cli


def _assert_one_line_error(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr


def test_prints_the_web_url_first_and_exits_0(cli_server: FakeOpenHandsServer) -> None:
    done = run_cli("new-conversation", "--base-url", cli_server.base_url, "--prompt", "Hi.")
    assert done.returncode == 0, done.stderr
    [url] = done.stdout.splitlines()
    assert url.startswith(f"{cli_server.base_url}/conversations/")
    assert len(url.rsplit("/", 1)[1]) == 32


def test_poll_on_a_terminal_prints_the_url_then_a_summary(cli_server: FakeOpenHandsServer) -> None:
    ran = invoke(
        "new-conversation",
        "--base-url",
        cli_server.base_url,
        "--prompt",
        "Hi. [fake-llm steps=1]",
        "--poll",
        "--poll-interval-s",
        "0.1",
        terminal=TERMINAL,
    )
    assert ran.code == 0, ran.stderr
    url, outcome, answer = ran.stdout.splitlines()[:3]
    assert url.startswith(cli_server.base_url)
    assert outcome == "finished"
    assert answer
    assert "{" not in ran.stdout  # a summary for a person, not a JSON wall


def test_poll_piped_prints_the_url_then_json_like_the_seed(
    cli_server: FakeOpenHandsServer,
) -> None:
    done = run_cli(
        "new-conversation",
        "--base-url",
        cli_server.base_url,
        "--prompt",
        "Hi. [fake-llm steps=1]",
        "--poll",
        "--poll-interval-s",
        "0.1",
    )
    assert done.returncode == 0, done.stderr
    url, rest = done.stdout.split("\n", 1)
    final = json.loads(rest)
    assert final["status"] == final["outcome"] == "finished"
    assert final["url"] == url
    assert "raw" not in final["conversation"]  # no longer the server's whole object


def test_poll_json_prints_the_final_state_only(cli_server: FakeOpenHandsServer) -> None:
    done = run_cli(
        "new-conversation",
        "--base-url",
        cli_server.base_url,
        "--prompt",
        "Hi. [fake-llm steps=1]",
        "--poll",
        "--poll-interval-s",
        "0.1",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    final = json.loads(done.stdout)
    assert final["status"] == final["outcome"] == "finished"
    assert final["url"] == final["web_url"]
    assert final["id"] in final["url"]
    assert final["final_message"]
    # V0 says RUNNING after the agent finished: the outcome came from the agent's state.
    assert final["conversation"]["runtime"] == "running"
    assert "raw" not in final["conversation"]


@pytest.mark.parametrize(
    ("directive", "code", "outcome"),
    [("[fake-llm error]", 1, "failed"), ("[fake-llm ask]", 0, "waiting_for_user")],
)
def test_exit_code_tells_the_outcome(
    cli_server: FakeOpenHandsServer, directive: str, code: int, outcome: str
) -> None:
    done = run_cli(
        "new-conversation",
        "--base-url",
        cli_server.base_url,
        "--prompt",
        f"Go {directive}",
        "--poll",
        "--poll-interval-s",
        "0.1",
    )
    assert done.returncode == code, done.stderr
    assert json.loads(done.stdout.split("\n", 1)[1])["outcome"] == outcome


def test_wait_timeout_exits_5(cli_server: FakeOpenHandsServer) -> None:
    done = run_cli(
        "new-conversation",
        "--base-url",
        cli_server.base_url,
        "--prompt",
        "Slow [fake-llm delay=60]",
        "--poll",
        "--timeout-s",
        "1",
        "--poll-interval-s",
        "0.1",
    )
    assert done.returncode == 5
    assert done.stdout.startswith(cli_server.base_url)
    _assert_one_line_error(done.stderr)
    assert "may still be running" in done.stderr


def test_prompt_from_stdin_and_append_file(cli_server: FakeOpenHandsServer, tmp_path: Path) -> None:
    tail = tmp_path / "tail.md"
    tail.write_text("Always run the tests.")
    done = run_cli(
        "new-conversation",
        "--base-url",
        cli_server.base_url,
        "--prompt-file",
        "-",
        "--append-file",
        str(tail),
        stdin="Fix the bug.\n",
    )
    assert done.returncode == 0, done.stderr
    conversation_id = done.stdout.strip().rsplit("/", 1)[1]
    with OpenHandsAPI(base_url=cli_server.base_url, poll_interval=0.05) as api:
        api.wait(conversation_id, timeout=30)
        sent = next(
            e for e in api.iter_events(conversation_id) if e.source == "user" and e.kind == "action:message"
        )
    assert sent.text == "Fix the bug.\n\nAlways run the tests."


def test_repo_and_branch_are_sent(cli_server: FakeOpenHandsServer) -> None:
    done = run_cli(
        "new-conversation",
        "--base-url",
        cli_server.base_url,
        "--prompt",
        "Hi",
        "--repo",
        "owner/repo",
        "--branch",
        "main",
    )
    assert done.returncode == 0, done.stderr
    conversation_id = done.stdout.strip().rsplit("/", 1)[1]
    with OpenHandsAPI(base_url=cli_server.base_url) as api:
        conversation = api.get_conversation(conversation_id)
    assert (conversation.repository, conversation.branch) == ("owner/repo", "main")


def test_missing_key_for_cloud_exits_6_with_one_line() -> None:
    done = run_cli("new-conversation", "--prompt", "hi")
    assert done.returncode == 6
    _assert_one_line_error(done.stderr)
    assert "OPENHANDS_API_KEY" in done.stderr


def test_wrong_session_key_exits_6(fake_openhands_factory: object) -> None:
    server = fake_openhands_factory(rate_limit=False, session_api_key="right-key")  # type: ignore[operator]
    done = run_cli(
        "new-conversation",
        "--base-url",
        server.base_url,
        "--prompt",
        "hi",
        env={"OPENHANDS_SESSION_API_KEY": "wrong-key-value"},
    )
    assert done.returncode == 6
    _assert_one_line_error(done.stderr)
    assert "wrong-key-value" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--prompt-file", "/nonexistent/prompt.md"], "does not exist"),
        (["--prompt-file", "/"], "directory"),
        (["--prompt", "   "], "empty"),
        (["--prompt", "hi", "--repo", "not-a-repo"], "owner/repo"),
        (["--prompt", "hi", "--repo", "a/b/../c"], "owner/repo"),
        ([], "--prompt"),
        (["--prompt", "a", "--prompt-file", "x"], "not both"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], needle: str) -> None:
    done = run_cli("new-conversation", "--base-url", "http://127.0.0.1:9", *args)
    assert done.returncode == 2
    _assert_one_line_error(done.stderr)
    assert needle in done.stderr


def test_binary_empty_and_huge_prompt_files_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "b.bin"
    binary.write_bytes(b"\x00\x01\x02")
    latin = tmp_path / "l.txt"
    latin.write_bytes("café".encode("latin-1"))
    empty = tmp_path / "e.md"
    empty.write_text("\n\n")
    huge = tmp_path / "h.md"
    huge.write_text("x" * 1_000_001)
    for path, needle in ((binary, "binary"), (latin, "UTF-8"), (empty, "empty"), (huge, "larger")):
        done = run_cli("new-conversation", "--base-url", "http://127.0.0.1:9", "--prompt-file", str(path))
        assert done.returncode == 2, path
        _assert_one_line_error(done.stderr)
        assert needle in done.stderr


def test_unreachable_server_exits_7_with_one_line() -> None:
    done = run_cli("new-conversation", "--base-url", "http://127.0.0.1:9", "--prompt", "hi")
    assert done.returncode == 7
    _assert_one_line_error(done.stderr)
    assert "127.0.0.1:9" in done.stderr


def test_malformed_base_url_exits_2() -> None:
    done = run_cli("new-conversation", "--base-url", "localhost:3000", "--prompt", "hi")
    assert done.returncode == 2
    _assert_one_line_error(done.stderr)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["list", "--help"],
        ["create", "--help"],
        ["api", "--help"],
        ["events", "--help"],
        ["auth", "login", "--help"],
        ["list", "--bogus"],  # usage errors too
        ["get"],
        ["wait", "ID", "--timeout-s", "-1"],
        ["create", "--repo", "a/b", "--branch"],
    ],
)
def test_help_and_usage_errors_import_neither_httpx_nor_pydantic(argv: list[str]) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from openhands_api.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print('LOADED', 'httpx' in sys.modules, 'pydantic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "LOADED False False" in done.stdout, done.stderr


def test_demo_runs_a_whole_conversation() -> None:
    done = run_cli("demo", "--speed", "5")
    assert done.returncode == 0, done.stderr
    assert "outcome: finished" in done.stdout
    assert "deleted: True" in done.stdout
