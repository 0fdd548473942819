"""``openhands-api new-conversation`` / ``create``: the alias, --wait, --var, --instructions,
--repo URLs and ``--repo .``, the V1 start (progress line, --start-timeout), --json on a
timeout, and --web; on both API generations against the fake server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from openhands_api.cli.app import Seam
from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import TERMINAL, Ran, finish, invoke, run_cli
from tests.cli.test_progress import _run_with_terminal_stderr

GENERATIONS = ["v0", "v1"]


@pytest.fixture(params=GENERATIONS)
def server(request: pytest.FixtureRequest, fake_openhands_factory: Callable[..., FakeOpenHandsServer]) -> Any:
    return fake_openhands_factory(rate_limit=False, speed=5.0, generations=request.param)


def _generation(server: FakeOpenHandsServer) -> str:
    return server.config.generations


def _create(server: FakeOpenHandsServer, *args: str, **kwargs: Any) -> Ran:
    return invoke("create", "--base-url", server.base_url, *args, **kwargs)


def _id_of(url_line: str) -> str:
    return url_line.strip().rsplit("/", 1)[1]


def _sent(server: FakeOpenHandsServer, conversation_id: str) -> dict[str, Any]:
    """What the server was asked, in the unified names: prompt, instructions, repository, provider."""
    wanted = conversation_id.replace("-", "")
    if _generation(server) == "v0":
        request = server.state.v0.conversations[wanted].request
        return {
            "prompt": request.get("initial_user_msg"),
            "instructions": request.get("conversation_instructions"),
            "repository": request.get("repository"),
            "git_provider": request.get("git_provider"),
        }
    [task] = [
        t for t in server.state.v1.tasks.values() if (t.app_conversation_id or "").replace("-", "") == wanted
    ]
    request = task.request
    return {
        "prompt": request["initial_message"]["content"][0]["text"],
        "instructions": request.get("system_message_suffix"),
        "repository": request.get("selected_repository"),
        "git_provider": request.get("git_provider"),
    }


def _one_line_error(ran: Ran) -> str:
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, ran.stderr
    assert lines[0].startswith("error: "), ran.stderr
    assert "Traceback" not in ran.stderr
    return lines[0]


# ---------------------------------------------------------------------------- the alias


def test_create_is_new_conversation_under_another_name(server: FakeOpenHandsServer) -> None:
    ran = _create(server, "--prompt", "Hi.")
    assert ran.code == 0, ran.stderr
    [url] = ran.stdout.splitlines()
    assert url.startswith(f"{server.base_url}/conversations/")


def test_both_names_are_in_the_help_and_create_help_works() -> None:
    listing = run_cli("--help")
    assert listing.returncode == 0
    assert "  create " in listing.stdout
    assert "  new-conversation " in listing.stdout
    done = run_cli("create", "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: openhands-api create [OPTIONS]")
    for flag in ("--var", "--instructions-file", "--start-timeout", "--wait", "--web", "--repo"):
        assert flag in done.stdout
    assert "--var ISSUE=42 --repo ." in done.stdout


# ---------------------------------------------------------------------------- --wait


def test_wait_is_poll(server: FakeOpenHandsServer) -> None:
    ran = _create(
        server, "--prompt", "Hi. [fake-llm steps=1]", "--wait", "--poll-interval-s", "0.1", terminal=TERMINAL
    )
    assert ran.code == 0, ran.stderr
    url, outcome = ran.stdout.splitlines()[:2]
    assert url.startswith(server.base_url)
    assert outcome == "finished"


# ---------------------------------------------------------------------------- --var


def test_vars_fill_the_prompt_after_the_files_are_joined(server: FakeOpenHandsServer, tmp_path: Path) -> None:
    task = tmp_path / "task.md"
    task.write_text("Fix issue #{{ISSUE}} in {{ repo }}.")
    tail = tmp_path / "tail.md"
    tail.write_text("Tell {{ISSUE}}'s reporter; keep \\{{ISSUE}} and ${{ github.token }} as they are.")
    ran = _create(
        server,
        "--prompt-file",
        str(task),
        "--append-file",
        str(tail),
        "--var",
        "ISSUE=42",
        "--var",
        "repo=me/app=x",
    )
    assert ran.code == 0, ran.stderr
    assert _sent(server, _id_of(ran.stdout))["prompt"] == (
        "Fix issue #42 in me/app=x.\n\n"
        "Tell 42's reporter; keep {{ISSUE}} and ${{ github.token }} as they are."
    )


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--prompt", "Fix {{ISSUE}} in {{REPO}}"], ["{{ISSUE}}", "{{REPO}}"]),
        (["--prompt", "Fix {{ISSUE}}", "--var", "ISSUE=1", "--var", "ISUE=2"], ["ISUE", "typo"]),
        (["--prompt", "Fix {{ISSUE}}", "--var", "ISSUE"], ["KEY=VALUE"]),
        (["--prompt", "Fix {{ISSUE}}", "--var", "=1"], ["KEY=VALUE"]),
        (["--prompt", "Fix {{ISSUE}}", "--var", "ISSUE=1", "--var", "ISSUE=2"], ["twice"]),
        (["--prompt", "Fix it", "--var", "1X=2"], ["1X"]),
    ],
)
def test_template_mistakes_exit_2_before_anything_is_sent(args: list[str], needles: list[str]) -> None:
    ran = invoke("create", "--base-url", "http://127.0.0.1:9", *args)
    assert ran.code == 2, ran.stderr
    line = _one_line_error(ran)
    for needle in needles:
        assert needle in line


# ---------------------------------------------------------------------------- --instructions


def test_instructions_reach_the_server(server: FakeOpenHandsServer) -> None:
    ran = _create(server, "--prompt", "Hi.", "--instructions", "Answer in French.")
    assert ran.code == 0, ran.stderr
    sent = _sent(server, _id_of(ran.stdout))
    assert sent["instructions"] == "Answer in French."
    assert sent["prompt"] == "Hi."


def test_instructions_from_a_file_and_from_stdin(server: FakeOpenHandsServer, tmp_path: Path) -> None:
    rules = tmp_path / "rules.md"
    rules.write_text("Run the tests before you finish.\n")
    ran = _create(server, "--prompt", "Hi.", "--instructions-file", str(rules))
    assert ran.code == 0, ran.stderr
    assert _sent(server, _id_of(ran.stdout))["instructions"] == "Run the tests before you finish.\n"
    ran = _create(server, "--prompt", "Hi.", "--instructions-file", "-", stdin="Be brief.")
    assert ran.code == 0, ran.stderr
    assert _sent(server, _id_of(ran.stdout))["instructions"] == "Be brief."


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--instructions", "a", "--instructions-file", "b"], "not both"),
        (["--instructions", "  "], "empty"),
        (["--instructions-file", "/nonexistent/rules.md"], "does not exist"),
    ],
)
def test_bad_instructions_exit_2(args: list[str], needle: str) -> None:
    ran = invoke("create", "--base-url", "http://127.0.0.1:9", "--prompt", "Hi", *args)
    assert ran.code == 2
    assert needle in _one_line_error(ran)


def test_only_one_option_reads_stdin() -> None:
    ran = invoke(
        "create",
        "--base-url",
        "http://127.0.0.1:9",
        "--prompt-file",
        "-",
        "--instructions-file",
        "-",
        stdin="x",
    )
    assert ran.code == 2
    assert "stdin" in _one_line_error(ran)


# ---------------------------------------------------------------------------- --repo


@pytest.mark.parametrize(
    ("repo", "path", "provider"),
    [
        ("https://github.com/o/r.git", "o/r", "github"),
        ("git@github.com:o/r.git", "o/r", "github"),
        ("ssh://git@gitlab.com/group/sub/r.git", "group/sub/r", "gitlab"),
        ("https://bitbucket.org/o/r", "o/r", "bitbucket"),
        ("https://git.example.com/team/r.git", "team/r", None),
    ],
)
def test_repo_urls_become_owner_repo_and_a_provider(
    server: FakeOpenHandsServer, repo: str, path: str, provider: str | None
) -> None:
    ran = _create(server, "--prompt", "Hi.", "--repo", repo)
    assert ran.code == 0, ran.stderr
    sent = _sent(server, _id_of(ran.stdout))
    assert (sent["repository"], sent["git_provider"]) == (path, provider)


def test_an_explicit_git_provider_wins_over_the_host(server: FakeOpenHandsServer) -> None:
    ran = _create(server, "--prompt", "Hi.", "--repo", "https://github.com/o/r", "--git-provider", "forgejo")
    assert ran.code == 0, ran.stderr
    assert _sent(server, _id_of(ran.stdout))["git_provider"] == "forgejo"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_repo_dot_is_the_origin_of_the_current_directory(
    server: FakeOpenHandsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "remote", "add", "origin", "git@gitlab.com:group/sub/app.git")
    (tmp_path / "deep").mkdir()
    monkeypatch.chdir(tmp_path / "deep")
    ran = _create(server, "--prompt", "Hi.", "--repo", ".")
    assert ran.code == 0, ran.stderr
    sent = _sent(server, _id_of(ran.stdout))
    assert (sent["repository"], sent["git_provider"]) == ("group/sub/app", "gitlab")


def test_repo_dot_outside_git_or_without_origin_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.chdir(outside)
    ran = invoke("create", "--base-url", "http://127.0.0.1:9", "--prompt", "Hi", "--repo", ".")
    assert ran.code == 2
    assert "not in a git repository" in _one_line_error(ran)
    _git(outside, "init", "-q")
    ran = invoke("create", "--base-url", "http://127.0.0.1:9", "--prompt", "Hi", "--repo", ".")
    assert ran.code == 2
    assert "no remote named origin" in _one_line_error(ran)


def test_a_token_in_a_repo_url_is_never_repeated() -> None:
    ran = invoke(
        "create",
        "--base-url",
        "http://127.0.0.1:9",
        "--prompt",
        "Hi",
        "--repo",
        "https://me:s3cret@github.com/x",
    )
    assert ran.code == 2
    line = _one_line_error(ran)
    assert "github.com" in line
    assert "s3cret" not in ran.stderr + ran.stdout


# ---------------------------------------------------------------------------- --json


def test_json_is_the_conversation_with_its_id(server: FakeOpenHandsServer) -> None:
    ran = _create(server, "--prompt", "Hi.", "--json")
    assert ran.code == 0, ran.stderr
    data = json.loads(ran.stdout)
    assert data["id"]
    assert data["web_url"].endswith(data["id"])
    assert data["api_version"] == _generation(server)


def test_poll_json_timeout_prints_the_last_state_and_exits_5(server: FakeOpenHandsServer) -> None:
    ran = _create(
        server,
        "--prompt",
        "Slow [fake-llm delay=60]",
        "--wait",
        "--json",
        "--timeout-s",
        "1",
        "--poll-interval-s",
        "0.1",
    )
    assert ran.code == 5, ran.stderr
    data = json.loads(ran.stdout)
    assert data["outcome"] == data["status"] == "in_progress"
    assert data["id"]
    assert data["url"].endswith(data["id"])
    assert "may still be running" in _one_line_error(ran)


# ---------------------------------------------------------------------------- the V1 start


def test_start_timeout_exits_5_naming_the_start_task_and_get_finds_it(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations="v1")
    ran = _create(
        server,
        "--prompt",
        "Hi [fake-start stuck]",
        "--start-timeout",
        "1",
        "--poll-interval-s",
        "0.2",
        "--json",
    )
    assert ran.code == 5, ran.stderr
    line = _one_line_error(ran)
    last = json.loads(ran.stdout)
    task_id = last["id"]
    assert last["outcome"] == "in_progress"
    assert last["detail"] == "WAITING_FOR_SANDBOX"
    assert f"start task {task_id} is still WAITING_FOR_SANDBOX" in line
    assert f"openhands-api get {task_id} --base-url {server.base_url}" in line
    looked = invoke("get", task_id, "--base-url", server.base_url, "--json")
    assert looked.code == 0, looked.stderr
    assert json.loads(looked.stdout)["start_task_id"] == task_id


def test_start_timeout_is_ignored_on_v0(fake_openhands_factory: Callable[..., FakeOpenHandsServer]) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations="v0")
    ran = _create(server, "--prompt", "Hi [fake-start stuck]", "--start-timeout", "1")
    assert ran.code == 0, ran.stderr  # a V0 create returns before its runtime starts


def test_a_terminal_sees_the_v1_start_task_while_it_starts(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations="v1")
    code, stdout, screen = _run_with_terminal_stderr(
        "create",
        "--base-url",
        server.base_url,
        "--prompt",
        "Hi [fake-start stuck=PREPARING_REPOSITORY]",
        "--start-timeout",
        "2",
        "--poll-interval-s",
        "0.2",
    )
    assert code == 5, screen
    assert stdout == ""
    assert b"starting 1s \xc2\xb7 preparing repository \xc2\xb7 start task " in screen
    _status, message = screen.rsplit(b"\r\x1b[2K", 1)  # the line is erased before the error
    assert message.startswith(b"error: The conversation did not start within 2s: start task ")
    assert b"openhands-api get " in message


def test_a_pipe_gets_no_start_progress(fake_openhands_factory: Callable[..., FakeOpenHandsServer]) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations="v1")
    ran = _create(server, "--prompt", "Hi.")
    assert ran.code == 0, ran.stderr
    assert ran.stderr == ""


# ---------------------------------------------------------------------------- --web


def test_web_opens_the_conversation(server: FakeOpenHandsServer) -> None:
    opened: list[str] = []
    ran = _create(
        server, "--prompt", "Hi.", "--web", seam=Seam(open_browser=lambda url: opened.append(url) or True)
    )
    assert ran.code == 0, ran.stderr
    assert opened == [ran.stdout.strip()]
    assert ran.stderr == ""


@pytest.mark.parametrize("failure", ["false", "raises"])
def test_a_browser_that_cannot_start_is_a_note(server: FakeOpenHandsServer, failure: str) -> None:
    def browser(url: str) -> bool:
        if failure == "raises":
            raise OSError("no display")
        return False

    ran = _create(server, "--prompt", "Hi.", "--web", seam=Seam(open_browser=browser), terminal=TERMINAL)
    assert ran.code == 0, ran.stderr
    url = ran.stdout.strip()
    note = ran.stderr.rsplit("\r\x1b[2K", 1)[-1]  # after a V1 start's progress line
    assert note.strip() == f"note: could not open a browser; the conversation is at {url}"


def test_ctrl_c_during_the_v1_start_names_the_start_task_to_wait_for(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations="v1")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "openhands_api",
            "create",
            "--base-url",
            server.base_url,
            "--prompt",
            "Hi [fake-start stuck]",
            "--poll-interval-s",
            "0.1",
        ],
        env={k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
        r.path.startswith("/api/v1/app-conversations/start-tasks?") for r in server.state.requests
    ):
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, err = finish(process, 30)
    assert process.returncode == 130, err
    [task_id] = list(server.state.v1.tasks)
    line = err.strip().splitlines()[-1]
    assert f"openhands-api wait {task_id} --base-url {server.base_url}" in line
