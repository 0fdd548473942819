"""The benchmark suite of openhands-api: every performance goal of issue 11, printed as a ratio.

Each benchmark runs the library through its public API against the project's fake server
in its own process, interleaves library and baseline run by run, repeats, and adds rows to
one table: metric, library, baseline, ratio (median and range over the repeats), target,
met or not. Baselines are honest: bare httpx doing the same work the smart way, a tiny
``requests`` script, or the ideal from latency × requests. See ``bench/README.md``.

Run: ``python bench/run.py [--quick] [--only NAME ...]``. The exit status is 0 when every
benchmark ran (targets missed or not: this machine is shared and noisy), 1 when one failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
# This checkout's library, not an installed copy: bench/ and src/ live side by side.
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from _cases import BENCHMARKS, Context  # noqa: E402
from _harness import Row, render  # noqa: E402

TMP_PREFIX = "openhands-api-bench-"


def remove_stale_workdirs() -> None:
    """Work directories of earlier runs killed outright (SIGKILL: no cleanup could run)."""
    for path in Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*-*"):
        pid = path.name[len(TMP_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats: a smoke run")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="runs of each side (default 2 quick, 5 full)"
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    names = args.only or list(BENCHMARKS)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM: the same clean stop as Ctrl-C

    signal.signal(signal.SIGTERM, interrupt)
    rows: list[Row] = []
    failed: list[str] = []
    interrupted = False
    started = time.perf_counter()
    # Every server a benchmark starts is stopped when it ends (or fails, or Ctrl-C lands);
    # every file it writes lives in this directory, removed at the end.
    remove_stale_workdirs()
    with tempfile.TemporaryDirectory(prefix=f"{TMP_PREFIX}{os.getpid()}-") as tmp:
        for name in names:
            print(f"running {name} …", file=sys.stderr, flush=True)
            workdir = Path(tmp) / name
            workdir.mkdir()
            began = time.perf_counter()
            try:
                rows += BENCHMARKS[name](Context(quick=args.quick, repeats=repeats, tmp=workdir))
            except KeyboardInterrupt:
                interrupted = True
                print("interrupted: the table holds the benchmarks that finished", file=sys.stderr)
                break
            except Exception:
                failed.append(name)
                traceback.print_exc()
            print(f"  {name}: {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
    mode = "quick" if args.quick else "full"
    print(f"openhands-api benchmarks ({mode}, {repeats} repeats, {time.perf_counter() - started:.0f} s)\n")
    print(render(rows))
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 130 if interrupted else 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
