"""Authentication of the fake server, in the two styles OpenHands uses.

Responsible for:

* Self-hosted ``SESSION_API_KEY`` (``session_api_key`` knob): a FastAPI dependency on the
  ``/api`` routers, as in 1.6.0 (``openhands/server/dependencies.py``). Being a router
  dependency has observable consequences the fake keeps: unknown ``/api/...`` paths still
  answer 404 (not 401), malformed JSON bodies still answer 422 first, and ``/alive``,
  ``/health``, ``/ready`` and ``/server_info`` stay open. Failure: 401 ``{"detail":"Unauthorized"}``.
* Cloud-style API key (``api_key`` knob): ``Authorization: Bearer <key>`` on every
  ``/api/`` path except ``/api/options/config`` and ``/api/v1/web-client/config`` (the web
  app reads it before anyone signs in), checked before routing like Cloud's
  middleware. Missing → 401 ``{"error":"NoCredentialsError"}``, wrong → 401
  ``{"error":"failed to authenticate"}`` (CONTRACT.md §1.3, from source). Unlike Cloud the
  fake accepts *only* the Bearer header, so a client sending the key elsewhere is caught.

The V1 routes follow the same rules; ``GET /api/v1/web-client/config`` never needs the
session key either (observed on 1.11.0).

Not responsible for: the refusals' bodies (``error_bodies.py``) or anything under ``/_fake/``
(test control, always open).
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Depends
from fastapi.security import APIKeyHeader
from starlette.types import ASGIApp, Receive, Scope, Send

from . import error_bodies as bodies
from .config import FakeServerConfig

_SESSION_HEADER = APIKeyHeader(name="X-Session-API-Key", auto_error=False)


def router_dependencies(config: FakeServerConfig) -> list[Any]:
    """Dependencies for every ``/api`` router: the session-key check when configured."""
    expected = config.session_api_key
    if not expected:
        return []

    async def check_session_api_key(session_api_key: str | None = Depends(_SESSION_HEADER)) -> None:
        if session_api_key is None or not secrets.compare_digest(session_api_key.encode(), expected.encode()):
            raise bodies.session_key_refused()

    return [Depends(check_session_api_key)]


_BEARER_EXEMPT = ("/api/options/config", "/api/v1/web-client/config")


def _bearer_exempt(path: str) -> bool:
    return not path.startswith("/api/") or path in _BEARER_EXEMPT


class BearerAuthMiddleware:
    """Cloud-style ``Authorization: Bearer`` check in front of the routes."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _bearer_exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        authorization = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        if not authorization.startswith("Bearer "):
            await bodies.bearer_missing()(scope, receive, send)
            return
        token = authorization[len("Bearer ") :]
        if not secrets.compare_digest(token.encode(), self.api_key.encode()):
            await bodies.failed_to_authenticate()(scope, receive, send)
            return
        await self.app(scope, receive, send)
