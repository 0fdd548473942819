"""Fault injection: the fake server misbehaving the way real deployments do.

Responsible for: ``FaultInjector``, the fault hook ``create_app`` installs as
``state.fault_hook``. ``FaultHookMiddleware`` hands it every request outside ``/_fake/``
before anything else (request log, rate limiter, authentication); it asks ``state.faults``
(``faults/rules.py``) whether a rule or chaos hits the request, and carries the fault out:

=====================  ==========  ==============================================================
fault                  processed?  what the client gets
=====================  ==========  ==============================================================
``reset_before``       no          the request body is read, then the connection is reset (TCP
                                   RST): ``httpx.ReadError`` (``ECONNRESET``) after sending.
``reset_after``        yes         the app handles the request completely (a create creates),
                                   then the connection is reset without a byte of the answer.
``slow``               yes         the answer is held ``delay`` seconds of the server's clock
                                   (``SystemClock``: real seconds, so a shorter read timeout
                                   fires; ``ManualClock``: the clock jumps, nothing waits).
                                   Abandoned if the client hangs up meanwhile.
``status``             no          ``status`` with the body the real stack gives that code:
                                   500 ``text/plain`` ``Internal Server Error`` and the connection
                                   closed, as after an unhandled exception; 502/503/504 a
                                   gateway's (nginx) HTML page; 401 ``{"detail":"Unauthorized"}``,
                                   or ``{"error":"failed to authenticate"}`` with Bearer auth or
                                   ``flavor="cloud"``; other 4xx ``{"detail": <reason>}``
                                   (FastAPI's ``HTTPException``, with the cache headers of an
                                   app answer); other 5xx ``text/plain`` reason. Optional
                                   ``Retry-After``.
``html``               no          a "System Maintenance" ``text/html`` page, status 500
                                   (Cloud outage) or 200 (never success for a JSON client).
``truncated_json``     yes         the real status and headers, but the body delimited by closing
                                   the connection (no ``Content-Length``, ``Connection: close``)
                                   and cut in half: a complete-looking answer whose JSON does not
                                   parse (``response.json()`` raises). See below.
``wrong_shape``        yes         200 ``application/json`` with ``body`` (default
                                   ``{"unexpected": true}``) instead of the real answer.
``rate_limit``         no          429 ``{"message":"Too many requests"}`` (self-hosted) or
                                   ``{"error":"Rate limit exceeded: 10 per 1 second"}``
                                   (``flavor="cloud"``), ``Retry-After`` if ``retry_after`` is
                                   set, ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` (epoch
                                   seconds) with ``ratelimit_headers``.
``concurrency_limit``  no          V1's 429 ``{"detail":{"error":"CONCURRENCY_LIMIT_REACHED",
                                   "message":…,"limit":N,"current":N}}``, N = the configured
                                   ``concurrency_limit`` or Cloud's default 3.
``trickle``            yes         the real answer, one byte every ``delay`` seconds (default 0.5, the
                                   server's clock): each read is quick, the whole never comes in
                                   time. Stops when the client hangs up.
``corrupt_gzip``       yes         the real status and headers with ``Content-Encoding: gzip`` and
                                   a gzip body of the answer whose deflate stream is damaged in
                                   the middle (httpx raises ``DecodingError`` on reading it).
``oversize``           yes         200 ``application/json``: a valid JSON object of ``size`` bytes
                                   (default 50 MB), streamed.
``gzip_bomb``          yes         200 ``application/json``, ``Content-Encoding: gzip``: a small
                                   body (about 1/1000 of ``size``) that inflates to ``size`` bytes
                                   (default 512 MiB) of a JSON string, streamed as compressed.
=====================  ==========  ==============================================================

Why ``truncated_json`` looks so: a proxy that relays an answer of unknown length (HTTP/1.0
style, or after dropping the upstream's framing) ends the body by closing the connection, so
when its upstream dies mid-answer the client cannot tell the body is short — the way a cut
JSON body reaches a JSON parser. (Where the framing survives, the client gets a transport
error instead: that is ``reset_after``'s territory, an answer lost after processing.)

"Processed" faults run the app with its answer held back, so they take as long as the real
answer (a stuck ``stream-start`` never ends, faulted or not). Faults answered without
processing are not in ``state.requests`` and do not count against the rate limiter; every
fault is in ``state.faults.fired``.

Connection faults need the TCP connection: ``FakeOpenHandsServer`` puts a handle to it in the
ASGI scope (``connection.CONNECTION_EXTENSION``). In-process (``httpx.ASGITransport``) there is
none, so a reset raises the error an httpx client gets over loopback instead, ``httpx.ReadError``,
which ``ASGITransport`` passes on (with its default ``raise_app_exceptions=True``);
``truncated_json`` sends the half body as a complete answer (``Content-Length`` of the half),
which the client sees exactly as over loopback. Every other fault behaves the same in-process.

Not responsible for: choosing faults (``rules.py``), the bodies' words
(``core/error_bodies.py``) or refusing connections, which happens at the listening socket
(``FakeOpenHandsServer.refuse_connections``).
"""

from __future__ import annotations

import email.utils
import gzip
import json
import math
import zlib
from typing import TYPE_CHECKING

import anyio
import httpx
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core import error_bodies as bodies
from ..core.middleware import NO_CACHE_HEADERS
from .connection import connection_of, crash_answer
from .rules import FaultRule

if TYPE_CHECKING:
    from ..core.state import FakeState

CLOUD_DEFAULT_CONCURRENCY_LIMIT = 3
"""Cloud's cap for a personal workspace (CONTRACT.md §1.4)."""


def _retry_after_header(rule: FaultRule) -> dict[str, str]:
    return {} if rule.retry_after is None else {"Retry-After": rule.retry_after}


def _seconds_until(retry_after: str | None, now: float) -> float:
    if retry_after is None:
        return 1.0
    if retry_after.isdigit():
        return float(retry_after)
    return max(0.0, email.utils.parsedate_to_datetime(retry_after).timestamp() - now)


async def _until_disconnected(receive: Receive) -> None:
    """Wait for the client to go away (reading and dropping any request body left)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _read_body(receive: Receive) -> None:
    """Read the whole request body without handling it (the client has finished sending)."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def _captured(app: ASGIApp, scope: Scope, receive: Receive) -> list[Message]:
    """Run the app to the end and return its answer instead of sending it. When this
    returns, the request's effects are committed (routes change state under the lock)."""
    messages: list[Message] = []

    async def keep(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, keep)
    return messages


async def _huge(rule: FaultRule, send: Send) -> None:
    """``oversize``: a JSON object of ``size`` bytes; ``gzip_bomb``: one that small gzip bytes
    inflate to. Both streamed in 1 MiB pieces, so the fake itself holds little of it."""
    assert rule.size is not None  # validated by FaultRule
    size = rule.size
    bomb = rule.fault == "gzip_bomb"
    headers = [(b"content-type", b"application/json")]
    if bomb:
        headers.append((b"content-encoding", b"gzip"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS) if bomb else None
    head, tail = b'{"padding": "', b'"}'
    left = max(0, size - len(head) - len(tail))
    pieces = [head]
    while True:
        step = min(left, 1 << 20)
        left -= step
        pieces.append(b"x" * step)
        if left == 0:
            pieces.append(tail)
        data = b"".join(pieces)
        pieces = []
        if packer is not None:
            data = packer.compress(data) + (packer.flush() if left == 0 else b"")
        await send({"type": "http.response.body", "body": data, "more_body": left > 0})
        if left == 0:
            return


def _start_and_body(messages: list[Message]) -> tuple[Message, bytes]:
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start, body


class FaultInjector:
    """The default ``state.fault_hook``: carries out what ``state.faults`` picks."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        picked = self.state.faults.pick(scope["method"], scope["path"], self.state.clock.now())
        if picked is None:
            await app(scope, receive, send)
            return
        rule, _record = picked
        fault = rule.fault
        if fault == "reset_before":
            await _read_body(receive)
            await self._reset(scope, receive)
        elif fault == "reset_after":
            await _captured(app, scope, receive)
            await self._reset(scope, receive)
        elif fault == "slow":
            await self._slow(rule, scope, receive, send, app)
        elif fault == "truncated_json":
            await self._truncated(scope, receive, send, app)
        elif fault == "wrong_shape":
            await self._wrong_shape(rule, scope, receive, send, app)
        elif fault == "trickle":
            await self._trickle(rule, scope, receive, send, app)
        elif fault == "corrupt_gzip":
            await self._corrupt_gzip(scope, receive, send, app)
        elif fault in ("oversize", "gzip_bomb"):
            await _captured(app, scope, receive)
            await _huge(rule, send)
        elif fault == "status" and rule.status == 500:
            await crash_answer(scope, receive, send, headers=_retry_after_header(rule))
        else:
            await self._answer(rule)(scope, receive, send)

    # ------------------------------------------------------------------ connection faults
    async def _reset(self, scope: Scope, receive: Receive) -> None:
        connection = connection_of(scope)
        if connection is None:
            raise httpx.ReadError("[Errno 104] Connection reset by peer (fake OpenHands fault)")
        connection.reset()
        # Return only once the server has seen the connection go, so it does not try to
        # answer the request with a 500 of its own.
        await _until_disconnected(receive)

    async def _truncated(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        start, body = _start_and_body(await _captured(app, scope, receive))
        half = body[: len(body) // 2]
        status = int(start["status"])
        headers = [
            (name, value)
            for name, value in start.get("headers", [])
            if name.lower() not in (b"content-length", b"transfer-encoding", b"connection")
        ]
        connection = connection_of(scope)
        if connection is None:
            # No connection to close: the same short answer, framed by its length.
            headers.append((b"content-length", str(len(half)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": half, "more_body": False})
            return
        # Written past h11, which would frame the body (chunked) and so make the cut visible.
        head = [f"HTTP/1.1 {status} {bodies.status_phrase(status)}\r\n".encode()]
        head += [name + b": " + value + b"\r\n" for name, value in headers]
        head.append(b"connection: close\r\n\r\n")
        connection.write(b"".join(head) + half)
        connection.close()
        await _until_disconnected(receive)

    # ------------------------------------------------------------------ processed answers
    async def _slow(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        messages = await _captured(app, scope, receive)
        assert rule.delay is not None  # validated by FaultRule
        client_left = False
        async with anyio.create_task_group() as tasks:

            async def watch() -> None:
                nonlocal client_left
                await _until_disconnected(receive)
                client_left = True
                tasks.cancel_scope.cancel()

            tasks.start_soon(watch)
            await self.state.clock.sleep(rule.delay)
            tasks.cancel_scope.cancel()
        if client_left:
            return  # a client that timed out is gone; the answer goes nowhere
        for message in messages:
            await send(message)

    async def _wrong_shape(
        self, rule: FaultRule, scope: Scope, receive: Receive, send: Send, app: ASGIApp
    ) -> None:
        start, _ = _start_and_body(await _captured(app, scope, receive))
        payload = {"unexpected": True} if rule.body is None else rule.body
        body = json.dumps(payload, separators=(",", ":")).encode()
        # Keep the app's other headers (cache headers, …): only the body is wrong.
        headers = [
            (name, value)
            for name, value in start.get("headers", [])
            if name.lower() not in (b"content-length", b"content-type")
        ]
        headers += [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _trickle(
        self, rule: FaultRule, scope: Scope, receive: Receive, send: Send, app: ASGIApp
    ) -> None:
        start, body = _start_and_body(await _captured(app, scope, receive))
        assert rule.delay is not None  # validated by FaultRule
        delay = rule.delay
        await send(start)
        async with anyio.create_task_group() as tasks:

            async def drip() -> None:
                for index in range(len(body)):
                    await send(
                        {"type": "http.response.body", "body": body[index : index + 1], "more_body": True}
                    )
                    await self.state.clock.sleep(delay)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                tasks.cancel_scope.cancel()

            async def watch() -> None:
                await _until_disconnected(receive)
                tasks.cancel_scope.cancel()

            tasks.start_soon(drip)
            tasks.start_soon(watch)

    async def _corrupt_gzip(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        start, body = _start_and_body(await _captured(app, scope, receive))
        packed = bytearray(gzip.compress(body or b"{}"))
        # Damage the deflate stream past the 10-byte gzip header, so decoding fails midway.
        middle = 10 + max(1, (len(packed) - 18) // 2)
        for offset in range(middle, min(middle + 8, len(packed) - 8)):
            packed[offset] ^= 0xFF
        headers = [
            (name, value)
            for name, value in start.get("headers", [])
            if name.lower() not in (b"content-length", b"content-encoding")
        ]
        headers += [(b"content-length", str(len(packed)).encode()), (b"content-encoding", b"gzip")]
        await send({"type": "http.response.start", "status": start["status"], "headers": headers})
        await send({"type": "http.response.body", "body": bytes(packed), "more_body": False})

    # ------------------------------------------------------------------ answers instead of the app
    def _answer(self, rule: FaultRule) -> Response:
        config = self.state.config
        app_headers = {name.decode(): value.decode() for name, value in NO_CACHE_HEADERS}
        if rule.fault == "html":
            assert rule.status is not None
            return bodies.maintenance_page(rule.status)
        if rule.fault == "concurrency_limit":
            limit = config.concurrency_limit or CLOUD_DEFAULT_CONCURRENCY_LIMIT
            return bodies.concurrency_limited(limit, limit, headers=app_headers)
        if rule.fault == "rate_limit":
            return self._rate_limited(rule)
        status = rule.status
        assert status is not None
        headers = _retry_after_header(rule)
        if status in bodies.GATEWAY_REASONS:
            return bodies.gateway_error(status, headers)
        if status >= 500:
            return bodies.plain_status(status, headers)
        headers.update(app_headers)
        if status == 401 and (config.api_key is not None or config.flavor == "cloud"):
            return bodies.failed_to_authenticate(headers)
        return bodies.http_error(status, headers)

    def _rate_limited(self, rule: FaultRule) -> Response:
        headers: dict[str, str] = {}
        if rule.ratelimit_headers:
            now = self.state.clock.now()
            headers["X-RateLimit-Limit"] = "10"
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Reset"] = str(math.ceil(now + _seconds_until(rule.retry_after, now)))
        if rule.retry_after is not None:
            headers["Retry-After"] = rule.retry_after
        if self.state.config.flavor == "cloud":
            return bodies.cloud_rate_limited(bodies.CLOUD_RATE_LIMIT, headers)
        return bodies.rate_limited(headers)
