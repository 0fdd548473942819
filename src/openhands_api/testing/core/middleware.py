"""The fake server's plain middleware: the request log, simulated time and cache headers.

Responsible for four layers of the stack ``serving/app.py`` assembles (the order is
documented there):

* ``DateHeaderMiddleware`` — the ``Date`` header, from ``state.clock``.
* ``RequestLogMiddleware`` — records method, path, final status and the answer's body bytes
  in ``state.requests``; WebSocket handshakes too (``GET``, the path with its query as sent,
  101 once accepted, else the refusal's status), so a test sees a key a client put in a URL.
* ``AdvanceMiddleware`` — materialises simulated time up to now before the route runs.
* ``CacheControlMiddleware`` — the ``Cache-Control``/``Pragma``/``Expires`` headers every
  normal response of 1.6.0 carries (``NO_CACHE_HEADERS``; ``/assets`` get a long-lived one).

Not responsible for: faults, the rate limiter or crashes (``faults/middleware.py``), routes.
Everything under ``/_fake/`` stays out of the request log.
"""

from __future__ import annotations

from email.utils import formatdate

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .control import is_control
from .state import FakeState, RequestRecord

NO_CACHE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-cache, no-store, must-revalidate, max-age=0"),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
)
"""What 1.6.0 puts on every answer its routes give (errors raised in routes included)."""


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, state: FakeState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or is_control(scope):
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        path = scope["path"] + (f"?{query}" if query else "")
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send, path)
            return
        recorded: RequestRecord | None = None

        def record(status: int) -> None:
            nonlocal recorded
            if recorded is None:
                recorded = RequestRecord(scope["method"], path, status)
                self.state.record_request(recorded)

        async def record_status(message: Message) -> None:
            # Recorded when the answer starts, before its body leaves, and each chunk counted
            # before it leaves: a client that has read the whole answer always finds its
            # request, and all of its bytes, in the log.
            if message["type"] == "http.response.start":
                record(int(message["status"]))
            elif message["type"] == "http.response.body" and recorded is not None:
                recorded.body_bytes += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            record(0)  # the app never answered (it raised, or the client went away)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        recorded = False

        async def record_handshake(message: Message) -> None:
            nonlocal recorded
            if not recorded:
                status = {"websocket.accept": 101, "websocket.close": 403}.get(message["type"])
                if message["type"] == "websocket.http.response.start":
                    status = int(message["status"])
                if status is not None:
                    recorded = True
                    self.state.record_request(RequestRecord("GET", path, status))
            await send(message)

        try:
            await self.app(scope, receive, record_handshake)
        finally:
            if not recorded:
                self.state.record_request(RequestRecord("GET", path, 0))


class AdvanceMiddleware:
    def __init__(self, app: ASGIApp, state: FakeState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.state.advance()
        await self.app(scope, receive, send)


class CacheControlMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        assets = scope["path"].startswith("/assets")

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if assets:
                    headers.append((b"cache-control", b"public, max-age=2592000, immutable"))
                else:
                    headers.extend(NO_CACHE_HEADERS)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, add_headers)


class DateHeaderMiddleware:
    """``Date`` on every answer, from the fake's clock, in place of uvicorn's own (the server
    runs it with ``date_header=False``).

    On the real server uvicorn's Date and the app's stamps (``created_at``, event timestamps)
    read one clock; so they do here, with a ``ManualClock`` too. Clients use the Date to place
    the server's stamps on their own clock (the V0 lost-create lookup)."""

    def __init__(self, app: ASGIApp, state: FakeState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_date(message: Message) -> None:
            if message["type"] == "http.response.start":
                date = formatdate(self.state.clock.now(), usegmt=True).encode()
                message = {**message, "headers": [*message.get("headers", []), (b"date", date)]}
            await send(message)

        await self.app(scope, receive, add_date)
