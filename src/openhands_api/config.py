"""Where settings come from, and how secrets are kept out of sight.

Precedence (CONTRACT.md §1.3): explicit argument › environment › key file.

- API key: ``api_key=`` › ``OPENHANDS_API_KEY`` › ``OPENHANDS_CLOUD_API_KEY`` › the key file
  ``~/.openhands/cloud/api_key.txt`` written by ``openhands login`` (read only for Cloud).
- Base URL: ``base_url=`` › ``OPENHANDS_BASE_URL`` › ``OPENHANDS_CLOUD_API_URL`` › Cloud.
- Session key (self-hosted ``SESSION_API_KEY``): ``session_api_key=`` › ``OPENHANDS_SESSION_API_KEY``.

A *profile* (``profile=``; the CLI's ``--profile`` / ``OPENHANDS_PROFILE``) is a named, complete
connection kept in ``$XDG_CONFIG_HOME/openhands-api/profiles.json`` (``~/.config`` by default):
a server and its keys. When one is chosen, its values replace the environment's, and only
arguments override them: a Cloud key in ``OPENHANDS_API_KEY`` must never travel to the
profile's self-hosted server. For the same reason a profile's keys go only to its own server.
When none is chosen, the profile named ``default`` (if any) ranks below the environment:
argument › environment › profile ``default`` › key file.

Not responsible for: sending anything. This module only reads the environment and files.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ._redaction import redact
from .errors import ConfigurationError

__all__ = [
    "CLOUD_BASE_URL",
    "Profile",
    "Secret",
    "Settings",
    "delete_profile",
    "is_cloud",
    "is_loopback_host",
    "load_profiles",
    "normalize_base_url",
    "profiles_path",
    "redact",
    "resolve_settings",
    "save_key_file",
    "save_profile",
]

CLOUD_BASE_URL = "https://app.all-hands.dev"
# app.openhands.dev appeared briefly in the docs; treat it as Cloud too.
_CLOUD_HOSTS = frozenset({"app.all-hands.dev", "app.openhands.dev"})
KEY_FILE = Path(".openhands") / "cloud" / "api_key.txt"
_MAX_KEY_LENGTH = 4096
# Used when no profile is chosen, below the arguments and the environment (DESIGN.md's order).
DEFAULT_PROFILE = "default"
_PROFILE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class Secret:
    """A string that never shows itself in ``repr``, ``str``, f-strings or logs.

    ``reveal()`` is the one way to read it, used only where a header is built.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, format_spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the key into whatever the object is pickled to.
        raise TypeError("Secret values cannot be pickled")


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings. ``api_key_source`` names where the key came from."""

    base_url: str
    api_key: Secret | None
    session_api_key: Secret | None
    api_key_source: str | None

    @property
    def is_cloud(self) -> bool:
        return is_cloud(self.base_url)

    def secrets(self) -> list[str]:
        return [s.reveal() for s in (self.api_key, self.session_api_key) if s]


def normalize_base_url(url: str) -> str:
    """Validate a base URL and return it without a trailing slash.

    Accepts ``http(s)://host[:port][/prefix]``; refuses anything else with a message that
    shows what a good value looks like.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError("The base URL is empty; use e.g. https://app.all-hands.dev")
    text = url.strip()
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text) or " " in text:
        raise ConfigurationError("The base URL contains spaces or control characters")
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL" for an unbalanced "["
        raise ConfigurationError(f"The base URL {_shorten(text)!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigurationError(
            f"The base URL must start with http:// or https:// (got {_shorten(text)!r}); "
            "use e.g. https://app.all-hands.dev or http://localhost:3000"
        )
    try:
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        raise ConfigurationError(f"The base URL {_shorten(text)!r} has an invalid port") from exc
    if not host:
        raise ConfigurationError(f"The base URL {_shorten(text)!r} has no host")
    if parts.username or parts.password:
        raise ConfigurationError(
            "The base URL must not contain credentials",
            remedy="Pass the key with {api_key} or set OPENHANDS_API_KEY",
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(f"The base URL {_shorten(text)!r} must not have a query or fragment")
    return text.rstrip("/")


def is_cloud(base_url: str) -> bool:
    """True for OpenHands Cloud, which speaks only V1 and always needs a Bearer key."""
    host = urlsplit(base_url).hostname or ""
    return host in _CLOUD_HOSTS


def is_loopback_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _clean_key(value: str | None, source: str) -> str | None:
    if value is None:
        return None
    key = value.strip()
    if not key:
        return None
    if len(key) > _MAX_KEY_LENGTH or any(ord(c) < 0x21 or ord(c) > 0x7E for c in key):
        # Never echo the value: it may be a real key with a stray character.
        raise ConfigurationError(f"The API key from {source} contains characters a key cannot have")
    return key


def _read_key_file(home: Path) -> str | None:
    return _read_private_file(home / KEY_FILE)


def resolve_settings(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    session_api_key: str | None = None,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Settings:
    """Resolve the settings by the precedence in the module docstring."""
    env = os.environ if environ is None else environ
    home_dir = home if home is not None else Path(env.get("HOME") or Path.home())
    if profile is not None:
        return _profile_settings(profile, api_key, base_url, session_api_key, env, home_dir)
    default = load_profiles(env, home_dir).get(DEFAULT_PROFILE)
    url = normalize_base_url(
        base_url
        or env.get("OPENHANDS_BASE_URL")
        or env.get("OPENHANDS_CLOUD_API_URL")
        or (default.base_url if default else CLOUD_BASE_URL)
    )
    if default is not None and default.base_url != url:
        default = None  # its keys are for its own server only
    key: str | None = None
    source: str | None = None
    for name, value in (
        ("api_key argument", api_key),
        ("OPENHANDS_API_KEY", env.get("OPENHANDS_API_KEY")),
        ("OPENHANDS_CLOUD_API_KEY", env.get("OPENHANDS_CLOUD_API_KEY")),
        (f"profile {DEFAULT_PROFILE!r}", default.api_key.reveal() if default and default.api_key else None),
    ):
        key = _clean_key(value, name)
        if key:
            source = name
            break
    session = _clean_key(
        session_api_key if session_api_key is not None else env.get("OPENHANDS_SESSION_API_KEY"),
        "the session key",
    )
    if session is None and default is not None and default.session_api_key:
        session = default.session_api_key.reveal()
    return _settings(url, key, source, session, home_dir)


def _profile_settings(
    name: str,
    api_key: str | None,
    base_url: str | None,
    session_api_key: str | None,
    env: Mapping[str, str],
    home: Path,
) -> Settings:
    profiles = load_profiles(environ=env, home=home)
    chosen = profiles.get(name)
    if chosen is None:
        known = ", ".join(sorted(profiles)) or "none yet"
        raise ConfigurationError(
            f"No profile named {_shorten(name, 64)!r} (known: {known}); "
            f"create it with: openhands-api auth login --profile {_shorten(name, 64)} --base-url URL"
        )
    url = normalize_base_url(base_url) if base_url else chosen.base_url
    if url != chosen.base_url:
        raise ConfigurationError(
            f"Profile {name!r} is for {chosen.base_url}, not {_shorten(url)}; a profile's keys go "
            "only to its own server: drop the profile or the base URL"
        )
    key = _clean_key(api_key, "api_key argument")
    source = "api_key argument" if key else None
    if key is None and chosen.api_key:
        key, source = chosen.api_key.reveal(), f"profile {name!r}"
    session = _clean_key(session_api_key, "the session key")
    if session is None and chosen.session_api_key:
        session = chosen.session_api_key.reveal()
    return _settings(url, key, source, session, home)


def _settings(url: str, key: str | None, source: str | None, session: str | None, home: Path) -> Settings:
    if key is None and is_cloud(url):
        key = _clean_key(_read_key_file(home), str(home / KEY_FILE))
        if key:
            source = str(home / KEY_FILE)
    return Settings(
        base_url=url,
        api_key=Secret(key) if key else None,
        session_api_key=Secret(session) if session else None,
        api_key_source=source,
    )


@dataclass(frozen=True)
class Profile:
    """A named connection: a server and the keys for it (kept as :class:`Secret`)."""

    name: str
    base_url: str
    api_key: Secret | None = None
    session_api_key: Secret | None = None


def profiles_path(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """``$XDG_CONFIG_HOME/openhands-api/profiles.json``, ``~/.config/...`` when that is unset."""
    env = os.environ if environ is None else environ
    home_dir = home if home is not None else Path(env.get("HOME") or Path.home())
    config_home = env.get("XDG_CONFIG_HOME") or ""
    base = Path(config_home) if os.path.isabs(config_home) else home_dir / ".config"
    return base / "openhands-api" / "profiles.json"


def _check_profile_name(name: str) -> str:
    if not isinstance(name, str) or not _PROFILE_NAME_RE.fullmatch(name):
        raise ConfigurationError(
            f"Invalid profile name {_shorten(str(name), 64)!r}: use letters, digits, '.', '_' or '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return name


def load_profiles(environ: Mapping[str, str] | None = None, home: Path | None = None) -> dict[str, Profile]:
    """Every stored profile by name; none when the file does not exist."""
    path = profiles_path(environ, home)
    text = _read_private_file(path)
    if text is None:
        return {}
    bad = ConfigurationError(
        f"The profiles file {path} is not what openhands-api writes; fix it or delete it "
        "and log in again (openhands-api auth login --profile NAME)"
    )
    try:
        data = json.loads(text)
    except ValueError:
        raise bad from None
    entries = data.get("profiles") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise bad
    profiles: dict[str, Profile] = {}
    for name, entry in entries.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("base_url"), str):
            raise bad
        keys = [entry.get(field) for field in ("api_key", "session_api_key")]
        if any(value is not None and not isinstance(value, str) for value in keys):
            raise bad
        api_key, session = (_clean_key(value, f"profile {name!r} in {path}") for value in keys)
        profiles[_check_profile_name(name)] = Profile(
            name=name,
            base_url=normalize_base_url(entry["base_url"]),
            api_key=Secret(api_key) if api_key else None,
            session_api_key=Secret(session) if session else None,
        )
    return profiles


def save_profile(
    name: str,
    *,
    base_url: str,
    api_key: str | None = None,
    session_api_key: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Path:
    """Create or replace a profile. The file is rewritten atomically and owner-only (0600)."""
    _check_profile_name(name)
    api, session = (
        _clean_key(value, f"the {label} given")
        for label, value in (("api key", api_key), ("session api key", session_api_key))
    )
    new = Profile(
        name=name,
        base_url=normalize_base_url(base_url),
        api_key=Secret(api) if api else None,
        session_api_key=Secret(session) if session else None,
    )
    others = [other for other in load_profiles(environ, home).values() if other.name != name]
    return _store_profiles([*others, new], environ, home)


def delete_profile(name: str, environ: Mapping[str, str] | None = None, home: Path | None = None) -> bool:
    """Remove a profile; False when there was none by that name."""
    profiles = load_profiles(environ, home)
    if name not in profiles:
        return False
    _store_profiles([other for other in profiles.values() if other.name != name], environ, home)
    return True


def _store_profiles(
    profiles: Iterable[Profile], environ: Mapping[str, str] | None, home: Path | None
) -> Path:
    """Rewrite the profiles file to hold exactly ``profiles``."""
    path = profiles_path(environ, home)
    entries = {profile.name: _profile_entry(profile) for profile in profiles}
    _write_private_file(path, json.dumps({"profiles": entries}, indent=2, sort_keys=True) + "\n")
    return path


def _profile_entry(profile: Profile) -> dict[str, str]:
    entry = {"base_url": profile.base_url}
    if profile.api_key:
        entry["api_key"] = profile.api_key.reveal()
    if profile.session_api_key:
        entry["session_api_key"] = profile.session_api_key.reveal()
    return entry


def _read_private_file(path: Path) -> str | None:
    """A file holding secrets: None when absent, a warning when others can read it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.warn(f"{path} is readable by other users; run: chmod 600 {path}", stacklevel=4)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"Could not read {path}: {type(exc).__name__}") from exc


def _write_private_file(path: Path, text: str) -> None:
    """Write a file readers other than its owner never see, not even half-written.

    The directory is made 0700; the content goes to a 0600 temporary file in it (mkstemp's
    mode) that then replaces the old file in one rename.
    """
    path.parent.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_key_file(api_key: str, home: Path | None = None) -> Path:
    """Store the key where ``resolve_settings`` (and the OpenHands CLI) look for it, owner-only."""
    key = _clean_key(api_key, "the key given")
    if not key:
        raise ConfigurationError("The API key is empty")
    path = (home if home is not None else Path.home()) / KEY_FILE
    _write_private_file(path, key + "\n")
    return path


def check_transport_security(settings: Settings, *, allow_insecure_http: bool) -> None:
    """Refuse to send a key in clear text to another machine unless the user said so."""
    parts = urlsplit(settings.base_url)
    if parts.scheme != "http" or allow_insecure_http:
        return
    if (settings.api_key or settings.session_api_key) and not is_loopback_host(parts.hostname or ""):
        raise ConfigurationError(
            f"Refusing to send an API key over plain http:// to {parts.hostname}",
            remedy="Use https://, or pass {allow_insecure_http:True} if this network is trusted",
        )


_USERINFO_RE = re.compile(r"//[^/@]*@")


def _shorten(text: str, limit: int = 80) -> str:
    """A URL fit for an error message: credentials masked, length capped."""
    text = _USERINFO_RE.sub("//***@", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
