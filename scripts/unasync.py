#!/usr/bin/env python3
"""Generate the sync client (src/openhands_api/client.py) from the async one (aio.py).

    python scripts/unasync.py           # write client.py
    python scripts/unasync.py --check   # exit 1 and print a diff if client.py is stale

aio.py is the only hand-written client. Every rule below is a plain renaming that holds
everywhere in the file (code, comments and docstrings alike); where the two clients differ in
more than names, aio.py calls an ``async_*`` / ``ASYNC_*`` member of _pairs.py, whose plain
twin the renaming picks for client.py. Keep it that way: no rule here names one line or one
method. The result is formatted with ``ruff format`` (the project's settings), so client.py is
format-clean as written; ``--check`` compares against that formatted text.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "openhands_api" / "aio.py"
TARGET = ROOT / "src" / "openhands_api" / "client.py"

HEADER = (
    "# GENERATED FILE, DO NOT EDIT BY HAND: written from src/openhands_api/aio.py by\n"
    "# scripts/unasync.py. Edit aio.py, then run `python scripts/unasync.py`.\n\n"
)

# (pattern, replacement), applied in order. Identifiers are matched on word boundaries.
RULES: list[tuple[str, str]] = [
    # syntax
    (r"\basync def\b", "def"),
    (r"\basync for\b", "for"),
    (r"\basync with\b", "with"),
    (r"\bawait ", ""),
    # the async dunders and httpx's a-prefixed methods
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\b__anext__\b", "__next__"),
    (r"\baclose\b", "close"),
    (r"\baread\b", "read"),
    (r"\baiter_bytes\b", "iter_bytes"),
    (r"\baiter_raw\b", "iter_raw"),
    # names: AsyncOpenHandsAPI, AsyncV0Routes, httpx.AsyncClient, AsyncIterator … lose "Async";
    # the _pairs.py twins lose "async_" / "ASYNC_"
    (r"\bAsync(?=[A-Z])", ""),
    (r"\basync_(?=\w)", ""),
    (r"\bASYNC_(?=\w)", ""),
]
_COMPILED = [(re.compile(pattern), replacement) for pattern, replacement in RULES]


def unasync(text: str) -> str:
    """The rules applied to ``text`` (no header, not formatted)."""
    for pattern, replacement in _COMPILED:
        text = pattern.sub(replacement, text)
    return text


def _ruff() -> list[str]:
    """The ruff command: the one beside this Python (a venv's), else on PATH."""
    here = Path(sys.executable).parent
    found = shutil.which("ruff", path=os.pathsep.join([str(here), os.environ.get("PATH", "")]))
    if found is None:
        sys.exit("unasync: ruff is needed to format client.py (pip install -e '.[dev]')")
    return [found]


def ruff_format(text: str, filename: Path) -> str:
    """``text`` as ``ruff format`` writes it, with the project's settings for ``filename``."""
    done = subprocess.run(
        [*_ruff(), "format", "--stdin-filename", str(filename), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"unasync: ruff format failed:\n{done.stderr}")
    return done.stdout


def generate(source: Path = SOURCE) -> str:
    """The text client.py should have (formatted with the settings that apply to client.py)."""
    return ruff_format(HEADER + unasync(source.read_text(encoding="utf-8")), TARGET)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 with a diff if stale")
    parser.add_argument("--source", type=Path, default=SOURCE, help="the async module (default: aio.py)")
    parser.add_argument("--target", type=Path, default=TARGET, help="the sync module (default: client.py)")
    args = parser.parse_args(argv)

    expected = generate(args.source)
    current = args.target.read_text(encoding="utf-8") if args.target.exists() else ""
    if not args.check:
        if current != expected:
            args.target.write_text(expected, encoding="utf-8")
            print(f"unasync: wrote {args.target}")
        return 0
    if current == expected:
        return 0
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        expected.splitlines(keepends=True),
        fromfile=f"{args.target} (as it is)",
        tofile=f"{args.target} (as scripts/unasync.py generates it)",
    )
    sys.stdout.writelines(diff)
    print(f"\nunasync: {args.target} is stale; run `python scripts/unasync.py` (never edit it by hand)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
