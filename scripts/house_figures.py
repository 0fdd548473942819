#!/usr/bin/env python3
"""The redesign's figures (issue 9) for any revision: ``python scripts/house_figures.py REV…``.

For each revision, from git alone (nothing is checked out):

* **hand-written client lines**: client.py + aio.py while both were written by hand; once
  client.py is generated (its first line says so), aio.py + _pairs.py, the twins it uses;
* **version branches** outside the generation modules: comparisons (== / !=) with "v0" or "v1",
  by the rule of tests/unit/test_architecture.py; before the split, protocol/ops.py held both
  generations' operations and counts as a generation module;
* **the largest module** of src/openhands_api, in lines.

Run it from the repository's root, e.g. ``python scripts/house_figures.py 912ae0b HEAD``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.unit.test_architecture import GENERATION_MODULES, version_branches  # noqa: E402

PACKAGE = "src/openhands_api/"
BEFORE_THE_SPLIT = {"protocol/ops.py"}


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def modules(rev: str) -> dict[str, str]:
    names = [n for n in git("ls-tree", "-r", "--name-only", rev, PACKAGE).split() if n.endswith(".py")]
    return {name[len(PACKAGE) :]: git("show", f"{rev}:{name}") for name in names}


def figures(rev: str) -> list[str]:
    sources = modules(rev)
    lines = {name: text.count("\n") for name, text in sources.items()}
    if sources.get("client.py", "").startswith("# GENERATED FILE"):
        hand = ("aio.py", "_pairs.py")
    else:
        hand = ("client.py", "aio.py")
    skip = GENERATION_MODULES | BEFORE_THE_SPLIT
    branches = [
        f"{name}:{line}"
        for name, text in sorted(sources.items())
        if not name.startswith("testing/") and name not in skip
        for line in version_branches(text)
    ]
    largest = max(lines, key=lambda name: lines[name])
    return [
        f"hand-written client lines: {sum(lines.get(n, 0) for n in hand)} ({' + '.join(hand)})",
        f"version branches outside the generation modules: {len(branches)}"
        + (f" ({', '.join(branches)})" if branches else ""),
        f"largest module: {largest}, {lines[largest]} lines",
    ]


def main() -> None:
    for rev in sys.argv[1:] or ["HEAD"]:
        print(f"{rev} ({git('rev-parse', '--short', rev).strip()}):")
        for figure in figures(rev):
            print(f"  {figure}")


if __name__ == "__main__":
    main()
