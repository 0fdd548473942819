"""The benchmarks of issue 11, one function per NAME, each returning its table rows.

Every benchmark starts the fake server it needs (its own process, stopped when it ends) and
calls the library through its public API only: ``OpenHandsAPI``/``AsyncOpenHandsAPI`` and the
``openhands-api`` command. Where the fake runs without its rate limiter, the library runs
with ``throttle=False`` too, so both sides send as fast as the work allows.
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _harness import (
    CountingTransport,
    FakeServer,
    Meter,
    Row,
    child_env,
    fake_server,
    interleave,
    peak_memory,
    timed,
)

from openhands_api import AsyncOpenHandsAPI, OpenHandsAPI, OpenHandsError
from openhands_api.protocol.generation import CLOCK_MARGIN

NO_LIMIT = "--no-rate-limit"
FIRST_CALLS = Path(__file__).with_name("_first_calls.py")
ENDLESS = "Keep going. [fake-llm steps=1000000]"
"""A first turn that runs for as long as a benchmark moves the manual clock."""


@dataclass
class Context:
    quick: bool
    repeats: int
    tmp: Path

    def size(self, quick: int, full: int) -> int:
        return quick if self.quick else full


def _sync_api(base_url: str, meter: Meter | None = None, **options: Any) -> OpenHandsAPI:
    options.setdefault("api_version", "v0")
    options.setdefault("throttle", False)
    transport = CountingTransport(meter) if meter is not None else None
    return OpenHandsAPI(base_url=base_url, transport=transport, **options)


def _raw(base_url: str, meter: Meter | None = None) -> httpx.Client:
    transport = CountingTransport(meter) if meter is not None else None
    return httpx.Client(base_url=base_url, transport=transport, timeout=60)


# ------------------------------------------------------------------------------ 1. raw_get
def raw_get(ctx: Context) -> list[Row]:
    n = ctx.size(50, 300)
    with fake_server(NO_LIMIT) as server:
        conversation_id = server.create_v0("Overhead probe.")
        path = f"/api/conversations/{conversation_id}"
        with _sync_api(server.base_url) as api, _raw(server.base_url) as raw:
            for _ in range(20):  # warm-up: connections, imports, caches
                api.v0.get_conversation(conversation_id)
                json.loads(raw.get(path).content)

            def library() -> float:
                def run() -> None:
                    for _ in range(n):
                        api.v0.get_conversation(conversation_id)

                return timed(run) / n

            def baseline() -> float:
                def run() -> None:
                    for _ in range(n):
                        json.loads(raw.get(path).content)

                return timed(run) / n

            lib, base = interleave(ctx.repeats * 2, library, baseline)
    return [
        Row(
            "raw_get",
            f"api.v0.get_conversation, time per call ({n} calls a run)",
            "s",
            lib,
            base,
            "httpx GET + json.loads",
            limit=1.10,
        ),
    ]


# ------------------------------------------------------------------------------ 2. state_read
def state_read(ctx: Context) -> list[Row]:
    small, large = ctx.size(2_000, 10_000), ctx.size(4_000, 20_000)
    rows: list[Row] = []
    with fake_server(NO_LIMIT, "--manual-clock") as server:
        conversation_id = server.create_v0(ENDLESS)
        path = f"/api/conversations/{conversation_id}"
        measured: dict[tuple[str, int], dict[str, list[float]]] = {}
        for events in (small, large):
            server.grow_v0(conversation_id, events)
            for name in ("get_conversation", "result"):

                def read(meter: Meter | None = None, name: str = name) -> None:
                    with _sync_api(server.base_url, meter) as api:  # a fresh client: a first read
                        getattr(api, name)(conversation_id)

                def raw_read(meter: Meter | None = None) -> None:
                    with _raw(server.base_url, meter) as raw:
                        json.loads(raw.get(path).content)

                figures: dict[str, list[float]] = {k: [] for k in ("req", "bytes", "breq", "bbytes")}

                def library(
                    figures: dict[str, list[float]] = figures, read: Callable[..., None] = read
                ) -> float:
                    meter = Meter()
                    seconds = timed(lambda: read(meter))
                    figures["req"].append(meter.requests)
                    figures["bytes"].append(meter.bytes)
                    return seconds

                def baseline(figures: dict[str, list[float]] = figures) -> float:
                    meter = Meter()
                    seconds = timed(lambda: raw_read(meter))
                    figures["breq"].append(meter.requests)
                    figures["bbytes"].append(meter.bytes)
                    return seconds

                lib_s, base_s = interleave(ctx.repeats, library, baseline)
                figures["mem"], figures["bmem"] = [peak_memory(read)], [peak_memory(raw_read)]
                measured[(name, events)] = figures
                label = f"{name}, running first turn of {events // 1000}k events"
                rows += [
                    Row(
                        "state_read",
                        f"{label}: requests",
                        "requests",
                        figures["req"],
                        figures["breq"],
                        "one raw GET",
                        limit=2,
                        on="library",
                    ),
                    Row(
                        "state_read",
                        f"{label}: bytes",
                        "B",
                        figures["bytes"],
                        figures["bbytes"],
                        "one raw GET",
                    ),
                    Row("state_read", f"{label}: time", "s", lib_s, base_s, "one raw GET"),
                    Row(
                        "state_read",
                        f"{label}: peak memory (1 run)",
                        "MiB",
                        figures["mem"],
                        figures["bmem"],
                        "one raw GET",
                    ),
                ]
        for name in ("get_conversation", "result"):
            rows.append(
                Row(
                    "state_read",
                    f"{name}: bytes at {large // 1000}k / bytes at {small // 1000}k events",
                    "B",
                    measured[(name, large)]["bytes"],
                    measured[(name, small)]["bytes"],
                    f"same call at {small // 1000}k",
                    limit=1.10,
                )
            )

    # 20 reads by one client while a first turn grows to `large` events
    reads = 20
    with fake_server(NO_LIMIT, "--manual-clock") as server:
        conversation_id = server.create_v0(ENDLESS)
        path = f"/api/conversations/{conversation_id}"
        server.grow_v0(conversation_id, 1)
        meter, raw_meter = Meter(), Meter()
        first = server.v0_summary(conversation_id)["events"]
        with _sync_api(server.base_url, meter) as api, _raw(server.base_url, raw_meter) as raw:
            for index in range(1, reads + 1):
                server.grow_v0(conversation_id, first + (large - first) * index // reads)
                api.get_conversation(conversation_id)
                json.loads(raw.get(path).content)
    rows += [
        Row(
            "state_read",
            f"{reads} get_conversation by one client while a turn grows to {large // 1000}k: requests",
            "requests",
            [meter.requests],
            [raw_meter.requests],
            f"{reads} raw GETs",
            limit=2 * reads,
            on="library",
        ),
        Row(
            "state_read",
            f"{reads} get_conversation by one client while a turn grows to {large // 1000}k: bytes",
            "B",
            [meter.bytes],
            [raw_meter.bytes],
            f"{reads} raw GETs",
        ),
    ]
    return rows


# ------------------------------------------------------------------------------ 3. download
def download(ctx: Context) -> list[Row]:
    events = ctx.size(4_000, 20_000)
    steps = events // 2
    with fake_server(NO_LIMIT, "--manual-clock") as server:
        conversation_id = server.create_v0(f"Long history. [fake-llm steps={steps}]")
        server.grow_v0(conversation_id, 2 * steps)
        server.advance(1.0)  # past the finish
        target = ctx.tmp / "download.json"
        path = f"/api/conversations/{conversation_id}/trajectory"
        meter = Meter()

        def library_run() -> None:
            with _sync_api(server.base_url, meter) as api:
                api.download_history(conversation_id, target)

        def baseline_run() -> None:
            with _raw(server.base_url) as raw, raw.stream("GET", path) as answer, target.open("wb") as out:
                for chunk in answer.iter_raw():
                    out.write(chunk)

        size = []

        def library() -> float:
            seconds = timed(library_run)
            size.append(target.stat().st_size)
            json.loads(target.read_bytes())  # the file is a valid JSON document
            target.unlink()
            return seconds

        def baseline() -> float:
            seconds = timed(baseline_run)
            target.unlink()
            return seconds

        library_run()  # warm-up (imports, the server's first serialisation)
        target.unlink()
        lib_s, base_s = interleave(ctx.repeats, library, baseline)
        lib_mem, base_mem = peak_memory(library_run), peak_memory(baseline_run)
        target.unlink(missing_ok=True)
    label = f"download_history of {events // 1000}k events ({statistics_mib(size)})"
    return [
        Row(
            "download", f"{label}: time", "s", lib_s, base_s, "httpx streaming the body to a file", limit=1.5
        ),
        Row(
            "download",
            f"{label}: peak memory added (1 run)",
            "MiB",
            [lib_mem],
            [base_mem],
            "httpx streaming",
            limit=10,
            on="library",
        ),
    ]


def statistics_mib(sizes: list[int]) -> str:
    return f"{max(sizes) / 2**20:.1f} MiB file" if sizes else "no file"


# ------------------------------------------------------------------------------ 4. detection
def detection(ctx: Context) -> list[Row]:
    width = 10
    # The fake's limiter as the real server's: 10 requests a second per client address, 10
    # more held for a second, then 429 (the serve default). The library keeps its default
    # throttle, which mirrors that limiter.
    with fake_server() as server:
        requests: dict[str, list[float]] = {"auto": [], "v0": []}

        runs = iter(range(10**6))

        def fan_out(version: str) -> float:
            """One run in a process and a home of its own: the calls are really the first."""
            time.sleep(1.2)  # a fresh limiter window for every run
            home = ctx.tmp / f"home-{next(runs)}"
            home.mkdir()
            env = child_env(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
                            XDG_CACHE_HOME=str(home / ".cache"))  # fmt: skip
            argv = [sys.executable, str(FIRST_CALLS), server.base_url, version, str(width)]
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise RuntimeError(f"first calls ({version}) failed: {done.stderr.strip()[-800:]}")
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            requests[version].append(figures["requests"])
            return float(figures["seconds"])

        lib, base = interleave(ctx.repeats, lambda: fan_out("auto"), lambda: fan_out("v0"))
    return [
        Row(
            "detection",
            f"{width} concurrent first create_conversation, api_version=auto: time",
            "s",
            lib,
            base,
            'api_version="v0"',
            limit=1.2,
        ),
        Row(
            "detection",
            f"{width} concurrent first create_conversation: requests",
            "requests",
            requests["auto"],
            requests["v0"],
            'api_version="v0"',
        ),
    ]


# ------------------------------------------------------------------------------ 5. wait
TERMINAL_AGENT_STATES = {"finished", "awaiting_user_input", "error", "stopped", "rejected", "rate_limited"}


def wait(ctx: Context) -> list[Row]:
    # `delay` holds each agent step, so polls that find nothing new (idle polls) are part of
    # the mix: a busy agent (a step every 2.5 polls) and a thinking one (one long step)
    rows: list[Row] = []
    with fake_server(NO_LIMIT) as server:
        rows += _wait_rows(ctx, server, steps=ctx.size(4, 16), pause=0.25)
        rows += _wait_rows(ctx, server, steps=1, pause=ctx.size(8, 20) / 10)
    return rows


def _wait_rows(ctx: Context, server: FakeServer, *, steps: int, pause: float) -> list[Row]:
    poll = 0.1
    prompt = f"Think slowly. [fake-llm steps={steps} delay={pause}]"
    per_poll: dict[str, list[float]] = {"lib_req": [], "base_req": [], "lib_polls": [], "base_polls": []}

    def library() -> float:
        conversation_id = server.create_v0(prompt)
        meter = Meter()
        polls = 1  # on_progress reports every poll but the last

        def progress(_: object) -> None:
            nonlocal polls
            polls += 1

        with _sync_api(server.base_url, meter, poll_interval=poll, max_poll_interval=poll) as api:
            api.wait(conversation_id, timeout=120, on_progress=progress)
        per_poll["lib_req"].append(meter.requests / polls)
        per_poll["lib_polls"].append(polls)
        return meter.bytes / polls

    def baseline() -> float:
        """The smart loop: per poll the conversation, and only the events after the last seen."""
        conversation_id = server.create_v0(prompt)
        meter = Meter()
        polls, last, state = 0, -1, None
        with _raw(server.base_url, meter) as raw:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                polls += 1
                json.loads(raw.get(f"/api/conversations/{conversation_id}").content)
                has_more = True
                while has_more:
                    page = json.loads(
                        raw.get(
                            f"/api/conversations/{conversation_id}/events",
                            params={"start_id": last + 1, "limit": 100},
                        ).content
                    )
                    for event in page["events"]:
                        last = event["id"]
                        if event.get("observation") == "agent_state_changed":
                            state = event["extras"]["agent_state"]
                    has_more = page["has_more"]
                if state in TERMINAL_AGENT_STATES:
                    break
                time.sleep(poll)
        per_poll["base_req"].append(meter.requests / polls)
        per_poll["base_polls"].append(polls)
        return meter.bytes / polls

    lib, base = interleave(ctx.repeats, library, baseline)
    label = f"V0 wait on {steps} step{'s' if steps > 1 else ''} of {pause}s, poll {poll}s"
    return [
        Row(
            "wait", f"{label}: bytes per poll", "B", lib, base, "GET + events after the last seen", limit=1.3
        ),
        Row(
            "wait",
            f"{label}: requests per poll",
            "requests",
            per_poll["lib_req"],
            per_poll["base_req"],
            "GET + events after the last seen",
        ),
        Row(
            "wait",
            f"{label}: polls",
            "polls",
            per_poll["lib_polls"],
            per_poll["base_polls"],
            "GET + events after the last seen",
        ),
    ]


# ------------------------------------------------------------------------------ 6. events_cpu
def events_cpu(ctx: Context) -> list[Row]:
    steps = ctx.size(1_000, 5_000)
    rows = []
    with fake_server(NO_LIMIT, "--manual-clock") as server:
        conversation_id = server.create_v0(f"Many events. [fake-llm steps={steps}]")
        events = server.grow_v0(conversation_id, 2 * steps)
        server.advance(1.0)
        with _sync_api(server.base_url) as api:
            lib, base = _iteration_cpu(
                ctx, lambda: api.iter_events(conversation_id), lambda: api.v0.iter_events(conversation_id)
            )
        rows.append(
            Row(
                "events_cpu",
                f"V0 iter_events over {events} events: CPU",
                "s",
                lib,
                base,
                "api.v0.iter_events",
                limit=1.3,
            )
        )
    with fake_server(NO_LIMIT, "--manual-clock", "--generations", "v1") as server:
        conversation_id = _v1_conversation(server, f"Many events. [fake-llm steps={steps}]", steps)
        with _sync_api(server.base_url, api_version="v1") as api:
            count = sum(1 for _ in api.v1.iter_events(conversation_id))
            lib, base = _iteration_cpu(
                ctx, lambda: api.iter_events(conversation_id), lambda: api.v1.iter_events(conversation_id)
            )
        rows.append(
            Row(
                "events_cpu",
                f"V1 iter_events over {count} events: CPU",
                "s",
                lib,
                base,
                "api.v1.iter_events",
                limit=1.3,
            )
        )
    return rows


def _iteration_cpu(
    ctx: Context, unified: Callable[[], Any], wire: Callable[[], Any]
) -> tuple[list[float], list[float]]:
    def consume(make: Callable[[], Any]) -> float:
        return timed(lambda: sum(1 for _ in make()), time.process_time)

    consume(unified), consume(wire)  # warm-up
    return interleave(ctx.repeats, lambda: consume(unified), lambda: consume(wire))


def _v1_conversation(server: FakeServer, prompt: str, steps: int) -> str:
    """A finished V1 conversation (created with bare requests, the manual clock moved on)."""
    body = {"initial_message": {"role": "user", "content": [{"type": "text", "text": prompt}]}}
    task = server.control.post("/api/v1/app-conversations", json=body).raise_for_status().json()
    config = server.state()["config"]
    server.advance((config["start_task_delay"] + config["run_start_delay"] + 1) / config["speed"])
    server.advance((steps + 2) * config["step_delay"] / config["speed"] + 1)
    tasks = server.control.get("/api/v1/app-conversations/start-tasks", params={"ids": [task["id"]]}).json()
    conversation_id = tasks[0]["app_conversation_id"]
    assert conversation_id, tasks
    return str(conversation_id)


# ------------------------------------------------------------------------------ 7. v1_result
def v1_result(ctx: Context) -> list[Row]:
    few, many = 50, ctx.size(500, 2_000)
    with fake_server(NO_LIMIT, "--manual-clock", "--generations", "v1") as server:
        ids = {n: _v1_conversation(server, f"Work. [fake-llm steps={n}]", n) for n in (few, many)}
        measured: dict[int, dict[str, list[float]]] = {n: {"bytes": [], "requests": []} for n in (few, many)}

        def result(steps: int) -> float:
            meter = Meter()
            with _sync_api(server.base_url, meter, api_version="v1") as api:
                seconds = timed(lambda: api.result(ids[steps]))
            measured[steps]["bytes"].append(meter.bytes)
            measured[steps]["requests"].append(meter.requests)
            return seconds

        lib_s, base_s = interleave(ctx.repeats, lambda: result(many), lambda: result(few))
    return [
        Row(
            "v1_result",
            f"result() bytes, {many} vs {few} LLM calls",
            "B",
            measured[many]["bytes"],
            measured[few]["bytes"],
            f"{few} LLM calls",
            limit=1.1,
        ),
        Row(
            "v1_result",
            f"result() requests, {many} vs {few} LLM calls",
            "requests",
            measured[many]["requests"],
            measured[few]["requests"],
            f"{few} LLM calls",
        ),
        Row("v1_result", f"result() time, {many} vs {few} LLM calls", "s", lib_s, base_s, f"{few} LLM calls"),
    ]


# ------------------------------------------------------------------------------ 8. lost_create
def lost_create(ctx: Context) -> list[Row]:
    """A create whose answer is lost after the server made the conversation, with 100 other
    conversations on the server that this client did not create.

    Two cases. The common one: the others were made minutes before (recent, inside the
    client-clock window the lookup used to search, but older than the send less
    ``CLOCK_MARGIN`` by the server's clock): a manual clock is moved past the margin before
    each create and then ticks along in real time, so runtimes start. The worst case: the
    others were made in the same minute, so each is a candidate whose first message must be
    read (the cost documented in ``V0Generation._look_for_created``)."""
    others = ctx.size(20, 100)
    rows: list[Row] = []
    for case, aged in (("made minutes earlier", True), ("made in the same minute (worst case)", False)):
        rows += _lost_create_case(ctx, others, case, aged=aged)
    return rows


def _lost_create_case(ctx: Context, others: int, case: str, *, aged: bool) -> list[Row]:
    flags = (NO_LIMIT, "--speed", "20", *(("--manual-clock",) if aged else ()))
    with fake_server(*flags) as server:
        for number in range(others):
            server.create_v0(f"Someone else's conversation {number}.")
        spent: dict[str, list[float]] = {"lost": [], "answered": []}
        failures: list[str] = []
        prompts = iter(range(10**6))
        ticking = threading.Event()

        def tick() -> None:  # the manual clock follows real time while a create runs
            while ticking.is_set():
                server.advance(0.02)
                time.sleep(0.02)

        def create(kind: str) -> float:
            if aged:  # everything made so far, the earlier runs' own included, is minutes old
                server.advance(CLOCK_MARGIN + 60)
            if kind == "lost":  # the server creates it, then resets the connection before the answer
                rule = {"fault": "reset_after", "method": "POST", "path": "/api/conversations", "times": 1}
                server.add_fault(rule)
            meter = Meter()
            ticker = threading.Thread(target=tick, daemon=True)
            if aged:
                ticking.set()
                ticker.start()
            # A fresh client and a prompt of its own: exactly one recent conversation can be
            # the lost one (an earlier one with the same prompt would be a rival the lookup
            # cannot tell apart).
            try:
                with _sync_api(server.base_url, meter, start_timeout=60) as api:
                    began = time.perf_counter()
                    try:
                        api.create_conversation(f"Mine ({next(prompts)}); the answer may get lost.")
                    except OpenHandsError as exc:
                        failures.append(type(exc).__name__)
                    seconds = time.perf_counter() - began
            finally:
                ticking.clear()
                if aged:
                    ticker.join()
            spent[kind].append(meter.requests)
            return seconds

        lib, base = interleave(ctx.repeats, lambda: create("lost"), lambda: create("answered"))
    label = f"create whose answer is lost, {others} other conversations {case}"
    note = f"create raised {', '.join(failures)}" if failures else ""
    return [
        Row(
            "lost_create",
            f"{label}: requests",
            "requests",
            spent["lost"],
            spent["answered"],
            "an answered create",
            limit=10 if aged else None,
            on="library",
            note=note,
        ),
        Row("lost_create", f"{label}: time", "s", lib, base, "an answered create"),
    ]


# ------------------------------------------------------------------------------ 9. cli
REQUESTS_SCRIPT = '''\
"""Show one conversation of an OpenHands server: the baseline for `openhands-api get ID`."""
import os
import sys

import requests


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: get.py CONVERSATION_ID", file=sys.stderr)
        return 2
    base_url = os.environ.get("OPENHANDS_BASE_URL", "http://localhost:3000").rstrip("/")
    headers = {}
    if os.environ.get("OPENHANDS_SESSION_API_KEY"):
        headers["X-Session-API-Key"] = os.environ["OPENHANDS_SESSION_API_KEY"]
    try:
        answer = requests.get(f"{base_url}/api/conversations/{sys.argv[1]}", headers=headers, timeout=30)
    except requests.RequestException as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if answer.status_code == 404 or answer.text == "null":
        print("error: no such conversation", file=sys.stderr)
        return 1
    answer.raise_for_status()
    c = answer.json()
    created = (c.get("created_at") or "-")[:16].replace("T", " ")
    status = c.get("status") or "-"
    print(f"{c['conversation_id']}  {created}  {status:<8}  {c.get('title') or ''}")
    print(f"{base_url}/conversations/{c['conversation_id']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


def cli(ctx: Context) -> list[Row]:
    command = Path(sys.executable).with_name("openhands-api")
    cli_prefix = [str(command)] if command.exists() else [sys.executable, "-m", "openhands_api"]
    script = ctx.tmp / "get.py"
    script.write_text(REQUESTS_SCRIPT)
    home = ctx.tmp / "home"
    home.mkdir()
    with fake_server(NO_LIMIT) as server:
        conversation_id = server.create_v0("CLI probe.")
        env = child_env(
            OPENHANDS_BASE_URL=server.base_url,
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_CACHE_HOME=str(home / ".cache"),
        )
        # As installed: pip compiles the package to bytecode once. A PYTHONDONTWRITEBYTECODE
        # in the environment (this machine sets it) would make every run compile the whole
        # package afresh, a cost no user pays; the warm-up run below writes the cache.
        env.pop("PYTHONDONTWRITEBYTECODE", None)

        def run(argv: list[str], extra: dict[str, str] | None = None) -> tuple[float, float]:
            """Wall seconds and CPU seconds (user + system) of one whole process."""
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(
                argv, env={**env, **(extra or {})}, capture_output=True, text=True, timeout=60
            )
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                raise RuntimeError(f"{argv[-2:]} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            return wall, cpu

        get = [*cli_prefix, "get", conversation_id]
        baseline_argv = [sys.executable, str(script), conversation_id]
        run(get), run(baseline_argv)  # warm-up: the file system cache, and any remembered version

        def baseline() -> float:
            return run(baseline_argv)[0]

        homes = iter(range(10**6))

        def nothing_remembered() -> dict[str, str]:
            """A home of its own for each run: no version the CLI may have remembered."""
            fresh = ctx.tmp / f"home-{next(homes)}"
            fresh.mkdir()
            return {"HOME": str(fresh), "XDG_CONFIG_HOME": str(fresh / ".config"),
                    "XDG_CACHE_HOME": str(fresh / ".cache")}  # fmt: skip

        rows = []
        variants: list[tuple[str, Callable[[], dict[str, str]], float | None]] = [
            ("--api-version v0", lambda: {"OPENHANDS_API_VERSION": "v0"}, 1.5),
            ("auto", dict, 1.5),
            ("auto, nothing remembered", nothing_remembered, None),
        ]
        for label, extra, limit in variants:
            lib, base = interleave(ctx.repeats, lambda extra=extra: run(get, extra())[0], baseline)
            rows.append(
                Row(
                    "cli",
                    f"`openhands-api get ID` ({label}), whole process: wall time",
                    "s",
                    lib,
                    base,
                    "35-line requests script",
                    limit=limit,
                )
            )

        def help_cpu() -> float:
            return run([*cli_prefix, "--help"])[1]

        def script_cpu() -> float:
            return run(baseline_argv)[1]

        lib, base = interleave(ctx.repeats, help_cpu, script_cpu)
        rows.append(
            Row(
                "cli",
                "`openhands-api --help`, whole process: CPU",
                "s",
                lib,
                base,
                "35-line requests script",
                limit=1.0,
            )
        )
    return rows


# ------------------------------------------------------------------------------ 10. fanout
def fanout(ctx: Context) -> list[Row]:
    total, width, latency = 100, 10, 0.05
    slow = json.dumps({"fault": "slow", "delay": latency, "times": None, "path": "/api/*"})
    ideal = math.ceil(total / width) * latency
    with fake_server(NO_LIMIT, "--fault", slow) as server:

        async def library_run() -> None:
            gate = asyncio.Semaphore(width)
            async with AsyncOpenHandsAPI(
                base_url=server.base_url,
                api_version="v0",
                throttle=False,
                transport=httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=width)),
            ) as api:

                async def one(number: int) -> None:
                    async with gate:
                        await api.create_conversation(f"Fan-out {number}.")

                await asyncio.gather(*(one(n) for n in range(total)))

        async def baseline_run() -> None:
            gate = asyncio.Semaphore(width)
            async with httpx.AsyncClient(
                base_url=server.base_url, limits=httpx.Limits(max_connections=width), timeout=60
            ) as raw:

                async def one(number: int) -> None:
                    async with gate:
                        answer = await raw.post(
                            "/api/conversations", json={"initial_user_msg": f"Fan-out {number}."}
                        )
                        json.loads(answer.raise_for_status().content)

                await asyncio.gather(*(one(n) for n in range(total)))

        def measure(run: Callable[[], Any]) -> float:
            server.reset()  # the same server state for every run (the configured latency stays)
            return timed(lambda: asyncio.run(run()))

        measure(library_run), measure(baseline_run)  # warm-up
        lib, base = interleave(ctx.repeats, lambda: measure(library_run), lambda: measure(baseline_run))
    label = f"{total} creates at concurrency {width}, +{latency * 1e3:.0f} ms a request"
    return [
        Row("fanout", f"{label}: time", "s", lib, base, "raw httpx.AsyncClient", limit=1.05),
        Row(
            "fanout",
            f"{label}: time vs ideal",
            "s",
            lib,
            [ideal] * len(lib),
            f"ideal {total // width} rounds × {latency * 1e3:.0f} ms",
            limit=1.3,
        ),
        # the floor this machine and the fake allow: what the ideal target is up against
        Row(
            "fanout",
            f"{label}: raw httpx vs ideal",
            "s",
            base,
            [ideal] * len(base),
            f"ideal {total // width} rounds × {latency * 1e3:.0f} ms",
        ),
    ]


# ------------------------------------------------------------------------------ 11. stream
def _p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank): with few runs, the largest."""
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, max(0, math.ceil(0.95 * len(ordered)) - 1))]
        if ordered
        else float("nan")
    )


def stream(ctx: Context) -> list[Row]:
    """A V1 wait over the agent server's WebSocket against the same wait polling (the
    client's defaults: every 1 s, growing to 5 s), on a run of two long agent steps: how
    late each returns after the run's end (seen by a bare 20 ms poll of the conversation in
    a thread), and how many requests each makes per minute while the agent works (from 2 s
    into the wait to the run's end: the looks around opening the socket excluded)."""
    prompt = f"Think long. [fake-llm steps=2 delay={ctx.size(10, 25)}]"
    lateness: dict[str, list[float]] = {"stream": [], "poll": []}
    idle: dict[str, list[float]] = {"stream": [], "poll": []}
    settle = 2.0
    with fake_server(NO_LIMIT, "--generations", "v1", "--speed", "5") as server:

        def measure(streamed: bool) -> float:
            with OpenHandsAPI(base_url=server.base_url, throttle=False, api_version="v1") as setup:
                conversation_id = setup.create_conversation(prompt).id
            meter = Meter()
            began = time.monotonic()
            ended: list[tuple[float, int]] = []
            settled: list[int] = []

            def watch() -> None:
                with _raw(server.base_url) as raw:
                    while not ended:
                        # the count before this look: the wait's own look at the end is not idle
                        before = meter.requests
                        if not settled and time.monotonic() >= began + settle:
                            settled.append(before)
                        answer = raw.get("/api/v1/app-conversations", params={"ids": conversation_id})
                        if answer.json()[0].get("execution_status") == "finished":
                            ended.append((time.monotonic(), before))
                            return
                        time.sleep(0.02)

            watcher = threading.Thread(target=watch, daemon=True)
            with OpenHandsAPI(
                base_url=server.base_url,
                throttle=False,
                api_version="v1",
                stream=streamed,
                transport=CountingTransport(meter),
            ) as api:
                began = time.monotonic()
                watcher.start()
                api.wait(conversation_id, timeout=120)
                returned = time.monotonic()
            watcher.join(30)
            side = "stream" if streamed else "poll"
            end_time, end_requests = ended[0]
            busy = max(end_time - (began + settle), 1e-3)
            idle[side].append((end_requests - (settled[0] if settled else 0)) / busy * 60)
            late = max(0.0, returned - end_time)
            lateness[side].append(late)
            return late

        interleave(ctx.repeats, lambda: measure(True), lambda: measure(False))
    return [
        Row(
            "stream",
            "V1 wait: seconds from the run's end to the return",
            "s",
            lateness["stream"],
            lateness["poll"],
            "the same wait polling (1–5 s)",
            limit=0.5,
            on="library",
            note=f"p95 {_p95(lateness['stream']):.3f} s streaming, {_p95(lateness['poll']):.3f} s polling "
            f"(over {len(lateness['stream'])} runs a side; more with --repeats)",
        ),
        Row(
            "stream",
            "V1 wait: requests per minute while the agent works",
            "requests/min",
            idle["stream"],
            idle["poll"],
            "the same wait polling (1–5 s)",
        ),
    ]


# ------------------------------------------------------------------------------ ts_overhead
TYPESCRIPT = Path(__file__).resolve().parents[1] / "typescript"
TS_OVERHEAD = Path(__file__).with_name("ts_overhead.mjs")


def ts_overhead(ctx: Context) -> list[Row]:
    """The TypeScript client's ``api.v0.getConversation`` against a bare ``fetch`` GET of the same
    route, in Node (``ts_overhead.mjs``): the same comparison as ``raw_get``. Needs Node and
    ``npm ci`` in typescript/; the package is built into this run's temporary directory."""
    if shutil.which("node") is None or not (TYPESCRIPT / "node_modules" / "typescript").is_dir():
        print("ts_overhead: skipped (needs Node and `npm ci` in typescript/)", file=sys.stderr)
        return []
    n = ctx.size(50, 300)
    dist = ctx.tmp / "typescript-dist"
    subprocess.run(
        ["npm", "--silent", "run", "build", "--", "--outDir", str(dist)], cwd=TYPESCRIPT, check=True
    )
    with fake_server(NO_LIMIT) as server:
        conversation_id = server.create_v0("Overhead probe.")
        done = subprocess.run(
            [
                "node",
                str(TS_OVERHEAD),
                str(dist),
                server.base_url,
                conversation_id,
                str(n),
                str(ctx.repeats * 2),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    measured = json.loads(done.stdout)
    return [
        Row(
            "ts_overhead",
            f"TypeScript api.v0.getConversation, time per call ({n} calls a run)",
            "s",
            measured["library"],
            measured["baseline"],
            "Node fetch GET + response.json()",
        ),
    ]


# ------------------------------------------------------------------------------ 12. batch
def batch(ctx: Context) -> list[Row]:
    """``run_batch`` of many one-step tasks (V1, the fake's own process, no rate limiter):
    wall time against the ideal — tasks ÷ concurrency × one task's time, that time measured
    in the same run (a batch of one) — and peak memory, at two sizes for the growth per task."""
    from openhands_api.batch import Task, run_batch

    total, width = ctx.size(100, 1000), ctx.size(20, 50)
    small = total // 5
    poll = {"poll_interval": 0.1, "max_poll_interval": 0.1, "throttle": False}
    runs = iter(range(10**6))

    with fake_server(NO_LIMIT, "--generations", "v1") as server:

        def run(count: int, concurrency: int) -> None:
            server.reset()  # the same empty server for every run
            state = ctx.tmp / f"state-{next(runs)}.db"
            work = [Task(prompt=f"Batch task {i}. [fake-llm steps=1]", id=f"t{i}") for i in range(count)]

            async def go() -> None:
                limits = httpx.Limits(max_connections=concurrency + 5)
                transport = httpx.AsyncHTTPTransport(limits=limits)
                async with AsyncOpenHandsAPI(base_url=server.base_url, transport=transport, **poll) as api:  # type: ignore[arg-type]
                    async for result in run_batch(api, work, concurrency=concurrency, state=state):
                        if result.status != "done":
                            raise RuntimeError(f"task {result.key} ended {result.status}: {result.error}")

            asyncio.run(go())
            state.unlink()

        run(width, width)  # warm-up
        one_task = [timed(lambda: run(1, 1)) for _ in range(3)]
        repeats = min(ctx.repeats, 3)  # a full batch run takes tens of seconds
        lib, singles, cpu = [], [], []
        for _ in range(repeats):
            singles.append(statistics.median(timed(lambda: run(1, 1)) for _ in range(3)))
            began = time.process_time()
            lib.append(timed(lambda: run(total, width)))
            cpu.append(time.process_time() - began)
        ideal = [math.ceil(total / width) * one for one in singles]
        peak_small = peak_memory(lambda: run(small, width))
        peak_total = peak_memory(lambda: run(total, width))
    per_task_kib = max(0.0, peak_total - peak_small) * 1024 / (total - small)
    label = f"{total} tasks at concurrency {width}, one step each"
    one = statistics.median(one_task)
    return [
        Row(
            "batch",
            f"{label}: wall time vs ideal",
            "s",
            lib,
            ideal,
            f"ideal {math.ceil(total / width)} rounds × one task ({one * 1e3:.0f} ms)",
            limit=1.5,
        ),
        # What bounds the wall time on a small machine: this process's CPU (the client's
        # requests: creates, polls, pauses) against the same ideal.
        Row(
            "batch",
            f"{label}: CPU of the batch's process vs ideal",
            "s",
            cpu,
            ideal,
            "the ideal above",
        ),
        Row(
            "batch",
            f"{label}: peak memory (1 run)",
            "MiB",
            [peak_total],
            [peak_small],
            f"{small} tasks",
            note=f"{per_task_kib:.1f} KiB per task",
        ),
        Row(
            "batch",
            f"{label}: memory per task above {small} tasks",
            "KiB",
            [per_task_kib],
            [peak_small * 1024 / small],
            f"the average per task of {small} tasks",
            limit=16,
            on="library",
        ),
    ]


BENCHMARKS: dict[str, Callable[[Context], list[Row]]] = {
    "raw_get": raw_get,
    "state_read": state_read,
    "download": download,
    "detection": detection,
    "wait": wait,
    "events_cpu": events_cpu,
    "v1_result": v1_result,
    "lost_create": lost_create,
    "cli": cli,
    "fanout": fanout,
    "stream": stream,
    "batch": batch,
    "ts_overhead": ts_overhead,
}
"""Every benchmark, by the NAME ``--only`` takes, in the order of issue 11's list."""
