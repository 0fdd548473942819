"""``auth login`` stores the key 0600; ``auth status`` and the key file are used as documented."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import run_cli

KEY = "sk-oh-login-test-key-123"


def _key_file(home: Path) -> Path:
    return home / ".openhands" / "cloud" / "api_key.txt"


def test_login_checks_the_key_and_stores_it_owner_only(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], tmp_path: Path
) -> None:
    server = fake_openhands_factory(rate_limit=False, api_key=KEY)
    done = run_cli(
        "auth", "login", "--base-url", server.base_url, stdin=KEY + "\n", env={"HOME": str(tmp_path)}
    )
    assert done.returncode == 0, done.stderr
    assert KEY not in done.stdout + done.stderr
    path = _key_file(tmp_path)
    assert path.read_text().strip() == KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_login_with_a_wrong_key_stores_nothing(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], tmp_path: Path
) -> None:
    server = fake_openhands_factory(rate_limit=False, api_key=KEY)
    done = run_cli(
        "auth", "login", "--base-url", server.base_url, stdin="sk-wrong\n", env={"HOME": str(tmp_path)}
    )
    assert done.returncode == 6
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
