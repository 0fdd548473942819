"""Profiles: named connections stored owner-only, chosen as a whole, their keys kept to their
own server."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from openhands_api import AsyncOpenHandsAPI, AuthenticationError, OpenHandsAPI
from openhands_api.config import (
    delete_profile,
    load_profiles,
    profiles_path,
    resolve_settings,
    save_profile,
)
from openhands_api.errors import ConfigurationError
from openhands_api.testing import FakeOpenHandsServer

CLOUD_KEY = "sk-cloud-key-from-env-0001"
LAB_KEY = "lab-session-key-0002"


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(home), **extra}


def test_a_saved_profile_is_owner_only_and_reads_back(tmp_path: Path) -> None:
    env = _env(tmp_path)
    path = save_profile(
        "lab", base_url="https://oh.lab.example/", session_api_key=LAB_KEY, environ=env, home=tmp_path
    )
    assert path == tmp_path / ".config" / "openhands-api" / "profiles.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    lab = load_profiles(env, tmp_path)["lab"]
    assert lab.base_url == "https://oh.lab.example"  # normalised
    assert lab.session_api_key is not None
    assert lab.session_api_key.reveal() == LAB_KEY
    assert lab.api_key is None
    assert LAB_KEY not in repr(lab)


def test_xdg_config_home_is_honoured(tmp_path: Path) -> None:
    env = _env(tmp_path / "home", XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    assert profiles_path(env) == tmp_path / "xdg" / "openhands-api" / "profiles.json"
    # A relative XDG_CONFIG_HOME is invalid by the spec and ignored.
    env["XDG_CONFIG_HOME"] = "relative"
    assert profiles_path(env) == tmp_path / "home" / ".config" / "openhands-api" / "profiles.json"


def test_saving_keeps_other_profiles_and_replaces_the_same_name(tmp_path: Path) -> None:
    env = _env(tmp_path)
    save_profile("a", base_url="http://localhost:3000", environ=env)
    save_profile("b", base_url="https://app.all-hands.dev", api_key=CLOUD_KEY, environ=env)
    save_profile("a", base_url="http://localhost:4000", environ=env)
    profiles = load_profiles(env)
    assert sorted(profiles) == ["a", "b"]
    assert profiles["a"].base_url == "http://localhost:4000"
    b_key = profiles["b"].api_key
    assert b_key is not None
    assert b_key.reveal() == CLOUD_KEY


def test_an_existing_world_readable_file_is_replaced_owner_only(tmp_path: Path) -> None:
    env = _env(tmp_path)
    path = save_profile("a", base_url="http://localhost:3000", environ=env)
    path.chmod(0o644)
    with pytest.warns(UserWarning, match="chmod 600"):
        save_profile("b", base_url="http://localhost:3001", environ=env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["profiles.json"]  # no temporary left


def test_delete_profile(tmp_path: Path) -> None:
    env = _env(tmp_path)
    save_profile("a", base_url="http://localhost:3000", environ=env)
    save_profile("b", base_url="http://localhost:3001", environ=env)
    assert delete_profile("a", env) is True
    assert delete_profile("a", env) is False
    assert sorted(load_profiles(env)) == ["b"]


@pytest.mark.parametrize("name", ["", "../x", "a/b", "-flag", "x" * 65, "sp ace", "é"])
def test_bad_profile_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigurationError, match="Invalid profile name"):
        save_profile(name, base_url="http://localhost:3000", environ=_env(tmp_path))
    assert not profiles_path(_env(tmp_path)).exists()


def test_a_chosen_profile_replaces_the_environment(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        OPENHANDS_API_KEY=CLOUD_KEY,
        OPENHANDS_BASE_URL="https://app.all-hands.dev",
        OPENHANDS_SESSION_API_KEY="env-session-key",
    )
    save_profile("lab", base_url="http://localhost:3000", session_api_key=LAB_KEY, environ=env)
    settings = resolve_settings(profile="lab", environ=env, home=tmp_path)
    assert settings.base_url == "http://localhost:3000"
    assert settings.api_key is None  # the Cloud key of the environment does not travel
    assert settings.session_api_key is not None
    assert settings.session_api_key.reveal() == LAB_KEY
    # Arguments still win.
    settings = resolve_settings(profile="lab", api_key="arg-key-0003", environ=env, home=tmp_path)
    assert settings.api_key is not None
    assert settings.api_key.reveal() == "arg-key-0003"
    assert settings.api_key_source == "api_key argument"


def test_the_key_source_names_the_profile(tmp_path: Path) -> None:
    env = _env(tmp_path)
    save_profile("cloud", base_url="https://app.all-hands.dev", api_key=CLOUD_KEY, environ=env)
    settings = resolve_settings(profile="cloud", environ=env, home=tmp_path)
    assert settings.api_key is not None
    assert settings.api_key.reveal() == CLOUD_KEY
    assert settings.api_key_source == "profile 'cloud'"


def test_a_profile_s_keys_go_only_to_its_own_server(tmp_path: Path) -> None:
    env = _env(tmp_path)
    save_profile("lab", base_url="http://localhost:3000", session_api_key=LAB_KEY, environ=env)
    # The same server, spelled with a trailing slash, is fine.
    assert resolve_settings(profile="lab", base_url="http://localhost:3000/", environ=env).session_api_key
    with pytest.raises(ConfigurationError, match="only to its own server") as caught:
        resolve_settings(profile="lab", base_url="https://evil.example", environ=env)
    assert LAB_KEY not in str(caught.value)


def test_an_unknown_profile_names_the_known_ones(tmp_path: Path) -> None:
    env = _env(tmp_path)
    with pytest.raises(ConfigurationError, match=r"known: none yet"):
        resolve_settings(profile="nope", environ=env)
    save_profile("lab", base_url="http://localhost:3000", environ=env)
    with pytest.raises(ConfigurationError, match=r"No profile named 'nope' \(known: lab\)"):
        resolve_settings(profile="nope", environ=env)


@pytest.mark.parametrize(
    "content",
    [
        "not json " + LAB_KEY,
        json.dumps([LAB_KEY]),
        json.dumps({"profiles": {"lab": {"session_api_key": LAB_KEY}}}),
        json.dumps({"profiles": {"lab": {"base_url": "http://localhost:3000", "api_key": 5}}}),
        json.dumps({"profiles": {"../x": {"base_url": "http://localhost:3000", "api_key": LAB_KEY}}}),
    ],
)
def test_a_damaged_profiles_file_is_a_clear_error_that_shows_no_key(tmp_path: Path, content: str) -> None:
    env = _env(tmp_path)
    path = profiles_path(env)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(profile="lab", environ=env)
    assert str(path) in str(caught.value) or "profile name" in str(caught.value)
    assert LAB_KEY not in str(caught.value)


def test_a_world_readable_profiles_file_draws_a_warning(tmp_path: Path) -> None:
    env = _env(tmp_path)
    path = save_profile("lab", base_url="http://localhost:3000", environ=env)
    path.chmod(0o640)
    with pytest.warns(UserWarning, match="readable by other users"):
        resolve_settings(profile="lab", environ=env)


def test_both_clients_connect_through_a_profile(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = fake_openhands_factory(rate_limit=False, session_api_key=LAB_KEY)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("OPENHANDS_BASE_URL", "http://127.0.0.1:9")  # ignored: the profile decides
    save_profile("lab", base_url=server.base_url, session_api_key=LAB_KEY)
    with OpenHandsAPI(profile="lab") as api:
        assert api.base_url == server.base_url
        assert api.list_conversations(limit=1) == []

    async def main() -> None:
        async with AsyncOpenHandsAPI(profile="lab") as api:
            assert await api.list_conversations(limit=1) == []

    asyncio.run(main())
    # Without the profile: the environment, which has no session key.
    with OpenHandsAPI(base_url=server.base_url, max_retries=0) as bare, pytest.raises(AuthenticationError):
        bare.list_conversations(limit=1)


def test_the_default_profile_ranks_below_arguments_and_environment(tmp_path: Path) -> None:
    env = _env(tmp_path)
    save_profile("default", base_url="http://localhost:3000", session_api_key=LAB_KEY, environ=env)
    # Nothing else set: the default profile is the connection.
    settings = resolve_settings(environ=env)
    assert settings.base_url == "http://localhost:3000"
    assert settings.session_api_key is not None
    assert settings.session_api_key.reveal() == LAB_KEY
    # The environment wins over it...
    settings = resolve_settings(environ={**env, "OPENHANDS_SESSION_API_KEY": "env-session-key"})
    assert settings.session_api_key is not None
    assert settings.session_api_key.reveal() == "env-session-key"
    # ...and its keys never go to another server.
    settings = resolve_settings(environ={**env, "OPENHANDS_BASE_URL": "https://elsewhere.example"})
    assert settings.base_url == "https://elsewhere.example"
    assert settings.session_api_key is None
    settings = resolve_settings(base_url="http://localhost:3000/", environ=env)
    assert settings.session_api_key is not None  # the same server, spelled differently


def test_the_default_profile_s_api_key_comes_after_the_environment_s(tmp_path: Path) -> None:
    env = _env(tmp_path)
    save_profile("default", base_url="https://app.all-hands.dev", api_key=CLOUD_KEY, environ=env)
    settings = resolve_settings(environ=env)
    assert settings.api_key is not None
    assert settings.api_key.reveal() == CLOUD_KEY
    assert settings.api_key_source == "profile 'default'"
    settings = resolve_settings(environ={**env, "OPENHANDS_API_KEY": "sk-env-key-0004"})
    assert settings.api_key is not None
    assert settings.api_key.reveal() == "sk-env-key-0004"
