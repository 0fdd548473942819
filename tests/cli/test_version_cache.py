"""Each command is a new process: the detected API version is remembered per server for a few
minutes in the user's cache directory, so the next command does not probe again.

Probes are counted in the fake server's request log across CLI runs (subprocesses).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from openhands_api import OpenHandsAPI
from openhands_api.cli import version_cache
from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import run_cli

SESSION_KEY = "sk-session-do-not-store-0123456789"
API_KEY = "sk-api-key-do-not-store-9876543210"
PROBES = ("/api/v1/app-conversations/search?limit=1", "/api/conversations?limit=1")


def probes(server: FakeOpenHandsServer) -> int:
    return sum(1 for r in server.state.requests if r.path in PROBES)


@pytest.fixture
def cache_home(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _cache_file(cache_home: Path) -> Path:
    return cache_home / "openhands-api" / version_cache.FILE_NAME


def _get(server: FakeOpenHandsServer, cache_home: Path, conversation_id: str, **env: str) -> None:
    done = run_cli(
        "get",
        conversation_id,
        "--base-url",
        server.base_url,
        env={"XDG_CACHE_HOME": str(cache_home), "OPENHANDS_SESSION_API_KEY": SESSION_KEY, **env},
    )
    assert done.returncode == 0, done.stderr
    assert conversation_id in done.stdout


def _server(
    factory: Callable[..., FakeOpenHandsServer], generations: str = "v0"
) -> tuple[FakeOpenHandsServer, str]:
    server = factory(rate_limit=False, speed=5.0, session_api_key=SESSION_KEY, generations=generations)
    with OpenHandsAPI(
        base_url=server.base_url,
        session_api_key=SESSION_KEY,
        api_version=generations,
        throttle=False,  # type: ignore[arg-type]
    ) as api:
        conversation_id = api.create_conversation("Hi. [fake-llm steps=1]").id
    return server, conversation_id


def _write_cache(cache_home: Path, base_url: str, version: str, detected_at: float) -> None:
    path = _cache_file(cache_home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"servers": {base_url: {"api_version": version, "detected_at": detected_at}}}))


def test_the_next_command_uses_the_remembered_version(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], cache_home: Path
) -> None:
    server, conversation_id = _server(fake_openhands_factory)
    _get(server, cache_home, conversation_id, OPENHANDS_API_KEY=API_KEY)
    assert probes(server) == 2
    text = _cache_file(cache_home).read_text()
    assert json.loads(text) == {
        "servers": {server.base_url: {"api_version": "v0", "detected_at": pytest.approx(time.time(), abs=60)}}
    }
    assert SESSION_KEY not in text
    assert API_KEY not in text
    _get(server, cache_home, conversation_id)
    _get(server, cache_home, conversation_id)
    assert probes(server) == 2  # the two later commands did not probe


def test_an_expired_entry_is_detected_again(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], cache_home: Path
) -> None:
    server, conversation_id = _server(fake_openhands_factory)
    _write_cache(cache_home, server.base_url, "v0", time.time() - version_cache.TTL - 5)
    _get(server, cache_home, conversation_id)
    assert probes(server) == 2
    entry = json.loads(_cache_file(cache_home).read_text())["servers"][server.base_url]
    assert time.time() - entry["detected_at"] < version_cache.TTL  # and remembered afresh


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"servers": []}',
        '{"servers": {"URL": {"api_version": "v9", "detected_at": 1}}}',
        "",
    ],
)
def test_a_corrupt_cache_is_ignored_and_replaced(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], cache_home: Path, content: str
) -> None:
    server, conversation_id = _server(fake_openhands_factory)
    path = _cache_file(cache_home)
    path.parent.mkdir(parents=True)
    path.write_text(content.replace("URL", server.base_url))
    _get(server, cache_home, conversation_id)
    assert probes(server) == 2
    assert json.loads(path.read_text())["servers"][server.base_url]["api_version"] == "v0"


@pytest.mark.parametrize(("actual", "remembered"), [("v0", "v1"), ("v1", "v0")])
def test_a_wrong_remembered_version_detects_again_once(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], cache_home: Path, actual: str, remembered: str
) -> None:
    server, conversation_id = _server(fake_openhands_factory, generations=actual)
    _write_cache(cache_home, server.base_url, remembered, time.time())
    _get(server, cache_home, conversation_id)
    assert probes(server) == 2  # one detection, after the remembered generation's route was missing
    assert (
        json.loads(_cache_file(cache_home).read_text())["servers"][server.base_url]["api_version"] == actual
    )
    _get(server, cache_home, conversation_id)
    assert probes(server) == 2


def test_an_explicit_version_skips_detection_and_the_cache(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], cache_home: Path
) -> None:
    server, conversation_id = _server(fake_openhands_factory)
    _get(server, cache_home, conversation_id, OPENHANDS_API_VERSION="v0")
    done = run_cli(
        "get",
        conversation_id,
        "--base-url",
        server.base_url,
        "--api-version",
        "v0",
        env={"XDG_CACHE_HOME": str(cache_home), "OPENHANDS_SESSION_API_KEY": SESSION_KEY},
    )
    assert done.returncode == 0, done.stderr
    assert probes(server) == 0
    assert not _cache_file(cache_home).exists()


def test_the_cache_lives_under_home_without_xdg_cache_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert version_cache.cache_file() == tmp_path / ".cache" / "openhands-api" / version_cache.FILE_NAME
    version_cache.remember("http://localhost:3000", "v1", now=1000.0)
    assert version_cache.remembered("http://localhost:3000", now=1000.0 + version_cache.TTL - 1) == "v1"
    assert version_cache.remembered("http://localhost:3000", now=1000.0 + version_cache.TTL + 1) is None
    assert version_cache.remembered("http://localhost:3000", now=990.0) is None  # from the future
    assert version_cache.remembered("http://localhost:3001", now=1000.0) is None
    if os.name == "posix":
        assert version_cache.cache_file().parent.stat().st_mode & 0o077 == 0
