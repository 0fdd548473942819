"""``openhands-api demo`` through the real entry point: the Python calls shown as Python, and a
closing hint whose commands work at once, without a key (this test runs them)."""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.cli.conftest import run_cli

SERVE_PREFIX = "python -m openhands_api.testing serve"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _served(command: list[str]) -> Iterator[str]:
    """Run the hint's serve command; yields the URL it prints first."""
    process = subprocess.Popen(
        [sys.executable, *command[1:]], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(15)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(scope="module")
def demo_output() -> str:
    """``openhands-api demo``'s stdout (run once for the module's tests)."""
    done = run_cli("demo", "--speed", "5")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_demo_shows_the_library_calls_as_python(demo_output: str) -> None:
    lines = demo_output.splitlines()
    assert not [line for line in lines if line.startswith("$ ")]  # no Python dressed as shell
    assert any(line.startswith("The library, in Python") for line in lines)
    calls = [line for line in lines if line.startswith(">>> ")]
    assert calls[0] == ">>> from openhands_api import OpenHandsAPI"
    assert any(line.startswith(">>> conversation = api.create_conversation(") for line in calls)
    assert ">>> api.delete_conversation(conversation.id)" in calls


def test_demo_ends_with_commands_that_work_without_a_key(demo_output: str) -> None:
    tail = demo_output[demo_output.index("Done.") :].splitlines()
    commands = [shlex.split(line) for line in tail if line.startswith("  ")]
    serve, export, new = commands
    assert " ".join(serve).startswith(SERVE_PREFIX)
    assert export[0] == "export"
    assert new[0] == "openhands-api"
    cloud = next(i for i, line in enumerate(tail) if "Cloud" in line)
    assert cloud > max(i for i, line in enumerate(tail) if line.startswith("  "))  # key-free first

    port = str(_free_port())
    serve = [port if arg == "8000" else arg for arg in serve]
    with _served(serve) as url:
        name, _, value = export[1].partition("=")
        assert (name, value.replace("8000", port)) == ("OPENHANDS_BASE_URL", url)
        ran = run_cli(*new[1:], env={name: url})
        assert ran.returncode == 0, ran.stderr
        web_url = ran.stdout.splitlines()[0]
        assert web_url.startswith(f"{url}/conversations/")
        # The URL it printed opens a page (the fake's stand-in for the web app).
        response = httpx.get(web_url)
    assert response.status_code == 200
    assert "fake OpenHands server" in response.text
