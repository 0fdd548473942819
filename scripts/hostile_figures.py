"""Issue 10's figures against any checkout: ``PYTHONPATH=<checkout>/src python scripts/hostile_figures.py``.

Standard library and httpx only; it imports ``openhands_api`` from wherever PYTHONPATH points
(912ae0b, before the issue's work, or HEAD) and relies on nothing newer than that: the fake
server (``openhands_api.testing.FakeOpenHandsServer``, present in both) holds the conversations,
and this script's own hostile proxy on loopback stands between it and the client, spoiling the
answers for one conversation id at a time: 1 byte every 0.5 s (trickle), a corrupt gzip body,
a 50 MB JSON answer, a gzip bomb (~2 MB inflating to 512 MB). A second server of its own is a
gateway that echoes the request's key headers in a 400 and a 502 error.

Each figure is one line ``figure: value``; nothing here asserts (the tests do). A measurement
is cut off at ``--cap`` seconds (60). Memory is measured in a fresh subprocess by its
``VmHWM`` (peak RSS) from /proc/self/status, before and after the answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import logging
import os
import subprocess
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

KEY = "sk-oh-" + "Q7fZ2kLm9XwR4tBv8NcP3sYh6JdG1aEu5iOo0"  # 43 chars, fake
PIECE = 12
SOME_ID = "3f0c2a9e8b7d4c1fa6e5d4c3b2a19087"


# --------------------------------------------------------------------------- the hostile proxy
class Quiet(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-answer is what these figures provoke


class Proxy:
    """Forwards to ``upstream``; answers touching an id in ``faults`` are spoiled by its kind."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults: dict[str, str] = {}
        self.fired: dict[str, int] = {}
        self.requests: list[float] = []
        self.statuses: list[int] = []
        self.stop = threading.Event()
        self._bomb: bytes | None = None
        self._lock = threading.Lock()
        self.http = httpx.Client(timeout=30.0)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _any

        self.server = Quiet(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.http.close()

    def kind_for(self, target: str) -> str | None:
        for cid, kind in self.faults.items():
            if cid in target or cid.replace("-", "") in target:
                return kind
        return None

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests.append(time.monotonic())
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        skip = {"host", "accept-encoding", "connection", "content-length"}
        headers = {k: v for k, v in h.headers.items() if k.lower() not in skip}
        try:
            up = self.http.request(h.command, self.upstream + h.path, content=body, headers=headers)
        except httpx.HTTPError:
            h.send_response(502)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        self.statuses.append(up.status_code)
        kind = self.kind_for(h.path) if h.command == "GET" else None
        content = up.content
        out = {
            k: v
            for k, v in up.headers.items()
            if k.lower()
            not in {
                "content-length",
                "content-encoding",
                "transfer-encoding",
                "connection",
            }
        }
        if kind:
            self.fired[kind] = self.fired.get(kind, 0) + 1
        if kind == "corrupt_gzip":
            out["Content-Encoding"] = "gzip"
            content = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"this is not deflate data" * 8
        elif kind == "oversize" and content.rstrip().endswith(b"}"):
            content = content.rstrip()[:-1] + b',"padding":"' + b"x" * 50_000_000 + b'"}'
        elif kind == "oversize" and content.rstrip().endswith(b"]"):
            content = content.rstrip()[:-1] + b" " * 50_000_000 + b"]"
        elif kind == "gzip_bomb" and content.rstrip()[-1:] in (b"}", b"]"):
            out["Content-Encoding"] = "gzip"
            content = self.bomb(content)
        h.send_response(up.status_code)
        for k, v in out.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(content)))
        h.end_headers()
        try:
            if kind == "trickle":
                for i in range(len(content)):
                    if self.stop.wait(0.5):
                        h.close_connection = True
                        return
                    h.wfile.write(content[i : i + 1])
                    h.wfile.flush()
            else:
                view = memoryview(content)
                for i in range(0, len(content), 1 << 20):
                    h.wfile.write(view[i : i + (1 << 20)])
        except OSError:
            h.close_connection = True

    def bomb(self, answer: bytes) -> bytes:
        """The answer with 512 MB of spaces before its last bracket (valid JSON), gzipped."""
        gz = zlib.compressobj(9, zlib.DEFLATED, 31)
        answer = answer.rstrip()
        parts = [gz.compress(answer[:-1])]
        chunk = b" " * (1 << 20)
        for _ in range(512):
            parts.append(gz.compress(chunk))
        parts.append(gz.compress(answer[-1:]))
        parts.append(gz.flush())
        data = b"".join(parts)
        self.bomb_size = len(data)
        return data


# --------------------------------------------------------------------------- the echoing gateway
class EchoGateway:
    """Answers everything with an error whose body and headers echo the key headers it was sent."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                seen = " ".join(
                    f"{k}: {v}"
                    for k, v in self.headers.items()
                    if k.lower() in ("authorization", "x-session-api-key")
                )
                if "/api/conversations" in self.path:
                    # 400 JSON: the key whole in detail, and (second field) straddling the
                    # 300th character of the dumped body, where the old client cut it.
                    filler = "a" * (300 - len('{"detail": "') - 24)
                    payload = {"detail": f"{filler}{seen} (gateway refused the request)"}
                    status, ctype, content = (
                        400,
                        "application/json",
                        json.dumps(payload).encode(),
                    )
                else:
                    status, ctype = 502, "text/html"
                    content = f"<html><body>Bad gateway. Upstream saw {seen}</body></html>".encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("X-Echo-Request-Headers", seen)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_POST = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- helpers
def make_client(cls: Any, base_url: str, version: str, **kw: Any) -> Any:
    """The client with only the keyword arguments this checkout's constructor knows."""
    params = inspect.signature(cls.__init__).parameters
    wanted = {
        "base_url": base_url,
        "api_version": version,
        "stream": False,
        "throttle": None,
        **kw,
    }
    if wanted["throttle"] is None:
        del wanted["throttle"]
    return cls(**{k: v for k, v in wanted.items() if k in params})


def unstick(proxy: Proxy) -> None:
    """End the trickles still running, so a call past the cap fails and its client can close."""
    proxy.stop.set()
    time.sleep(1.0)
    proxy.stop.clear()


def capped(cap: float, fn: Any) -> str:
    """``fn`` in a thread: '<seconds> s, <what happened>' or that it ran past the cap."""
    box: dict[str, str] = {}

    def run() -> None:
        try:
            fn()
            box["what"] = "returned"
        except Exception as exc:
            box["what"] = f"raised {type(exc).__module__}.{type(exc).__name__}"

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(cap)
    if thread.is_alive():
        return f">{cap:.0f} s (cut off, still running)"
    return f"{time.monotonic() - started:.1f} s ({box['what']})"


def fake_server(generation: str) -> Any:
    from openhands_api.testing import FakeOpenHandsServer

    return FakeOpenHandsServer(generations=generation, rate_limit=False, speed=5.0)


def long_conversation(base_url: str, generation: str) -> str:
    from openhands_api import OpenHandsAPI

    with make_client(OpenHandsAPI, base_url, generation, timeout=10.0) as api:
        return str(api.create_conversation("Hostile figures. [fake-llm steps=100000 delay=1]").id)


CHILD = r"""
import json, sys
from openhands_api import OpenHandsAPI
sys.path.insert(0, sys.argv[4])
from hostile_figures import make_client
url, version, bad, good = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5]
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
api = make_client(OpenHandsAPI, url, version, timeout=60.0, max_retries=0)
api.get_conversation(good)
before = hwm()
try:
    api.get_conversation(bad)
    what = "returned"
except BaseException as exc:
    what = f"raised {type(exc).__module__}.{type(exc).__name__}"
print(json.dumps({"mib": hwm() - before, "what": what}))
"""


def rss_growth(proxy_url: str, generation: str, bad: str, good: str) -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, proxy_url, generation, bad, here, good],
            capture_output=True,
            text=True,
            timeout=240,
            env=os.environ.copy(),
        )
    except subprocess.TimeoutExpired:
        return "child ran past 240 s"
    try:
        got = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return f"child failed: {done.stderr.strip().splitlines()[-1:]}"
    return f"+{got['mib']:.0f} MiB peak RSS ({got['what']})"


# --------------------------------------------------------------------------- the figures
def figures(generation: str, cap: float) -> None:
    from openhands_api import OpenHandsAPI

    with fake_server(generation) as server:
        proxy = Proxy(server.base_url)
        try:
            good = long_conversation(server.base_url, generation)
            bad = long_conversation(server.base_url, generation)

            # 1. get_conversation with a 2 s timeout while the answer trickles.
            proxy.faults = {bad: "trickle"}
            for retries in (None, 0):
                extra = {} if retries is None else {"max_retries": retries}
                with make_client(OpenHandsAPI, proxy.url, generation, timeout=2.0, **extra) as api:
                    value = capped(cap, lambda: api.get_conversation(bad))
                    unstick(proxy)
                label = "default retries" if retries is None else "max_retries=0"
                print(f"{generation} get_conversation(timeout=2, {label}) while answers trickle: {value}")

            # 2. wait(timeout=3) while every answer about the conversation trickles.
            before = proxy.fired.get("trickle", 0)
            with make_client(OpenHandsAPI, proxy.url, generation) as api:
                value = capped(cap, lambda: api.wait(bad, timeout=3))
                unstick(proxy)
            trickled = proxy.fired.get("trickle", 0) - before
            print(f"{generation} wait(timeout=3) while answers trickle: {value}, {trickled} answers trickled")

            # 3. corrupt gzip: which exception escapes get_conversation and wait.
            proxy.faults = {bad: "corrupt_gzip"}
            with make_client(OpenHandsAPI, proxy.url, generation, max_retries=0) as api:
                value = capped(cap, lambda: api.get_conversation(bad))
                print(f"{generation} get_conversation on a corrupt gzip body: {value}")
                value = capped(cap, lambda: api.wait(bad, timeout=3))
                print(f"{generation} wait(timeout=3) on corrupt gzip bodies: {value}")

            # 4. memory: a 50 MB JSON answer and a gzip bomb, each in a fresh process.
            proxy.faults = {bad: "oversize"}
            value = rss_growth(proxy.url, generation, bad, good)
            print(f"{generation} RSS growth for a 50 MB JSON answer: {value}")
            proxy.faults = {bad: "gzip_bomb"}
            value = rss_growth(proxy.url, generation, bad, good)
            size = getattr(proxy, "bomb_size", 0) / 1e6
            print(f"{generation} RSS growth for a gzip bomb ({size:.1f} MB -> 512 MB): {value}")
            proxy.faults = {}

        finally:
            proxy.close()
    # 6. requests/s sent by 30 concurrent waits on one client, against the fake's own
    # self-hosted limiter (10 a second over a sliding window; past 20 it answers 429).
    print(f"{generation} requests/s from 30 concurrent waits on one client (8 s): {pace(generation)}")


def pace(generation: str) -> str:
    from openhands_api import AsyncOpenHandsAPI
    from openhands_api.testing import FakeOpenHandsServer

    with FakeOpenHandsServer(generations=generation, speed=5.0) as server:
        cid = long_conversation(server.base_url, generation)
        proxy = Proxy(server.base_url)
        try:
            return _pace(proxy, generation, cid, AsyncOpenHandsAPI)
        finally:
            proxy.close()


def _pace(proxy: Proxy, generation: str, cid: str, AsyncOpenHandsAPI: Any) -> str:

    async def run() -> None:
        async with make_client(AsyncOpenHandsAPI, proxy.url, generation, timeout=5.0) as api:

            async def one() -> None:
                with contextlib.suppress(Exception):
                    await api.wait(cid, timeout=8)

            await asyncio.gather(*(one() for _ in range(30)))

    start = time.monotonic()
    first = len(proxy.requests)
    asyncio.run(run())
    stamps = [t - start for t in proxy.requests[first:]]
    if not stamps:
        return "no requests"
    per_second: dict[int, int] = {}
    for t in stamps:
        per_second[int(t)] = per_second.get(int(t), 0) + 1
    elapsed = max(stamps[-1], 1e-9)
    refused = proxy.statuses[first:].count(429)
    busiest = max(per_second.values())
    mean = len(stamps) / elapsed
    return f"{mean:.1f} mean over {elapsed:.1f} s, {busiest} in the busiest second, {refused} answered 429"


def key_figures() -> None:
    from openhands_api import OpenHandsAPI

    pieces = {KEY[i : i + PIECE] for i in range(len(KEY) - PIECE + 1)}

    def leaks(text: str) -> str:
        if KEY in text:
            return "whole key"
        return "a 12-char piece" if any(p in text for p in pieces) else "clean"

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root = logging.getLogger()
    handler = Keep(logging.DEBUG)
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    gateway = EchoGateway()
    try:
        for label, version, call in (
            (
                "400 JSON (v0 get_conversation)",
                "v0",
                lambda api: api.get_conversation(SOME_ID),
            ),
            (
                "502 HTML (v1 get_conversation)",
                "v1",
                lambda api: api.get_conversation(SOME_ID),
            ),
        ):
            api = make_client(
                OpenHandsAPI,
                gateway.url,
                version,
                api_key=KEY,
                max_retries=0,
                timeout=5.0,
            )
            try:
                call(api)
                print(f"key in error attributes, {label}: no error raised")
                continue
            except Exception as exc:
                error = exc
            finally:
                api.close()
            row = [f"type={type(error).__name__}"]
            for name in ("str", "repr", "detail", "body", "headers", "message", "args"):
                if name == "str":
                    text = str(error)
                elif name == "repr":
                    text = repr(error)
                elif hasattr(error, name):
                    text = repr(getattr(error, name))
                else:
                    continue
                row.append(f"{name}={leaks(text)}")
            every = " ".join(repr(v) for v in vars(error).values())
            row.append(f"all vars={leaks(every)}")
            print(f"key in error attributes, {label}: {', '.join(row)}")
        logged = " ".join(r.getMessage() + " " + repr(r.args) for r in records)
        print(f"key in log records ({len(records)} records at DEBUG): {leaks(logged)}")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        gateway.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generation", choices=("v0", "v1"), action="append")
    parser.add_argument("--cap", type=float, default=60.0)
    parser.add_argument("--skip-keys", action="store_true")
    args = parser.parse_args()
    import openhands_api

    print(f"package: {os.path.dirname(openhands_api.__file__)}")
    if not args.skip_keys:
        key_figures()
    for generation in args.generation or ["v0", "v1"]:
        figures(generation, args.cap)


if __name__ == "__main__":
    main()
