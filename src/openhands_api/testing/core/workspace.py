"""The fake runtime's workspace: files a test seeds, served by the V0 file routes and V1 ``…/file``.

Responsible for: listing a directory the way 1.6.0's action server does (one level,
directories first with a trailing ``/``, each group sorted case-insensitively, entries
prefixed with the requested path), reading a file (text, binary, directory, missing), and
zipping the workspace (paths relative to the root, no directory entries).

Not responsible for: HTTP status codes and error bodies (``v0/routes.py``,
``core/error_bodies.py``). The real server also hides entries matched by a root ``.gitignore``;
the fake does not.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Mapping
from typing import Literal

FILES_TO_IGNORE = (".git/", ".DS_Store", "node_modules/", "__pycache__/", "lost+found/", ".vscode/")
"""Removed from listings by the real ``list-files`` route (exact matches only)."""


def normalise(path: str) -> str:
    """A workspace-relative POSIX path without leading ``/`` or ``./`` (``""`` is the root)."""
    text = posixpath.normpath("/" + path.replace("\\", "/")).lstrip("/")
    return "" if text == "." else text


class Workspace:
    """Files as a mapping of relative paths to bytes; a path ending in ``/`` is an empty directory."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def clear(self) -> None:
        self.files.clear()

    def seed(self, files: Mapping[str, str | bytes]) -> None:
        for path, content in files.items():
            key = normalise(path)
            if path.endswith("/"):
                self.files[key + "/"] = b""
            else:
                self.files[key] = content.encode() if isinstance(content, str) else bytes(content)

    def _is_dir(self, path: str) -> bool:
        if path == "":
            return True
        prefix = path + "/"
        return any(key.startswith(prefix) for key in self.files)

    def list(self, path: str | None) -> list[str]:
        base = normalise(path or "")
        if not self._is_dir(base):
            return []
        prefix = base + "/" if base else ""
        directories: set[str] = set()
        files: set[str] = set()
        for key in self.files:
            if not key.startswith(prefix):
                continue
            rest = key[len(prefix) :]
            head, sep, _ = rest.partition("/")
            if not head:
                continue
            (directories if sep else files).add(head)
        entries = sorted((d + "/" for d in directories), key=str.lower) + sorted(files, key=str.lower)
        if path:
            # The real route joins the requested path (as given) with each entry.
            return [posixpath.join(path, entry) for entry in entries]
        return [e for e in entries if e not in FILES_TO_IGNORE]

    def read(self, path: str) -> tuple[Literal["text", "binary", "directory", "missing"], str]:
        key = normalise(path)
        if key in self.files:
            data = self.files[key]
            if b"\x00" in data:
                return "binary", ""
            try:
                return "text", data.decode()
            except UnicodeDecodeError:
                return "binary", ""
        if self._is_dir(key):
            return "directory", ""
        return "missing", ""

    def zip(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for key in sorted(self.files):
                if not key.endswith("/"):
                    archive.writestr(key, self.files[key])
        return buffer.getvalue()
