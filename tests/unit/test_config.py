"""Settings precedence, URL validation and secret handling (config.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from openhands_api.config import (
    Secret,
    check_transport_security,
    normalize_base_url,
    redact,
    resolve_settings,
)
from openhands_api.errors import ConfigurationError


def test_argument_beats_environment() -> None:
    s = resolve_settings(api_key="arg", environ={"OPENHANDS_API_KEY": "env"})
    assert s.api_key is not None
    assert s.api_key.reveal() == "arg"
    assert s.api_key_source == "api_key argument"


def test_openhands_api_key_beats_cloud_api_key() -> None:
    s = resolve_settings(environ={"OPENHANDS_API_KEY": "a", "OPENHANDS_CLOUD_API_KEY": "b"})
    assert s.api_key is not None
    assert s.api_key.reveal() == "a"


def test_cloud_api_key_is_used_alone() -> None:
    s = resolve_settings(environ={"OPENHANDS_CLOUD_API_KEY": "b"})
    assert s.api_key is not None
    assert s.api_key.reveal() == "b"


def _key_file(home: Path, text: str, mode: int = 0o600) -> Path:
    path = home / ".openhands" / "cloud" / "api_key.txt"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_key_file_is_the_last_resort_for_cloud(tmp_path: Path) -> None:
    _key_file(tmp_path, "filekey\n")
    s = resolve_settings(environ={}, home=tmp_path)
    assert s.api_key is not None
    assert s.api_key.reveal() == "filekey"


def test_key_file_is_not_sent_to_a_self_hosted_server(tmp_path: Path) -> None:
    _key_file(tmp_path, "filekey")
    s = resolve_settings(base_url="http://localhost:3000", environ={}, home=tmp_path)
    assert s.api_key is None


def test_world_readable_key_file_draws_a_warning(tmp_path: Path) -> None:
    _key_file(tmp_path, "filekey", mode=0o644)
    with pytest.warns(UserWarning, match="chmod 600"):
        resolve_settings(environ={}, home=tmp_path)


def test_base_url_precedence() -> None:
    env = {"OPENHANDS_BASE_URL": "http://a:1", "OPENHANDS_CLOUD_API_URL": "http://b:2"}
    assert resolve_settings(environ=env).base_url == "http://a:1"
    assert resolve_settings(environ={"OPENHANDS_CLOUD_API_URL": "http://b:2/"}).base_url == "http://b:2"
    assert resolve_settings(environ={}).base_url == "https://app.all-hands.dev"


def test_session_key_from_environment() -> None:
    s = resolve_settings(base_url="http://localhost:3000", environ={"OPENHANDS_SESSION_API_KEY": "sk"})
    assert s.session_api_key is not None
    assert s.session_api_key.reveal() == "sk"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "localhost:3000",
        "ftp://x",
        "http://",
        "http://host:notaport",
        "http://u:p@host",
        "http://host/?q=1",
        "http://ho st",
        "http://ho\nst",
    ],
)
def test_malformed_base_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError):
        normalize_base_url(url)


def test_credentials_in_a_bad_url_are_not_echoed() -> None:
    with pytest.raises(ConfigurationError) as caught:
        normalize_base_url("ftp://user:hunter2secret@host")
    assert "hunter2secret" not in str(caught.value)


def test_a_key_with_control_characters_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(api_key="abc\ndefsecret")
    assert "defsecret" not in str(caught.value)


def test_secret_never_shows_itself() -> None:
    secret = Secret("sk-very-secret")
    assert "sk-very-secret" not in repr(secret) + str(secret) + f"{secret}" + f"{secret!r}"
    assert secret.reveal() == "sk-very-secret"


def test_plain_http_to_a_remote_host_with_a_key_is_refused() -> None:
    s = resolve_settings(api_key="k", base_url="http://example.com")
    with pytest.raises(ConfigurationError, match="plain http"):
        check_transport_security(s, allow_insecure_http=False)
    check_transport_security(s, allow_insecure_http=True)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "app.localhost"])
def test_plain_http_to_loopback_is_fine(host: str) -> None:
    check_transport_security(
        resolve_settings(api_key="k", base_url=f"http://{host}:3000"), allow_insecure_http=False
    )


def test_redaction() -> None:
    assert redact("key=sk-abcdef and sk-abcdef", ["sk-abcdef"]) == "key=*** and ***"
