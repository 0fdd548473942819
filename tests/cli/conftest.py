"""CLI tests run the real command in a subprocess: exit codes, stdout/stderr, no tracebacks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from openhands_api.cli import main
from openhands_api.cli.app import Seam
from openhands_api.cli.output import Terminal
from openhands_api.testing import FakeOpenHandsServer


@pytest.fixture(scope="session", autouse=True)
def _ctrl_c_reaches_the_commands() -> Iterator[None]:
    """A test suite started in the background by a shell without job control (``cmd &`` in a
    script, as a CI runner may) inherits SIGINT ignored, and so would every command it starts:
    the Ctrl-C tests would meet commands that cannot be interrupted (seen in a rehearsal of
    .ci/run). A command run from a terminal has SIGINT at its default; a handler here is reset
    to the default in each child at exec, so the commands get that."""
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if ignored:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def finish(process: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    """``process.communicate(timeout)``; a command still running then is killed (and the
    timeout raised), so that a failing test leaves no process behind."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``openhands-api`` with a clean OpenHands environment plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    return subprocess.run(
        [sys.executable, "-m", "openhands_api", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )


@pytest.fixture
def cli_server(fake_openhands_factory: Callable[..., FakeOpenHandsServer]) -> FakeOpenHandsServer:
    return fake_openhands_factory(rate_limit=False, speed=5.0)


@dataclass
class Ran:
    """What an in-process run of the CLI left: its exit code and output."""

    code: int
    stdout: str
    stderr: str


TERMINAL = Terminal(stdout_tty=True, stderr_tty=True, stdin_tty=True, columns=80, color=False)
"""An 80-column terminal without colour, for in-process runs that check the terminal view."""
PIPED = Terminal(stdout_tty=False, stderr_tty=False, stdin_tty=False, columns=80, color=False)
"""Output to a pipe, as scripts and CI read it."""


def invoke(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    terminal: Terminal = PIPED,
    seam: Seam | None = None,
) -> Ran:
    """Run ``openhands-api`` in this process through its seam (fast: no interpreter start).

    The environment holds no OPENHANDS_* variables but those in ``env``; HOME should be a
    temporary directory (the autouse fixture below), so no real key or cache is read."""
    runner = CliRunner()
    clean = {k: None for k in os.environ if k.startswith("OPENHANDS_")}
    chosen = seam or Seam()
    chosen.terminal = chosen.terminal or terminal
    with runner.isolation(input=stdin, env={**clean, **(env or {})}) as (out, err, _):
        try:
            main(list(args), seam=chosen)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        return Ran(code, out.getvalue().decode(), err.getvalue().decode())


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs read HOME (key file, profiles, version cache): give each test its own."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)  # so that they follow HOME, which
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)  # a test may set for its subprocess


class TerminalScreen:
    """What a pseudo-terminal's child writes, read in a thread until the child closes its side
    (a pty's buffer is small: unread, a chatty child would block on it)."""

    def __init__(self, controller: int) -> None:
        self.controller = controller
        self.bytes = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.controller, 4096)
            except OSError:  # EIO once the child has closed its side
                return
            if not chunk:
                return
            self.bytes.extend(chunk)

    def close(self) -> bytes:
        """Everything read, once the child is done; the controller side is closed."""
        self._reader.join(10)
        os.close(self.controller)
        return bytes(self.bytes)
