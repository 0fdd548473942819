"""The figures of issue 10, measured: ``python -m tests.faults.hostile_figures``.

Each line: what was done, and what it cost (seconds, RSS, conversations, 429s). Runs against
the fake server on loopback; nothing here asserts (the tests do).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from openhands_api import AsyncOpenHandsAPI, OpenHandsAPI, OpenHandsError
from openhands_api.testing import FakeOpenHandsServer, FaultRule

ROOT = Path(__file__).resolve().parents[2]
READ = {"v0": "/api/conversations/*", "v1": "/api/v1/app-conversations"}
PEAK = """
import json, resource, sys
from openhands_api import OpenHandsAPI, OpenHandsError
url, cid, version = sys.argv[1:4]
api = OpenHandsAPI(base_url=url, api_version=version, max_retries=0, timeout=60)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    api.get_conversation(cid)
    error = None
except OpenHandsError as exc:
    error = type(exc).__name__
grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({"mib": grew, "error": error}))
"""


def timed(label: str, fn: object) -> None:
    started = time.monotonic()
    try:
        fn()  # type: ignore[operator]
        what = "returned"
    except OpenHandsError as exc:
        what = type(exc).__name__
    print(f"{label}: {what} after {time.monotonic() - started:.1f} s")


def trickle(generation: str) -> None:
    with FakeOpenHandsServer(generations=generation, rate_limit=False, speed=5.0) as server:
        with OpenHandsAPI(base_url=server.base_url, timeout=2.0) as api:
            conversation = api.create_conversation("Trickle. [fake-llm steps=200]")
            server.state.faults.add(FaultRule("trickle", method="GET", times=None, delay=0.5))
            timed(
                f"{generation} get_conversation(timeout=2) while answers trickle",
                lambda: api.get_conversation(conversation.id),
            )
        with OpenHandsAPI(base_url=server.base_url, api_version=generation) as api:  # type: ignore[arg-type]
            timed(
                f"{generation} wait(timeout=3) while answers trickle",
                lambda: api.wait(conversation.id, timeout=3),
            )
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "openhands_api", "wait", conversation.id, "--timeout-s", "3"],
            env={**os.environ, "OPENHANDS_BASE_URL": server.base_url},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        print(
            f"{generation} openhands-api wait --timeout-s 3 while answers trickle: "
            f"exit {done.returncode} after {time.monotonic() - started:.1f} s"
        )


def memory(generation: str) -> None:
    for fault, size in (("oversize", 50_000_000), ("gzip_bomb", 512 * 1024 * 1024)):
        with FakeOpenHandsServer(generations=generation, rate_limit=False, speed=5.0) as server:
            with OpenHandsAPI(base_url=server.base_url) as api:
                conversation = api.create_conversation("Big. [fake-llm steps=1]")
            server.state.faults.add(FaultRule(fault, method="GET", path=READ[generation], size=size))
            done = subprocess.run(
                [sys.executable, "-c", PEAK, server.base_url, conversation.id, generation],
                capture_output=True,
                text=True,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
            )
            report = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"{generation} {fault} of {size / 1e6:.0f} MB: {report['error']}, "
                f"peak RSS +{report['mib']:.0f} MiB"
            )


async def throttle(generation: str, on: bool) -> None:
    with FakeOpenHandsServer(
        generations=generation, rate_limit=True, speed=10.0, max_concurrent_conversations=50
    ) as server:
        # (a client from before the request budget has no throttle: it is off there)
        budget = {"throttle": on} if "throttle" in inspect.signature(AsyncOpenHandsAPI).parameters else {}
        async with AsyncOpenHandsAPI(
            base_url=server.base_url,
            poll_interval=0.2,
            max_poll_interval=0.2,
            **budget,  # type: ignore[arg-type]
        ) as api:
            created = [await api.create_conversation(f"T{n}. [fake-llm steps=3]") for n in range(30)]
            started = time.monotonic()
            await asyncio.gather(*(api.wait(c.id, timeout=120) for c in created))
            spent = time.monotonic() - started
        rejected = sum(1 for r in server.state.requests if r.status == 429)
        print(f"{generation} 30 concurrent waits, throttle={on}: {rejected} upstream 429s, {spent:.1f} s")


def main() -> None:
    for generation in ("v0", "v1"):
        trickle(generation)
        memory(generation)
        for on in (True, False):
            asyncio.run(throttle(generation, on))


if __name__ == "__main__":
    main()
