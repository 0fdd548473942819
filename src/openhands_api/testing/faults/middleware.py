"""The fake server's edge middleware: faults, the rate limiter and the crash guard.

Responsible for three layers of the stack ``serving/app.py`` assembles (the order is
documented there):

* ``FaultHookMiddleware`` — fault injection: ``state.fault_hook`` (``create_app`` installs
  ``injector.FaultInjector``, which carries out the rules and chaos of ``state.faults``)
  receives every HTTP request first and decides whether and how the rest of the stack runs.
  Outermost because real faults (proxies, load balancers, dropped connections) happen in
  front of the server: a faulted request may never reach the log, the limiter or auth.
* ``RateLimitMiddleware`` — the real per-IP limiter (``limiter.py``): outermost of the real
  server's own middleware, so its 429s carry no cache headers. With ``flavor="cloud"``
  Cloud's limiter instead: 429 ``{"error":"Rate limit exceeded: 10 per 1 second"}`` with
  ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` and ``Retry-After``.
* ``CrashGuardMiddleware`` — turns ``ServerCrash`` into the real server's bare 500
  ``text/plain`` ``Internal Server Error`` (no cache headers either), and closes the
  connection after it, as uvicorn does after an unhandled exception.

Not responsible for: routes, the request log, advancing time or the cache headers
(``core/middleware.py``). Everything under ``/_fake/`` bypasses faults and the limiter.
"""

from __future__ import annotations

import math

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core import error_bodies as bodies
from ..core.control import is_control
from ..core.state import FakeState
from .connection import crash_answer
from .crash import ServerCrash
from .limiter import Verdict


class FaultHookMiddleware:
    def __init__(self, app: ASGIApp, state: FakeState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hook = self.state.fault_hook
        if hook is None or scope["type"] != "http" or is_control(scope):
            await self.app(scope, receive, send)
            return
        await hook(scope, receive, send, self.app)


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, state: FakeState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The agent servers (/_agent/) are not behind the app server's limiter.
        if scope["type"] != "http" or is_control(scope) or scope["path"].startswith(("/assets", "/_agent/")):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = client[0] if client else "unknown"
        if self.state.config.flavor == "cloud":
            await self._cloud(scope, receive, send, key)
            return
        verdict = self.state.limiter.check(key, self.state.clock.now())
        if verdict is Verdict.REJECT:
            await bodies.rate_limited({"Retry-After": "1"})(scope, receive, send)
            return
        if verdict is Verdict.DELAY:
            await self.state.clock.sleep(self.state.config.rate_limit_delay)
        await self.app(scope, receive, send)

    async def _cloud(self, scope: Scope, receive: Receive, send: Send, client_key: str) -> None:
        key = client_key
        for name, value in scope["headers"]:
            if name == b"authorization":
                key = value.decode("latin-1")
                break
        now = self.state.clock.now()
        rejection = self.state.cloud_limiter.check(key, now)
        if rejection is None:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(rejection.reset - now))
        response = bodies.cloud_rate_limited(
            rejection.description,
            {
                "X-RateLimit-Limit": str(rejection.limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(math.ceil(rejection.reset)),
                "Retry-After": str(retry_after),
            },
        )
        await response(scope, receive, send)


class CrashGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ServerCrash:
            if started:
                raise
            await crash_answer(scope, receive, send)
