"""While a command waits, a terminal shows one status line on stderr (rewritten, then erased);
a pipe gets nothing but the result."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable

from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import TerminalScreen, run_cli

LONG_TASK = "Refactor the parser. [fake-llm steps=6]"


def _poll_long_task(server: FakeOpenHandsServer) -> tuple[str, ...]:
    return (
        "new-conversation",
        "--base-url",
        server.base_url,
        "--prompt",
        LONG_TASK,
        "--poll",
        "--poll-interval-s",
        "0.1",
    )


def _run_with_terminal_stderr(*args: str) -> tuple[int, str, bytes]:
    """Run the CLI with stderr on a pseudo-terminal; stdout stays a pipe."""
    terminal, child_side = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    env["TERM"] = "xterm"
    process = subprocess.Popen(
        [sys.executable, "-m", "openhands_api", *args],
        stdout=subprocess.PIPE,
        stderr=child_side,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(child_side)
    screen = TerminalScreen(terminal)
    stdout, _ = process.communicate(timeout=120)
    return process.returncode, stdout.decode(), screen.close()


def test_a_terminal_sees_a_status_line_while_the_agent_works(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=2.0)
    code, stdout, screen = _run_with_terminal_stderr(*_poll_long_task(server))
    assert code == 0, screen
    conversation_id = stdout.splitlines()[0].rsplit("/", 1)[1]
    assert json.loads(stdout.split("\n", 1)[1])["outcome"] == "finished"
    assert f"{conversation_id} · working".encode() in screen
    assert b"agent running" in screen
    assert screen.endswith(b"\r\x1b[2K")  # the line is erased before the result


def test_wait_on_a_terminal_erases_its_line_before_saying_it_timed_out(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=1.0, generations="v1")
    created = run_cli(
        "new-conversation", "--base-url", server.base_url, "--prompt", "Port it all. [fake-llm steps=5000]"
    )
    conversation_id = created.stdout.strip().rsplit("/", 1)[1]
    code, stdout, screen = _run_with_terminal_stderr(
        "wait", conversation_id, "--timeout-s", "3", "--base-url", server.base_url
    )
    assert code == 5, screen
    assert stdout == ""
    assert b" \xc2\xb7 working " in screen
    _status, message = screen.rsplit(b"\r\x1b[2K", 1)
    assert message.startswith(b"error: Conversation ")
    assert b"did not reach an outcome within 3s" in message


def test_a_pipe_gets_no_status_line(fake_openhands_factory: Callable[..., FakeOpenHandsServer]) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=2.0)
    done = run_cli(*_poll_long_task(server))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
