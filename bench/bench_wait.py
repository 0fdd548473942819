"""Benchmarks of the two things that cost users time and money: the client's overhead per
request, and how many requests and bytes a wait spends to notice that the agent is done.

Every figure is a ratio against a baseline measured in the same run, against the same fake
server on loopback, so machine speed cancels out:

1. ``overhead``: N reads of one conversation through ``OpenHandsAPI.v0.get_conversation``
   versus N bare ``httpx`` GETs + ``json.loads`` (the floor any client pays).
2. ``wait``: following a long agent run (hundreds of events) to its outcome with ``wait()``
   versus the obvious loop that re-reads the whole event list every poll (the only way to see
   the agent state without a marker/cursor), at the same poll interval. Requests and response
   bytes are counted by the fake server.

Run: ``.venv/bin/python bench/bench_wait.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx

from openhands_api import OpenHandsAPI, Outcome

POLL = 0.1


@contextlib.contextmanager
def fake_server() -> Iterator[str]:
    """The fake server in its own process, so that its work does not share our GIL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "openhands_api.testing", "serve", "--port", "0", "--no-rate-limit"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        base_url = line[line.index("http") :].split()[0]
        yield base_url
    finally:
        proc.terminate()
        proc.wait(10)


def bench_overhead(base_url: str, n: int) -> dict[str, float]:
    with OpenHandsAPI(base_url=base_url) as api, httpx.Client() as raw:
        conversation_id = api.create_conversation("Overhead probe.").id
        url = f"{base_url}/api/conversations/{conversation_id}"

        def library() -> None:
            api.v0.get_conversation(conversation_id)

        def baseline() -> None:
            json.loads(raw.get(url).content)

        timings = {}
        for name, fn in (("baseline", baseline), ("library", library)):
            for _ in range(20):  # warm-up: connections, imports, caches
                fn()
            runs = []
            for _ in range(5):
                start = time.perf_counter()
                for _ in range(n):
                    fn()
                runs.append((time.perf_counter() - start) / n)
            timings[name] = statistics.median(runs)
    return timings


class Meter:
    """Counts the requests a client sends and the response bytes it receives."""

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0

    def client(self, **kwargs: object) -> httpx.Client:
        def on_response(response: httpx.Response) -> None:
            self.requests += 1
            self.bytes += len(response.read())

        return httpx.Client(event_hooks={"response": [on_response]}, **kwargs)  # type: ignore[arg-type]


def bench_wait(base_url: str, steps: int) -> dict[str, dict[str, float]]:
    prompt = f"Long run. [fake-llm steps={steps}]"
    out: dict[str, dict[str, float]] = {}
    meter = Meter()
    with OpenHandsAPI(
        base_url=base_url, poll_interval=POLL, max_poll_interval=POLL, http_client=meter.client()
    ) as api:
        conversation_id = api.create_conversation(prompt).id
        meter.requests = meter.bytes = 0
        start = time.perf_counter()
        result = api.wait(conversation_id, timeout=300)
        elapsed = time.perf_counter() - start
        assert result.outcome is Outcome.FINISHED
        out["library"] = {"requests": meter.requests, "seconds": elapsed, "bytes": meter.bytes}

    # the baseline: poll GET + every event from the start, each time
    meter = Meter()
    with meter.client(base_url=base_url) as raw:
        conversation_id = raw.post("/api/conversations", json={"initial_user_msg": prompt}).json()[
            "conversation_id"
        ]
        meter.requests = meter.bytes = 0
        start = time.perf_counter()
        done = False
        while not done:
            raw.get(f"/api/conversations/{conversation_id}")
            start_id, state = 0, None
            while True:
                page = raw.get(
                    f"/api/conversations/{conversation_id}/events",
                    params={"start_id": start_id, "limit": 100},
                )
                body = page.json()
                for event in body["events"]:
                    if event.get("observation") == "agent_state_changed":
                        state = event["extras"]["agent_state"]
                if not body["has_more"]:
                    break
                start_id = body["events"][-1]["id"] + 1
            done = state == "finished"
            if not done:
                time.sleep(POLL)
        elapsed = time.perf_counter() - start
        out["baseline"] = {"requests": meter.requests, "seconds": elapsed, "bytes": meter.bytes}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    n, steps = (50, 40) if args.quick else (300, 200)
    with fake_server() as base_url:
        overhead = bench_overhead(base_url, n)
        wait = bench_wait(base_url, steps)
    ratio = overhead["library"] / overhead["baseline"]
    print(
        f"overhead: {overhead['library'] * 1e3:.2f} ms/request (library) vs "
        f"{overhead['baseline'] * 1e3:.2f} ms (bare httpx): ratio {ratio:.2f}x over {n} requests"
    )
    lib, base = wait["library"], wait["baseline"]
    print(
        f"wait ({steps} agent steps, ~{2 * steps + 9} events, poll {POLL}s): "
        f"{lib['requests']:.0f} requests in {lib['seconds']:.2f}s (library) vs "
        f"{base['requests']:.0f} requests in {base['seconds']:.2f}s (re-read all events): "
        f"request ratio {lib['requests'] / base['requests']:.2f}x, "
        f"bytes {lib['bytes'] / 1e3:.0f} kB vs {base['bytes'] / 1e3:.0f} kB: "
        f"ratio {lib['bytes'] / base['bytes']:.2f}x"
    )


if __name__ == "__main__":
    main()
