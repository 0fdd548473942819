"""CPU of the unified event iterator against the wire iterator, V0 and V1.

The fake server runs in its own process (its work does not count); one long conversation per
generation is made there, then this process iterates its events again and again, the
unified ``api.iter_events`` and the wire ``api.v0.iter_events`` / ``api.v1.iter_events``
interleaved run by run (alternating which goes first), and prints the CPU seconds
(``time.process_time``) of each and their ratio (median and range). ``--profile`` prints the
top of a cProfile of one unified run.

Run: ``PYTHONPATH=src python scripts/event_cpu.py [--steps 7000] [--runs 5] [--profile]``
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from openhands_api import OpenHandsAPI


@contextmanager
def fake_server(generations: str) -> Iterator[str]:
    command = [sys.executable, "-m", "openhands_api.testing", "serve", "--port", "0", "--quiet"]
    proc = subprocess.Popen(
        [*command, "--no-rate-limit", "--speed", "1000", "--generations", generations],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        yield line[line.index("http") :].split()[0]
    finally:
        proc.terminate()
        proc.wait(10)


def cpu(run: Callable[[], int]) -> tuple[float, int]:
    started = time.process_time()
    count = run()
    return time.process_time() - started, count


def measure(generation: str, steps: int, runs: int, profile: bool) -> None:
    with (
        fake_server(generation) as base_url,
        OpenHandsAPI(base_url=base_url, api_version=generation, throttle=False) as api,
    ):  # type: ignore[arg-type]
        cid = api.create_conversation(f"Work. [fake-llm steps={steps}]").id
        api.wait(cid, timeout=600)
        routes: Any = api.v0 if generation == "v0" else api.v1

        def unified() -> int:
            return sum(1 for _ in api.iter_events(cid))

        def wire() -> int:
            return sum(1 for _ in routes.iter_events(cid))

        wire()  # warm up: connection, imports, caches
        unified()
        ratios, wire_times, unified_times = [], [], []
        count = 0
        for run in range(runs):
            # Alternate which goes first, so that a neighbour's load spike hits both alike.
            if run % 2:
                u, _ = cpu(unified)
                w, count = cpu(wire)
            else:
                w, count = cpu(wire)
                u, _ = cpu(unified)
            wire_times.append(w)
            unified_times.append(u)
            ratios.append(u / w)
        print(
            f"{generation}: {count} events; wire {statistics.median(wire_times):.3f}s, "
            f"unified {statistics.median(unified_times):.3f}s CPU; ratio median "
            f"{statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f})"
        )
        if profile:
            profiler = cProfile.Profile()
            profiler.runcall(unified)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=7000, help="fake LLM steps (~3 events each)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--only", choices=("v0", "v1"))
    args = parser.parse_args()
    for generation in ("v0", "v1"):
        if args.only in (None, generation):
            measure(generation, args.steps, args.runs, args.profile)


if __name__ == "__main__":
    main()
