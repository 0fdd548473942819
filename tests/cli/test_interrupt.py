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


def _interrupt_after_start(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "openhands_api", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    time.sleep(2.5)  # started, and waiting
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.parametrize("generation", ["v0", "v1"])
def test_ctrl_c_during_wait_says_the_conversation_goes_on_and_how_to_wait_again(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], generation: str
) -> None:
    server = fake_openhands_factory(speed=1.0, generations=generation)
    with OpenHandsAPI(base_url=server.base_url) as api:
        conversation = api.create_conversation("A long task. [fake-llm steps=200]")
    env = {**os.environ}
    done = _interrupt_after_start(["wait", conversation.id, "--base-url", server.base_url], env)
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
    done = _interrupt_after_start(
        ["new-conversation", "--prompt", "Long. [fake-llm steps=200]", "--poll", "--api-version", "v1"], env
    )
    assert done.returncode == 130, done.stderr
    url = done.stdout.strip().splitlines()[0]
    conversation_id = url.rsplit("/", 1)[-1]
    line = done.stderr.strip().splitlines()[-1]
    assert f"conversation {conversation_id} goes on running" in line
    assert f"openhands-api wait {conversation_id} --api-version v1" in line
