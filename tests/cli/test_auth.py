"""``auth login`` stores the Cloud key file or a profile 0600; ``auth status``/``profiles``/``logout``;
profiles are whole connections whose keys go only to their own server."""

from __future__ import annotations

import json
import os
import pty
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import run_cli

KEY = "sk-oh-login-test-key-123"


def _key_file(home: Path) -> Path:
    return home / ".openhands" / "cloud" / "api_key.txt"


def _profiles(home: Path) -> Path:
    return home / ".config" / "openhands-api" / "profiles.json"


def test_login_to_a_profile_checks_the_key_and_stores_it_owner_only(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], tmp_path: Path
) -> None:
    server = fake_openhands_factory(rate_limit=False, api_key=KEY)
    home = {"HOME": str(tmp_path)}
    done = run_cli(
        "auth", "login", "--profile", "fake", "--base-url", server.base_url, stdin=KEY + "\n", env=home
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"saved profile 'fake' for {server.base_url}")
    assert KEY not in done.stdout + done.stderr
    path = _profiles(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # The profile is a whole connection: no URL or key in the environment is needed.
    listed = run_cli("list", "--profile", "fake", "--json", env=home)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    status = run_cli("auth", "status", "--json", env={**home, "OPENHANDS_PROFILE": "fake"})
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["profile"] == "fake"
    assert info["api_key"] == "profile 'fake'"
    shown = run_cli("auth", "profiles", "--json", env=home)
    assert json.loads(shown.stdout) == [
        {"name": "fake", "base_url": server.base_url, "api_key": "set", "session_api_key": "none"}
    ]
    assert KEY not in listed.stdout + status.stdout + shown.stdout + shown.stderr


def test_a_profile_keeps_the_environment_s_cloud_key_away_from_its_server(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], tmp_path: Path
) -> None:
    server = fake_openhands_factory(rate_limit=False, session_api_key=KEY)
    home = {"HOME": str(tmp_path)}
    done = run_cli(
        "auth",
        "login",
        "--profile",
        "lab",
        "--base-url",
        server.base_url,
        "--session-key",
        stdin=KEY + "\n",
        env={**home, "OPENHANDS_API_KEY": "sk-cloud-key-never-sent-9"},
    )
    assert done.returncode == 0, done.stderr
    created = run_cli(
        "new-conversation",
        "--prompt",
        "hi",
        "--profile",
        "lab",
        env={
            **home,
            "OPENHANDS_API_KEY": "sk-cloud-key-never-sent-9",
            "OPENHANDS_BASE_URL": "http://127.0.0.1:9",
        },
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith(server.base_url + "/conversations/")
    status = run_cli(
        "auth",
        "status",
        "--profile",
        "lab",
        "--json",
        env={**home, "OPENHANDS_API_KEY": "sk-cloud-key-never-sent-9"},
    )
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["api_key"] == "none"  # no Authorization header is built
    assert json.loads(status.stdout)["session_api_key"] == "set"


def test_a_profile_and_another_base_url_are_refused(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path)}
    assert (
        run_cli(
            "auth",
            "login",
            "--profile",
            "lab",
            "--base-url",
            "http://localhost:3000",
            "--no-check",
            stdin=KEY + "\n",
            env=home,
        ).returncode
        == 0
    )
    done = run_cli("list", "--profile", "lab", "--base-url", "https://elsewhere.example", env=home)
    assert done.returncode == 2
    assert "only to its own server" in done.stderr
    assert KEY not in done.stderr


def test_an_unknown_profile_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("list", "--profile", "nope", env={"HOME": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.startswith("error: No profile named 'nope'")
    assert "Traceback" not in done.stderr


def test_login_with_a_wrong_key_stores_nothing(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], tmp_path: Path
) -> None:
    server = fake_openhands_factory(rate_limit=False, api_key=KEY)
    done = run_cli(
        "auth",
        "login",
        "--profile",
        "fake",
        "--base-url",
        server.base_url,
        stdin="sk-wrong\n",
        env={"HOME": str(tmp_path)},
    )
    assert done.returncode == 6
    assert not _profiles(tmp_path).exists()


def test_the_cloud_key_file_is_only_for_cloud(tmp_path: Path) -> None:
    done = run_cli(
        "auth", "login", "--base-url", "http://localhost:3000", stdin=KEY + "\n", env={"HOME": str(tmp_path)}
    )
    assert done.returncode == 2
    assert "--profile NAME" in done.stderr
    assert not _key_file(tmp_path).exists()


def test_logout_forgets_a_profile_and_the_key_file(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path)}
    run_cli("auth", "login", "--no-check", stdin=KEY + "\n", env=home)
    run_cli("auth", "login", "--profile", "a", "--no-check", stdin=KEY + "\n", env=home)
    assert run_cli("auth", "logout", "--profile", "a", env=home).stdout.startswith("removed profile 'a'")
    assert "nothing removed" in run_cli("auth", "logout", "--profile", "a", env=home).stdout
    assert json.loads(run_cli("auth", "profiles", "--json", env=home).stdout) == []
    assert run_cli("auth", "logout", env=home).returncode == 0
    assert not _key_file(tmp_path).exists()


def test_login_tightens_an_existing_world_readable_file(tmp_path: Path) -> None:
    path = _key_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("old")
    path.chmod(0o644)
    done = run_cli("auth", "login", "--no-check", stdin=KEY + "\n", env={"HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == KEY


def test_login_without_a_key_on_stdin_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("auth", "login", "--no-check", stdin="", env={"HOME": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.startswith("error: No key on standard input")


def test_a_world_readable_key_file_draws_a_warning(tmp_path: Path) -> None:
    path = _key_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(KEY)
    path.chmod(0o644)
    done = run_cli(
        "new-conversation",
        "--prompt",
        "hi",
        "--base-url",
        "https://app.all-hands.dev:1",
        env={"HOME": str(tmp_path)},
    )
    assert done.stderr.splitlines()[0].startswith("warning: ")
    assert "chmod 600" in done.stderr.splitlines()[0]
    assert KEY not in done.stderr + done.stdout


def test_login_on_a_terminal_asks_for_the_key_without_echoing_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    env["HOME"] = str(tmp_path)
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the CLI on a real terminal
        os.execve(sys.executable, [sys.executable, "-m", "openhands_api", "auth", "login", "--no-check"], env)
    screen = b""
    try:
        while b"API key" not in screen:
            screen += os.read(terminal, 1024)
        os.write(terminal, KEY.encode() + b"\r")
        while True:
            try:
                chunk = os.read(terminal, 1024)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 0, screen
    assert b"saved the key" in screen
    assert KEY.encode() not in screen  # the terminal never showed it
    assert _key_file(tmp_path).read_text().strip() == KEY


def test_the_default_profile_needs_no_choosing(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], tmp_path: Path
) -> None:
    server = fake_openhands_factory(rate_limit=False, session_api_key=KEY)
    home = {"HOME": str(tmp_path)}
    login = ["auth", "login", "--profile", "default", "--base-url", server.base_url, "--session-key"]
    assert run_cli(*login, stdin=KEY + "\n", env=home).returncode == 0
    listed = run_cli("list", "--json", env=home)  # no URL, no key, no profile given
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


@pytest.mark.parametrize("generation", ["v0", "v1"])
def test_status_names_the_generation_the_server_speaks(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], generation: str
) -> None:
    from tests.cli.conftest import invoke

    server = fake_openhands_factory(rate_limit=False, generations=generation, session_api_key="sk-session")
    ran = invoke(
        "auth",
        "status",
        "--json",
        "--base-url",
        server.base_url,
        env={"OPENHANDS_SESSION_API_KEY": "sk-session"},
    )
    assert ran.code == 0, ran.stderr
    info = json.loads(ran.stdout)
    assert info["api_version"] == generation
    assert info["authenticated"] is True
    assert info["session_api_key"] == "set"
    assert "sk-session" not in ran.stdout + ran.stderr
    ran = invoke("auth", "status", "--base-url", server.base_url, env={"OPENHANDS_SESSION_API_KEY": "wrong"})
    assert ran.code == 6
