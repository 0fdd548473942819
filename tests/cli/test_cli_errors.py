"""Errors, ``--debug``, closed pipes and local option checks, through the real ``openhands-api``
against the fake server.

Errors are one line on stderr that names the CLI's flags and commands (never a library
argument such as ``api_key=``, an HTTP route or a dump of a body); ``--debug`` works wherever
it is put; a closed output pipe ends a command quietly.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Callable

import pytest

from openhands_api import OpenHandsAPI
from openhands_api.cli.app import error_text
from openhands_api.protocol.http import Request, Response
from openhands_api.protocol.parsing import error_from_response
from openhands_api.testing import FakeOpenHandsServer, FaultRule
from tests.cli.conftest import run_cli

Factory = Callable[..., FakeOpenHandsServer]
UNKNOWN = "0123456789abcdef0123456789abcdef"
FAST = {"rate_limit": False, "speed": 5.0}
LIBRARY_ARGUMENT = re.compile(r"\b(api_key|session_api_key|base_url|api_version|allow_insecure_http)=")
RAW_HTTP = re.compile(r"\b(GET|POST|PATCH|DELETE) /|/api/|\{\"|failed with HTTP")


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def _sent(server: FakeOpenHandsServer) -> int:
    return sum(record.path.startswith("/api/") for record in server.state.requests)


def _finished(server: FakeOpenHandsServer, api_version: str = "auto") -> str:
    with OpenHandsAPI(base_url=server.base_url, api_version=api_version, poll_interval=0.05) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation("Hello. [fake-llm steps=1]")
        api.wait(conversation.id, timeout=30)
    return conversation.id


# ---------------------------------------------------------------------------- --debug anywhere


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_works_before_and_after_the_command(cli_server: FakeOpenHandsServer, where: str) -> None:
    args = ["list", "--base-url", cli_server.base_url, "--limit", "1"]
    done = run_cli(*(["--debug", *args] if where == "before" else [*args, "--debug"]))
    assert done.returncode == 0, done.stderr
    assert "DEBUG openhands_api" in done.stderr
    assert "GET /api/conversations" in done.stderr


def test_debug_after_the_command_shows_the_full_error_and_keeps_the_code() -> None:
    done = run_cli("get", UNKNOWN, "--base-url", "http://127.0.0.1:9", "--debug")
    assert done.returncode == 7, done.stderr
    assert done.stderr.splitlines()[-1].startswith("error: ")
    assert "debug: APIConnectionError: " in done.stderr


# ---------------------------------------------------------------------------- closed pipes


def test_events_into_a_pipe_closed_after_one_line_exits_0_quietly(fake_openhands_factory: Factory) -> None:
    server = fake_openhands_factory(**FAST)
    with OpenHandsAPI(base_url=server.base_url, poll_interval=0.05) as api:
        conversation = api.create_conversation("Many steps. [fake-llm steps=120]")
        api.wait(conversation.id, timeout=60)
        size = sum(
            len(json.dumps(e.model_dump(mode="json"), default=str)) for e in api.iter_events(conversation.id)
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "openhands_api", "events", conversation.id, "--json"],
        env={**env, "OPENHANDS_BASE_URL": server.base_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # as `| head -1` does after its line
    stderr = process.stderr.read().decode()
    code = process.wait(timeout=60)
    assert first.startswith(b"{")
    assert size > 300_000  # far more than a pipe holds: the command writes into the closed pipe
    assert code == 0, stderr
    assert stderr == ""


@pytest.mark.parametrize("args", [["list"], ["list", "--json"], ["--help"]])
def test_output_into_an_already_closed_pipe_exits_0_quietly(
    cli_server: FakeOpenHandsServer, args: list[str]
) -> None:
    _finished(cli_server)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command writes (its last flush)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "openhands_api", *args],
            env={**env, "OPENHANDS_BASE_URL": cli_server.base_url},
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


# ---------------------------------------------------------------------------- error wording


def test_the_missing_key_error_names_auth_login_and_base_url() -> None:
    done = run_cli("list")
    assert done.returncode == 6
    line = _error_line(done.stderr)
    assert "openhands-api auth login" in line
    assert "--base-url" in line
    assert "--api-key" in line
    assert not LIBRARY_ARGUMENT.search(line), line


def test_a_refused_session_key_names_the_flags_not_the_library_arguments(
    fake_openhands_factory: Factory,
) -> None:
    server = fake_openhands_factory(rate_limit=False, session_api_key="right-key")
    done = run_cli("list", "--base-url", server.base_url, "--session-api-key", "wrong-key-value")
    assert done.returncode == 6
    line = _error_line(done.stderr)
    assert "--session-api-key" in line
    assert not LIBRARY_ARGUMENT.search(line), line
    assert not RAW_HTTP.search(line), line
    assert "wrong-key-value" not in done.stderr + done.stdout


def test_plain_http_to_another_host_names_the_flag() -> None:
    done = run_cli("list", "--base-url", "http://192.0.2.1:3000", "--session-api-key", "k")
    assert done.returncode == 2
    line = _error_line(done.stderr)
    assert "--allow-insecure-http" in line
    assert not LIBRARY_ARGUMENT.search(line), line


def test_an_error_answer_is_one_human_line_and_debug_keeps_the_details(
    cli_server: FakeOpenHandsServer,
) -> None:
    conversation_id = _finished(cli_server)
    assert run_cli("stop", conversation_id, "--base-url", cli_server.base_url).returncode == 0
    cli_server.state.faults.add(
        FaultRule("status", method="POST", path="/api/conversations/*/start", status=404, times=None)
    )
    done = run_cli("resume", conversation_id, "--base-url", cli_server.base_url)
    assert done.returncode == 4, done.stderr
    line = _error_line(done.stderr)
    assert f"No conversation {conversation_id} on this server" in line
    assert not RAW_HTTP.search(line), line
    debug = run_cli("resume", conversation_id, "--base-url", cli_server.base_url, "--debug")
    assert debug.returncode == 4
    assert f"request: POST /api/conversations/{conversation_id}/start" in debug.stderr
    assert debug.stderr.splitlines()[-1] == line


def test_the_v0_start_answer_without_a_message_becomes_one_sentence() -> None:
    """The answer of V0's start route to an unknown id, as the real server sends it."""
    body = json.dumps({"status": "error", "conversation_id": UNKNOWN}).encode()
    error = error_from_response(
        Request("POST", f"/api/conversations/{UNKNOWN}/start"),
        Response(404, {"content-type": "application/json"}, body),
    )
    assert "failed with HTTP 404" in error.message  # the library's message keeps the route
    assert error.server_message is None
    text = error_text(error, UNKNOWN)
    assert text == f"No conversation {UNKNOWN} on this server: unknown id, or deleted (HTTP 404)"


def test_a_paused_v1_sandbox_says_to_run_resume(fake_openhands_factory: Factory) -> None:
    server = fake_openhands_factory(**FAST, generations="v1")
    conversation_id = _finished(server)
    assert run_cli("stop", conversation_id, "--base-url", server.base_url).returncode == 0
    done = run_cli(
        "send", conversation_id, "--message", "More.", "--no-resume", "--base-url", server.base_url
    )
    assert done.returncode == 7, done.stderr
    line = _error_line(done.stderr)
    assert f"openhands-api resume {conversation_id}" in line
    assert not RAW_HTTP.search(line), line


@pytest.mark.parametrize(
    ("served", "forced", "other"), [("v0", "v1", "v0"), ("v1", "v0", "v1")], ids=["v1-on-v0", "v0-on-v1"]
)
@pytest.mark.parametrize("command", [["list"], ["get", UNKNOWN], ["new-conversation", "--prompt", "Hi."]])
def test_a_forced_generation_the_server_does_not_speak_says_so(
    fake_openhands_factory: Factory, served: str, forced: str, other: str, command: list[str]
) -> None:
    server = fake_openhands_factory(**FAST, generations=served)
    done = run_cli(*command, "--api-version", forced, "--base-url", server.base_url)
    assert done.returncode == 7, done.stderr
    line = _error_line(done.stderr)
    assert f"does not speak the {forced.upper()} API" in line
    assert f"--api-version auto or --api-version {other}" in line
    assert not RAW_HTTP.search(line), line


@pytest.mark.parametrize("generation", ["v0", "v1"])
def test_an_unknown_id_on_a_forced_generation_the_server_speaks_is_still_not_found(
    fake_openhands_factory: Factory, generation: str
) -> None:
    server = fake_openhands_factory(**FAST, generations=generation)
    done = run_cli("get", UNKNOWN, "--api-version", generation, "--base-url", server.base_url)
    assert done.returncode == 4, done.stderr
    assert "does not speak" not in done.stderr


# ---------------------------------------------------------------------------- local checks


def test_an_unknown_git_provider_is_refused_before_anything_is_sent(cli_server: FakeOpenHandsServer) -> None:
    before = _sent(cli_server)
    done = run_cli(
        "new-conversation", "--base-url", cli_server.base_url, "--prompt", "Hi.", "--git-provider", "foo"
    )
    assert done.returncode == 2
    for value in ("github", "gitlab", "bitbucket", "bitbucket_data_center", "forgejo", "azure_devops"):
        assert value in done.stderr
    assert _sent(cli_server) == before


def test_a_git_provider_in_capitals_is_accepted(cli_server: FakeOpenHandsServer) -> None:
    done = run_cli(
        "new-conversation",
        *("--base-url", cli_server.base_url, "--prompt", "Hi.", "--repo", "o/r", "--git-provider", "GitLab"),
    )
    assert done.returncode == 0, done.stderr


def test_branch_without_repo_is_refused_before_anything_is_sent(cli_server: FakeOpenHandsServer) -> None:
    before = _sent(cli_server)
    done = run_cli(
        "new-conversation", "--base-url", cli_server.base_url, "--prompt", "Hi.", "--branch", "main"
    )
    assert done.returncode == 2
    assert "--repo" in _error_line(done.stderr)
    assert _sent(cli_server) == before


def test_prompt_file_dash_on_a_terminal_says_how_to_end_the_prompt(cli_server: FakeOpenHandsServer) -> None:
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "openhands_api", "new-conversation", "--prompt-file", "-"],
        env={**env, "OPENHANDS_BASE_URL": cli_server.base_url},
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(terminal)
    try:
        os.write(controller, b"Fix the bug.\n\x04")
        out, err = process.communicate(timeout=60)
    finally:
        os.close(controller)
    assert process.returncode == 0, err
    assert "reading the prompt from stdin; end with Ctrl-D" in err
    assert out.startswith(cli_server.base_url)


def test_prompt_file_dash_from_a_pipe_prints_no_hint(cli_server: FakeOpenHandsServer) -> None:
    done = run_cli("new-conversation", "--base-url", cli_server.base_url, "--prompt-file", "-", stdin="Hi.\n")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_a_server_that_cannot_be_reached_is_named_without_the_route() -> None:
    from tests.cli.conftest import invoke

    ran = invoke("list", "--base-url", "http://127.0.0.1:9", "--api-version", "v1")
    assert ran.code == 7
    assert ran.stderr.startswith("error: http://127.0.0.1:9: could not connect")
    assert "/api/" not in ran.stderr  # the route is for --debug
    assert "running and reachable" in ran.stderr
