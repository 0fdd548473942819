"""The real entry point with its stdout on a pseudo-terminal: the table a person sees (header,
the terminal's width, colour) and the NO_COLOR rule; the same command piped gives plain rows."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from collections.abc import Callable

import pytest

from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import TerminalScreen, invoke, run_cli

TITLE = "Find and fix the flaky tests of the payment service, then open one pull request"


def _on_a_terminal(*args: str, columns: int, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pty ``columns`` wide; what the screen got."""
    controller, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OPENHANDS_") and k not in ("COLUMNS", "NO_COLOR")
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "openhands_api", *args],
        stdout=child,
        stderr=child,
        stdin=subprocess.DEVNULL,
        env={**base, "TERM": "xterm", **(env or {})},
    )
    os.close(child)
    screen = TerminalScreen(controller)
    code = process.wait(timeout=120)
    return code, screen.close().decode().replace("\r\n", "\n")


@pytest.fixture(params=["v0", "v1"])
def server(
    request: pytest.FixtureRequest, fake_openhands_factory: Callable[..., FakeOpenHandsServer]
) -> FakeOpenHandsServer:
    server = fake_openhands_factory(rate_limit=False, speed=20.0, generations=request.param)
    for directive in ("[fake-llm steps=1]", "[fake-llm error]"):
        ran = invoke(
            "create", "--base-url", server.base_url, "--prompt", f"Go {directive}", "--title", TITLE, "--wait"
        )
        assert ran.code in (0, 1), ran.stderr
    return server


def test_a_person_sees_a_coloured_table_that_fits_the_terminal(server: FakeOpenHandsServer) -> None:
    code, screen = _on_a_terminal("list", "--base-url", server.base_url, columns=60)
    assert code == 0, screen
    lines = [line for line in screen.splitlines() if line]
    assert lines[0].split() == ["ID", "OUTCOME", "UPDATED", "REPOSITORY", "TITLE"]
    assert len(lines) == 3
    plain = [line.replace("\x1b[32m", "").replace("\x1b[31m", "").replace("\x1b[0m", "") for line in lines]
    assert all(len(line) <= 60 for line in plain)
    assert "\x1b[31mfailed" in screen  # red
    assert "\x1b[32mfinished" in screen  # green


def test_no_color_leaves_the_table_plain(server: FakeOpenHandsServer) -> None:
    code, screen = _on_a_terminal("list", "--base-url", server.base_url, columns=60, env={"NO_COLOR": "1"})
    assert code == 0, screen
    assert "\x1b[" not in screen
    assert "failed" in screen


def test_piped_the_same_command_gives_plain_tab_separated_rows(server: FakeOpenHandsServer) -> None:
    done = run_cli("list", "--base-url", server.base_url)
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert sorted(row[1] for row in rows) == ["failed", "finished"]
    # Whole, never cut (V1 servers replace a given title with the LLM's a moment later).
    assert all(row[4] in (TITLE, "Fake title") for row in rows)
    assert "\x1b[" not in done.stdout
