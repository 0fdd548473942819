"""The TypeScript client's own checks, so that one command (scripts/test) runs everything:
biome (lint), tsc over sources and tests (typecheck), and its Node test suite (``npm test``:
the shared vectors, the fake server on both generations, faults, abort), whose fake servers run
on this interpreter with this checkout's src/ first."""

from __future__ import annotations

import re

import pytest

from tests.typescript.node import npm, skip_unless_installed

skip_unless_installed()


def test_lint() -> None:
    done = npm("run", "lint")
    assert done.returncode == 0, done.stdout + done.stderr


def test_typecheck() -> None:
    done = npm("run", "typecheck")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.timeout(900)  # ~60 s alone; a loaded CI machine is slower
def test_the_node_suite_passes() -> None:
    done = npm("test", timeout=900)
    summary = dict(
        re.findall(r"^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$", done.stdout, re.MULTILINE)
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert summary.get("fail") == "0", summary
    assert summary.get("cancelled") == "0", summary
    assert int(summary.get("tests", "0")) >= 400, summary  # 421 when this was written
