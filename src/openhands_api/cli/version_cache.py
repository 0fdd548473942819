"""The API version each server was last found to speak, remembered for a few minutes.

Every ``openhands-api`` command is a new process, so without this each one would probe the
server (two requests) before doing its work. The file holds, per base URL, only the version
and when it was detected: never a key, never anything from the server's answers. It lives in
the user's cache directory (``$XDG_CACHE_HOME/openhands-api/``, else ``~/.cache/…``).

A remembered version is only a presumption: the client confirms it by the first answer, and
when the server answers as if that generation's routes were not there it detects again
(``BaseClient._presume``). An entry older than ``TTL`` is ignored, and so is a file that
cannot be read or parsed; writing is best effort (a read-only home never fails a command).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

# Short: a server upgraded from V0 to V1 is found again within minutes even without the
# recovery, and a long-running script pays two probes per few minutes, not per command.
TTL = 10 * 60.0
VERSIONS = ("v0", "v1")
FILE_NAME = "api-versions.json"


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "openhands-api" / FILE_NAME


def _entries(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    servers = data.get("servers") if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        return {}
    return {url: entry for url, entry in servers.items() if isinstance(entry, dict)}


def _fresh(entry: dict[str, object], now: float) -> str | None:
    version, at = entry.get("api_version"), entry.get("detected_at")
    if version not in VERSIONS or isinstance(at, bool) or not isinstance(at, (int, float)):
        return None
    # A time in the future means the clock went back (or a forged file): not trusted.
    return str(version) if 0 <= now - at <= TTL else None


def remembered(base_url: str, *, now: float | None = None) -> str | None:
    """The version detected for ``base_url`` less than ``TTL`` ago, else None."""
    entry = _entries(cache_file()).get(base_url)
    return None if entry is None else _fresh(entry, time.time() if now is None else now)


def remember(base_url: str, version: str, *, now: float | None = None) -> None:
    """Keep ``version`` for ``base_url`` (dropping entries that have expired), atomically."""
    if version not in VERSIONS:
        return
    now = time.time() if now is None else now
    path = cache_file()
    servers: dict[str, object] = {
        url: entry for url, entry in _entries(path).items() if _fresh(entry, now) is not None
    }
    servers[base_url] = {"api_version": version, "detected_at": now}
    text = json.dumps({"servers": servers}, indent=1, sort_keys=True)
    import tempfile  # only after a detection: not on the path of a command that remembered

    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=FILE_NAME + ".", suffix=".part", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass  # a cache: a command never fails for want of one
