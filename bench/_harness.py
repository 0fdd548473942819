"""The benchmark suite's machinery: fake servers in their own processes, meters that count
requests and response bytes on the wire, interleaved repeats, and the table.

Nothing here knows a benchmark; ``_cases.py`` holds those. Every figure of a row is measured
in the same run as its baseline, against the same server, so machine speed and noise mostly
cancel out in the ratio.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src"


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a process the suite starts: this checkout's ``src`` first on the
    path (so the fake and the library measured are the ones of this worktree), no
    ``OPENHANDS_*`` settings of the user's leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


# ------------------------------------------------------------------------------ the fake server
def _die_with_parent() -> None:
    """In the child before exec (Linux): the kernel sends SIGTERM when the suite's process
    dies, even by SIGKILL (a test's timeout), which no ``finally`` survives."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class FakeServer:
    """``python -m openhands_api.testing serve ARGS`` in its own process, so its work does not
    share the benchmark's GIL. Always stopped: ``stop()`` is idempotent and also runs from the
    suite's exit stack on an error or Ctrl-C."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.process = subprocess.Popen(
            [sys.executable, "-m", "openhands_api.testing", "serve", "--port", "0", "--quiet", *args],
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
            preexec_fn=_die_with_parent,
        )
        try:
            assert self.process.stdout is not None
            line = self.process.stdout.readline().strip()
            if not line.startswith("http"):
                raise RuntimeError(f"the fake server did not start (serve {' '.join(args)}): {line!r}")
            self.base_url = line
            self.control = httpx.Client(base_url=self.base_url, timeout=60)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        control = getattr(self, "control", None)
        if control is not None:
            control.close()

    # --- the fake's control routes (``/_fake/``)
    def state(self) -> dict[str, Any]:
        return self.control.get("/_fake/state").raise_for_status().json()  # type: ignore[no-any-return]

    def advance(self, seconds: float) -> None:
        self.control.post("/_fake/clock/advance", json={"seconds": seconds}).raise_for_status()

    def add_fault(self, rule: dict[str, Any]) -> int:
        return int(self.control.post("/_fake/faults", json=rule).raise_for_status().json()["id"])

    def reset(self) -> None:
        self.control.post("/_fake/reset").raise_for_status()

    def v0_summary(self, conversation_id: str) -> dict[str, Any]:
        for summary in self.state()["conversations"]:
            if summary["conversation_id"] == conversation_id:
                return summary  # type: ignore[no-any-return]
        raise KeyError(conversation_id)

    def create_v0(self, prompt: str) -> str:
        """A V0 conversation created with a bare POST (not through the library measured)."""
        answer = self.control.post("/api/conversations", json={"initial_user_msg": prompt})
        return str(answer.raise_for_status().json()["conversation_id"])

    def grow_v0(self, conversation_id: str, events: int) -> int:
        """Move a manual clock until the conversation has at least ``events`` events (its turn
        must ask for enough steps); returns how many it has."""
        config = self.state()["config"]
        step = config["step_delay"] / config["speed"]
        have = self.v0_summary(conversation_id)["events"]
        if have == 0 or self.v0_summary(conversation_id)["status"] != "RUNNING":
            self.advance(config["startup_delay"] / config["speed"] + 1e-6)
            have = self.v0_summary(conversation_id)["events"]
        while have < events:
            steps = max(1, (events - have + 1) // 2)  # each agent step appends two events
            self.advance(steps * step + 1e-6)
            have = self.v0_summary(conversation_id)["events"]
        return int(have)


@contextlib.contextmanager
def fake_server(*args: str) -> Iterator[FakeServer]:
    server = FakeServer(*args)
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------------------ meters
@dataclass
class Meter:
    """Requests sent and response-body bytes received (as on the wire: before decoding)."""

    requests: int = 0
    bytes: int = 0

    def zero(self) -> None:
        self.requests = self.bytes = 0


class _CountedStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, meter: Meter) -> None:
        self._inner, self._meter = inner, meter

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._meter.bytes += len(chunk)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class _AsyncCountedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, meter: Meter) -> None:
        self._inner, self._meter = inner, meter

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._meter.bytes += len(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class CountingTransport(httpx.BaseTransport):
    """httpx's own transport, counting every attempt (answered or not) and the body bytes as
    they stream in: the library (``transport=``) and the baselines are measured alike, and a
    streamed download is not buffered by the measuring."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.meter.requests += 1
        response = self._inner.handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_CountedStream(response.stream, self.meter),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._inner.close()


class AsyncCountingTransport(httpx.AsyncBaseTransport):
    def __init__(self, meter: Meter, **kwargs: Any) -> None:
        self.meter = meter
        self._inner = httpx.AsyncHTTPTransport(**kwargs)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.meter.requests += 1
        response = await self._inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_AsyncCountedStream(response.stream, self.meter),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def peak_memory(fn: Callable[[], object]) -> float:
    """Peak Python memory (MiB) ``fn`` allocates above what was allocated before it
    (tracemalloc; a separate, untimed run, since tracing slows allocation down)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return max(0, peak - before) / 2**20


def timed(fn: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> float:
    start = clock()
    fn()
    return clock() - start


def interleave(
    repeats: int, library: Callable[[], float], baseline: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Run the two ``repeats`` times each, alternating run by run (and which goes first, so
    neither always runs on the warmer machine): A B B A A B …"""
    lib: list[float] = []
    base: list[float] = []
    for index in range(repeats):
        if index % 2 == 0:
            lib.append(library())
            base.append(baseline())
        else:
            base.append(baseline())
            lib.append(library())
    return lib, base


# ------------------------------------------------------------------------------ the table
@dataclass
class Row:
    """One printed line: a metric of the library next to its baseline.

    ``on="ratio"``: the target applies to the median of the per-repeat ratios library/baseline;
    ``on="library"``: to the library's median value itself (counts such as requests).
    ``limit`` None: printed for information, no target.
    """

    bench: str
    metric: str
    unit: str
    library: Sequence[float]
    baseline: Sequence[float]
    baseline_name: str
    limit: float | None = None
    on: str = "ratio"
    note: str = ""
    ratios: list[float] = field(init=False)

    def __post_init__(self) -> None:
        self.ratios = [
            a / b if b else float("inf") for a, b in zip(self.library, self.baseline, strict=False)
        ]

    @property
    def judged(self) -> float:
        return statistics.median(self.ratios) if self.on == "ratio" else statistics.median(self.library)

    @property
    def target(self) -> str:
        if self.limit is None:
            return "-"
        return f"≤ {self.limit:g}×" if self.on == "ratio" else f"≤ {self.limit:g} {self.unit}"

    @property
    def met(self) -> str:
        if self.limit is None:
            return "-"
        return "yes" if self.judged <= self.limit else "NO"


def _value(values: Sequence[float], unit: str) -> str:
    value = statistics.median(values)
    if unit == "B":
        for scale, name in ((2**20, "MiB"), (2**10, "KiB")):
            if value >= scale:
                return f"{value / scale:.1f} {name}"
        return f"{value:.0f} B"
    if unit == "s":
        return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s"
    if unit in ("requests", "polls"):
        if value != int(value):
            return f"{value:.1f} {unit}"
        return f"{value:.0f} {unit if value != 1 else unit[:-1]}"
    return f"{value:.2f} {unit}"


def _ratio(ratios: Sequence[float]) -> str:
    median = statistics.median(ratios)
    low, high = min(ratios), max(ratios)
    if len(ratios) == 1 or high - low < 0.005:
        return f"{median:.2f}×"
    return f"{median:.2f}× [{low:.2f}–{high:.2f}]"


def render(rows: Sequence[Row]) -> str:
    header = ("bench", "metric", "library", "baseline", "ratio (median [range])", "target", "met")
    lines = [
        (
            row.bench,
            row.metric,
            _value(row.library, row.unit),
            f"{_value(row.baseline, row.unit)} ({row.baseline_name})",
            _ratio(row.ratios),
            row.target,
            row.met,
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [fmt(cells) for cells in lines]
    notes = [f"- {row.bench} / {row.metric}: {row.note}" for row in rows if row.note]
    return "\n".join(out + (["", *notes] if notes else []))
