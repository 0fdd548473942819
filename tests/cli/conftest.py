"""CLI tests run the real command in a subprocess: exit codes, stdout/stderr, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from openhands_api.testing import FakeOpenHandsServer


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
