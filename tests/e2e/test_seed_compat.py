"""The seed client's quick start and CLI example run unchanged (but for the import) and now
return when the agent is done — the original waited for a status that never came."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from openhands_api.testing import FakeOpenHandsServer

# The seed's README quick start, verbatim except for the import line.
QUICK_START = """
from openhands_api import OpenHandsAPI

api = OpenHandsAPI(api_key="...")  # or set OPENHANDS_API_KEY

conv = api.create_conversation(
    initial_user_msg="Please audit this repo for flaky tests and open a PR fixing them.",
    repository="owner/repo",
    selected_branch="main",
)
conversation_id = conv["conversation_id"]

final = api.poll_until_terminal(conversation_id, timeout_s=1800, poll_interval_s=30)
print(final["status"], final.get("url"))
"""


def _env(base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    env["OPENHANDS_BASE_URL"] = base_url
    return env


def test_seed_quick_start_returns_when_the_agent_is_done(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    # An instant agent: the quick start polls every 30 s, so the first poll must see the end.
    server = fake_openhands_factory(rate_limit=False, startup_delay=0, step_delay=0, title_delay=0)
    done = subprocess.run(
        [sys.executable, "-c", QUICK_START],
        capture_output=True,
        text=True,
        env=_env(server.base_url),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    status, url = done.stdout.split()
    assert status == "finished"
    assert url.startswith(f"{server.base_url}/conversations/")
    [conversation] = server.state.conversations.values()
    assert url.endswith(conversation.conversation_id)


def test_seed_cli_example(fake_openhands_factory: Callable[..., FakeOpenHandsServer], tmp_path: Path) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0)
    prompt = tmp_path / "example_prompt.md"
    prompt.write_text("Please audit this repository for flaky tests.\n")
    env = {**_env(server.base_url), "OPENHANDS_API_KEY": "..."}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "openhands_api",
            "new-conversation",
            "--prompt-file",
            str(prompt),
            "--repo",
            "owner/repo",
            "--branch",
            "main",
            "--poll",
            "--poll-interval-s",
            "0.2",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    url, rest = done.stdout.split("\n", 1)
    assert url.startswith(f"{server.base_url}/conversations/")
    assert json.loads(rest)["status"] == "finished"
