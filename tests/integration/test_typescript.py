"""The TypeScript client (typescript/, built to dist/) against the real servers: the README's
quick start and the user script (create → wait → result → send → wait → download), on
openhands-ai 1.6.0 (V0) and 1.11.0 (V1).

Each runs ``typescript_client.mjs`` in Node with OPENHANDS_BASE_URL / OPENHANDS_SESSION_API_KEY
pointing at the server, as a user would, and checks the JSON it prints.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.typescript.node import build_dist, npm_env, skip_unless_installed

from .realserver.harness import RealServer

skip_unless_installed()

SCRIPT = Path(__file__).with_name("typescript_client.mjs")
TIMEOUT = 600.0


def _run(server: RealServer, mode: str, workdir: Path) -> dict[str, Any]:
    env = npm_env()
    env.update(
        OPENHANDS_BASE_URL=server.base_url,
        OPENHANDS_SESSION_API_KEY=server.session_api_key or "",
        OPENHANDS_API_KEY="...",  # the quick start's placeholder: a self-hosted server ignores it
    )
    done = subprocess.run(
        ["node", str(SCRIPT), mode, str(build_dist()), str(workdir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    output: dict[str, Any] = json.loads(done.stdout)
    return output


@pytest.fixture(params=["v0", "v1"])
def server(request: pytest.FixtureRequest) -> RealServer:
    fixture: RealServer = request.getfixturevalue(f"real_{request.param}")
    return fixture


@pytest.mark.timeout(TIMEOUT + 120)  # a server's start, then the quick start's 30 s polls
def test_the_quick_start(server: RealServer, tmp_path: Path) -> None:
    output = _run(server, "quickstart", tmp_path)
    assert output["version"] == server.version
    assert output["status"] == "finished"
    assert output["url"] == f"{server.base_url}/conversations/{output['id']}"
    assert output["finalMessage"]


@pytest.mark.timeout(TIMEOUT + 120)
def test_the_user_script(server: RealServer, tmp_path: Path) -> None:
    output = _run(server, "user-script", tmp_path)
    assert output["version"] == server.version
    assert output["first"] == "finished", output["firstDetail"]
    assert output["result"]["outcome"] == "finished"
    assert output["result"]["finalMessage"]
    assert output["result"]["webUrl"].startswith(f"{server.base_url}/conversations/")
    assert output["second"] == "finished", output["secondDetail"]
    assert output["secondFinalMessage"]
    assert output["bytes"] > 0
    # V1 downloads a zip of the conversation, V0 its trajectory as JSON.
    assert output["head"] == ("PK" if server.version == "v1" else '{"')
