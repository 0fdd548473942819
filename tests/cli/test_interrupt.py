"""Ctrl-C while waiting names the conversation, says it goes on, and gives the command that
picks the wait up again (issue 10, item 11); exit 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from openhands_api import OpenHandsAPI, Outcome
from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import finish


def _interrupt_once_waiting(
    server: FakeOpenHandsServer, args: list[str], env: dict[str, str], *, reads: int = 1
) -> subprocess.CompletedProcess[str]:
    """Run the command and press Ctrl-C once it has read the conversation ``reads`` times
    (seen in the fake's request log): then it is waiting."""
    seen = len(server.state.requests)
    process = subprocess.Popen(
        [sys.executable, "-m", "openhands_api", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _polls(server, seen) < reads:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    out, err = finish(process, 30)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _polls(server: FakeOpenHandsServer, after: int) -> int:
    """How often the command has read a conversation since request ``after``: V0's newest
    events, or V1's batch read (not the start task's, which a create follows first)."""
    reads = [r.path for r in list(server.state.requests)[after:] if r.method == "GET"]
    return sum(
        path.startswith("/api/v1/app-conversations?")
        or (path.startswith("/api/conversations/") and "/events" in path)
        for path in reads
    )


@pytest.mark.parametrize("generation", ["v0", "v1"])
def test_ctrl_c_during_wait_says_the_conversation_goes_on_and_how_to_wait_again(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], generation: str
) -> None:
    server = fake_openhands_factory(speed=1.0, generations=generation)
    with OpenHandsAPI(base_url=server.base_url) as api:
        conversation = api.create_conversation("A long task. [fake-llm steps=200]")
    env = {**os.environ}
    done = _interrupt_once_waiting(server, ["wait", conversation.id, "--base-url", server.base_url], env)
    assert done.returncode == 130, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert conversation.id in line
    assert "goes on running" in line
    assert f"openhands-api wait {conversation.id} --base-url {server.base_url}" in line
    with OpenHandsAPI(base_url=server.base_url) as api:
        assert api.result(conversation.id).outcome is Outcome.IN_PROGRESS


def test_ctrl_c_during_new_conversation_poll_names_the_new_conversation(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(speed=1.0, generations="v1")
    env = {**os.environ, "OPENHANDS_BASE_URL": server.base_url}
    done = _interrupt_once_waiting(
        server,
        ["new-conversation", "--prompt", "Long. [fake-llm steps=200]", "--poll", "--api-version", "v1"],
        env,
        reads=2,  # the create reads the new conversation once before the wait polls it
    )
    assert done.returncode == 130, done.stderr
    url = done.stdout.strip().splitlines()[0]
    conversation_id = url.rsplit("/", 1)[-1]
    line = done.stderr.strip().splitlines()[-1]
    assert f"conversation {conversation_id} goes on running" in line
    assert f"openhands-api wait {conversation_id} --api-version v1" in line
