"""A gateway that echoes the request's headers back must not make the library repeat the keys.

A loopback "gateway" answers every request with an error that reflects the Authorization and
X-Session-API-Key headers — in a plain-text body long enough that a preview cuts through the
key, in a JSON ``detail``, in the JSON body, and in its own response headers. Every text the
library makes of such an answer (the message, every attribute of the error, reprs, DEBUG log
records, the CLI's stderr) must hold neither key, whole or any 12-character piece of it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from openhands_api import OpenHandsAPI, OpenHandsError

API_KEY = f"sk-oh-{uuid.uuid4().hex}"
SESSION_KEY = f"sess-{uuid.uuid4().hex}"
UNKNOWN = "a" * 32


def pieces(secret: str, length: int = 12) -> set[str]:
    return {secret[i : i + length] for i in range(len(secret) - length + 1)}


PIECES = pieces(API_KEY) | pieces(SESSION_KEY)


def leaked(text: str) -> list[str]:
    return sorted(p for p in PIECES if p in text)


class ReflectingGateway(BaseHTTPRequestHandler):
    """Answers as ``self.server.mode`` says, reflecting the request's secret headers."""

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        session = self.headers.get("X-Session-API-Key", "")
        mode = self.server.mode  # type: ignore[attr-defined]
        status, ctype, body = 502, "text/plain", b""
        if mode == "cut-text":
            # The key straddles character 300, where an error preview is cut.
            body = ("x" * 280 + " " + auth + " " + session).encode()
        elif mode == "json-detail":
            status, ctype = 400, "application/json"
            body = json.dumps({"detail": f"bad request with {auth} and {session}"}).encode()
        elif mode == "json-body":
            status, ctype = 500, "application/json"
            body = json.dumps(
                {"error": "boom", "headers": {"authorization": auth, "x-session": session}}
            ).encode()
        elif mode == "cut-html":
            # A 200 web page where JSON was expected; its preview is cut at 80 characters.
            status, ctype = 200, "text/html"
            body = ("<html>" + "y" * 50 + auth + session + "</html>").encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("X-Echo-Authorization", auth)
        self.send_header("X-Echo-Session", session)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def gateway() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ReflectingGateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def everything_about(exc: BaseException) -> str:
    texts = [str(exc), repr(exc), *(str(a) for a in exc.args)]
    for value in vars(exc).values():
        texts.append(repr(value))
        if isinstance(value, dict):
            texts.extend(f"{k}: {v}" for k, v in value.items())
    return "\n".join(texts)


MODES = ["cut-text", "json-detail", "json-body", "cut-html"]


@pytest.mark.parametrize("mode", MODES)
def test_no_piece_of_a_key_in_any_error_attribute_or_log_record(
    mode: str, gateway: ThreadingHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    gateway.mode = mode  # type: ignore[attr-defined]
    for name in ("openhands_api", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    with (
        OpenHandsAPI(
            api_key=API_KEY,
            session_api_key=SESSION_KEY,
            base_url=_url(gateway),
            api_version="v0",
            max_retries=0,
        ) as api,
        pytest.raises(OpenHandsError) as caught,
    ):
        api.v0.get_conversation(UNKNOWN)
    assert caught.value.message  # the gateway's answer did produce an error to scan
    assert leaked(everything_about(caught.value)) == []
    logged = "\n".join([caplog.text, *(r.getMessage() for r in caplog.records)])
    assert leaked(logged) == []


@pytest.mark.parametrize("mode", MODES)
def test_the_cli_never_prints_a_piece_of_a_key(mode: str, gateway: ThreadingHTTPServer) -> None:
    gateway.mode = mode  # type: ignore[attr-defined]
    env = {
        **os.environ,
        "OPENHANDS_API_KEY": API_KEY,
        "OPENHANDS_SESSION_API_KEY": SESSION_KEY,
        "OPENHANDS_BASE_URL": _url(gateway),
    }
    done = subprocess.run(
        [sys.executable, "-m", "openhands_api", "--debug", "get", UNKNOWN, "--api-version", "v0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode != 0
    assert "error:" in done.stderr
    assert leaked(done.stdout + done.stderr) == []
