"""The origin (scheme, host, port) a request reached the fake on, for the URLs it hands out.

Responsible for: ``OriginMiddleware``, which notes each request's origin from its scope (the
``Host`` header as the client sent it; ``ws``/``wss`` count as ``http``/``https``), and
``request_origin()``, which the V1 records read when they render ``agent_server_url``,
``exposed_urls`` and ``conversation_url``. So those URLs point at this very fake — over
loopback (``http://127.0.0.1:PORT``) and in-process (``http://testserver``) alike — and the
agent-server tier (``v1/agent_server.py``) answers them.

Not responsible for: the agent-server routes themselves.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import NamedTuple

from starlette.types import ASGIApp, Receive, Scope, Send


class Origin(NamedTuple):
    scheme: str
    host: str
    """``host`` or ``host:port`` as in the ``Host`` header."""
    port: int

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}"


FALLBACK_ORIGIN = Origin("http", "localhost", 80)
"""Outside any request (a test reading the state directly)."""

_current: ContextVar[Origin | None] = ContextVar("openhands_api_fake_origin", default=None)


def request_origin() -> Origin:
    """The origin of the request being served (``FALLBACK_ORIGIN`` outside one)."""
    return _current.get() or FALLBACK_ORIGIN


def origin_of(scope: Scope) -> Origin:
    raw_scheme = str(scope.get("scheme") or "http")
    scheme = {"ws": "http", "wss": "https"}.get(raw_scheme, raw_scheme)
    default_port = 443 if scheme == "https" else 80
    host = ""
    for name, value in scope.get("headers", []):
        if name == b"host":
            host = value.decode("latin-1")
            break
    if not host:
        server = scope.get("server")
        if not server:
            return FALLBACK_ORIGIN
        name, port = server[0], server[1]
        host = name if port in (None, default_port) else f"{name}:{port}"
    port = default_port
    if host.rsplit(":", 1)[-1].isdigit() and not host.endswith("]"):
        port = int(host.rsplit(":", 1)[-1])
    return Origin(scheme, host, port)


class OriginMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token = _current.set(origin_of(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
