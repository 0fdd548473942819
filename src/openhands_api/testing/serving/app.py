"""Assembles the fake OpenHands server as one FastAPI (ASGI) application.

Responsible for: creating the state, including the routers of the configured generation(s)
(``generations``: V0 from ``v0/routes.py``, V1 from ``v1/routes.py``, or both), the health and
``/_fake/`` control routes, ``static_dir`` at ``/_fake/static/``, the conversations' web pages
(``core/web_page.py``), Cloud's web-app fallback (``flavor="cloud"``, ``core/cloud_web_app.py``,
last so every real route wins), the middleware stack in the right order, and the fault injector
(``faults/injector.py``) as the state's fault hook.

The middleware stack, outermost first (``faults/middleware.py`` the edge layers,
``core/middleware.py`` the plain ones):

(``CorsMiddleware`` from ``core/cors.py`` when ``cors_origin`` is configured: preflights are
answered before anything else sees them, and every answer gets the headers.)

0. ``DateHeaderMiddleware`` — the ``Date`` of every answer, from the fake's clock.
1. ``FaultHookMiddleware`` — every request outside ``/_fake/`` meets the fault hook first.
2. ``RequestLogMiddleware`` — ``state.requests``.
3. ``RateLimitMiddleware`` — the real (or Cloud's) rate limiter; its 429s have no cache headers.
4. ``CrashGuardMiddleware`` — ``ServerCrash`` → the bare 500, then the connection closes.
5. ``AdvanceMiddleware`` — simulated time up to now before the route runs.
6. ``CacheControlMiddleware`` — 1.6.0's cache headers on every normal answer.
7. (``BearerAuthMiddleware`` from ``core/auth.py`` when ``api_key`` is configured.)

Not responsible for: serving it (``serving/server.py`` runs uvicorn; ``httpx.ASGITransport`` can
call it in-process).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from ..core import middleware as core_mw
from ..core.auth import BearerAuthMiddleware
from ..core.cloud_web_app import build_web_app_router
from ..core.config import FakeServerConfig
from ..core.control import CONTROL_PREFIX, build_control_router
from ..core.cors import CorsMiddleware
from ..core.health import build_health_router
from ..core.origin import OriginMiddleware
from ..core.state import FakeState
from ..core.web_page import build_web_page_router
from ..faults import middleware as edge_mw
from ..faults.injector import FaultInjector
from ..v0.routes import build_v0_router
from ..v1.agent_server import build_agent_server_app
from ..v1.conversation import AGENT_SERVER_PREFIX
from ..v1.routes import build_v1_open_router, build_v1_router

STATIC_PREFIX = f"{CONTROL_PREFIX}/static"
"""Where ``static_dir`` is served."""

FAKE_VERSION = "1.6.0"
"""The ``openhands-ai`` version the V0 fake imitates; ``generations="v1"`` imitates 1.11.0
(``/openapi.json`` reports ``config.imitated_version``)."""


class FakeOpenHandsApp(FastAPI):
    """The fake server's ASGI app; ``fake_state`` is its state (see ``FakeState``)."""

    fake_state: FakeState


def create_app(config: FakeServerConfig | None = None, **overrides: Any) -> FakeOpenHandsApp:
    """A new fake server app with its own state.

    ``overrides`` are ``FakeServerConfig`` fields applied on top of ``config`` (or the
    defaults), e.g. ``create_app(session_api_key="k", speed=10)``.
    """
    base = config if config is not None else FakeServerConfig()
    effective = base.with_overrides(**overrides) if overrides else base
    state = FakeState(effective)

    app = FakeOpenHandsApp(
        title="OpenHands",
        description="OpenHands: Code Less, Make More (openhands-api fake server)",
        version=effective.imitated_version,
    )
    app.fake_state = state
    state.fault_hook = FaultInjector(state)

    app.include_router(build_health_router(state))
    app.include_router(build_control_router(state))
    if effective.serves_v0:
        app.include_router(build_v0_router(state))
    if effective.serves_v1:
        app.include_router(build_v1_open_router(state))
        app.include_router(build_v1_router(state))
    if effective.serves_v1:
        # Each sandbox's agent server, on this origin (the URLs the V1 records hand out).
        app.mount(AGENT_SERVER_PREFIX, build_agent_server_app(state))
    app.include_router(build_web_page_router(state))
    if effective.static_dir is not None:
        # Before Cloud's catch-all web app, so the files win; under /_fake/ so that no fault,
        # rate limit, log or key stands between a browser test and its page.
        app.mount(STATIC_PREFIX, StaticFiles(directory=os.fspath(effective.static_dir), html=True))
    if effective.flavor == "cloud":
        app.include_router(build_web_app_router())

    # add_middleware puts each new layer outside the previous ones: innermost first.
    if effective.api_key is not None:
        app.add_middleware(BearerAuthMiddleware, api_key=effective.api_key)
    app.add_middleware(core_mw.CacheControlMiddleware)
    app.add_middleware(core_mw.AdvanceMiddleware, state=state)
    app.add_middleware(edge_mw.CrashGuardMiddleware)
    if effective.rate_limit:
        app.add_middleware(edge_mw.RateLimitMiddleware, state=state)
    app.add_middleware(core_mw.RequestLogMiddleware, state=state)
    app.add_middleware(edge_mw.FaultHookMiddleware, state=state)
    app.add_middleware(core_mw.DateHeaderMiddleware, state=state)
    app.add_middleware(OriginMiddleware)
    if effective.cors_origin is not None:
        app.add_middleware(CorsMiddleware, origin=effective.cors_origin)
    return app
