"""The benchmark suite runs: ``bench/run.py --quick`` ends with status 0 and its table has a
row for every benchmark of issue 11. A smoke test only: targets are printed, never asserted
(timings on a shared machine are noise to a test)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[2] / "bench" / "run.py"
NAMES = (
    "raw_get",
    "state_read",
    "download",
    "detection",
    "wait",
    "events_cpu",
    "v1_result",
    "lost_create",
    "cli",
    "fanout",
    "stream",
    "batch",
)
# The TypeScript client's overhead runs where Node and its npm ci are (always in CI).
TYPESCRIPT = RUN.parents[1] / "typescript"
if shutil.which("node") is not None and (TYPESCRIPT / "node_modules" / "typescript").is_dir():
    NAMES = (*NAMES, "ts_overhead")


@pytest.mark.timeout(600)
def test_quick_run_prints_a_row_for_every_benchmark() -> None:
    done = subprocess.run([sys.executable, str(RUN), "--quick"], capture_output=True, text=True, timeout=580)
    assert done.returncode == 0, done.stderr[-3000:]
    table_rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    benches = {line.split("|")[1].strip() for line in table_rows[1:]}
    assert benches == set(NAMES), done.stdout
    for line in table_rows[1:]:
        # metric, library, baseline, ratio, target, met: every cell filled
        assert all(cell.strip() for cell in line.strip("|").split("|")), line


def test_unknown_benchmark_name_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, str(RUN), "--only", "nope"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "raw_get" in done.stderr
