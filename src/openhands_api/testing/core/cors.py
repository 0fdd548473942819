"""Cross-origin answers for browser tests: the ``cors_origin`` knob (``serve --cors ORIGIN|*``).

Responsible for: with ``cors_origin`` set, answering every CORS preflight (``OPTIONS`` with
``Access-Control-Request-Method``) itself with 204, and adding to every other answer
``Access-Control-Allow-Origin`` (the configured origin, or ``*``), so that a page served from
another origin can call the fake with ``fetch``. A preflight allows the methods the API uses and
the headers a client sends (``Authorization``, ``X-Session-API-Key``, ``Content-Type``); answers
expose the rate-limit hints (``Retry-After``, ``X-RateLimit-*``) to the page's script. Off by
default, like a deployment that configures no CORS at all.

The layer is the outermost one (``serving/app.py``): preflights never reach the fault hook, the
request log, the rate limiter or authentication, and every answer carries the headers, injected
faults and the limiter's 429s included, so a browser test sees their statuses.

What the real servers do (read from their source, checked by running their middleware):

- openhands-ai 1.6.0: ``openhands/server/listen.py`` adds ``LocalhostCORSMiddleware``
  (``openhands/server/middleware.py``), a Starlette ``CORSMiddleware`` with
  ``allow_origins=config.permitted_cors_origins`` (``OH_PERMITTED_CORS_ORIGINS_0``, ``_1`` …,
  else the comma-separated ``PERMITTED_CORS_ORIGINS``: ``openhands/app_server/config.py``),
  ``allow_credentials=True``, ``allow_methods=['*']``, ``allow_headers=['*']`` and no
  ``expose_headers``. With no origins configured (the default) its ``is_allowed_origin``
  allows *every* origin (logging a warning); localhost and 127.0.0.1 on any port always. It
  echoes the request's ``Origin`` (never ``*``) with ``Access-Control-Allow-Credentials: true``
  and ``Vary: Origin``; a preflight answers 200 ``OK`` with ``Access-Control-Allow-Methods:
  DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT``, the requested headers echoed, ``Max-Age: 600``.
- openhands-ai 1.11.0: the same class, now in ``openhands/app_server/middleware.py`` (re-exported
  by ``openhands/server/middleware.py``), added in ``openhands/app_server/app.py``; same
  configuration and behaviour.
- Both add ``RateLimitMiddleware`` *after* (outside) the CORS layer, so its 429
  (``{"message": "Too many requests"}``, ``Retry-After: 1``) carries no CORS headers: a browser
  sees a failed ``fetch``, not a 429. Preflights count against that limiter too.
- Neither exposes any header: a page's script cannot read ``Retry-After``, ``X-RateLimit-*`` or
  ``Date`` from a real server (only the CORS-safelisted ones, such as ``Content-Type``).
- The agent server in a V1 sandbox (``openhands/agent_server/middleware.py`` in 1.11.0) has its
  own ``LocalhostCORSMiddleware``: only ``allow_cors_origins`` (``OH_ALLOW_CORS_ORIGINS_0`` …,
  which the app server fills with its web URL and permitted origins), plus localhost,
  127.0.0.1 and ``DOCKER_HOST_ADDR``.

So the fake with ``cors_origin`` is kinder than a real server in two ways a browser client must
not rely on: it exposes the rate-limit hints, and its limiter's 429s are readable.

Not responsible for: serving the test page itself (``static_dir``, mounted in ``serving/app.py``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOWED_METHODS = "GET, POST, PATCH, PUT, DELETE, OPTIONS"
ALLOWED_HEADERS = "Authorization, X-Session-API-Key, Content-Type"
EXPOSED_HEADERS = "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
PREFLIGHT_MAX_AGE = "600"  # as the real servers' Starlette default


class CorsMiddleware:
    """CORS for ``origin`` (an origin such as ``http://127.0.0.1:5173``, or ``*``)."""

    def __init__(self, app: ASGIApp, origin: str) -> None:
        self.app = app
        self.origin = origin
        # A named origin varies by request to a cache; ``*`` is the same for all.
        self.vary = origin != "*"

    def _headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"access-control-allow-origin", self.origin.encode("latin-1"))]
        if self.vary:
            headers.append((b"vary", b"Origin"))
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = {key.lower(): value for key, value in scope.get("headers", [])}
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in request_headers:
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        *self._headers(),
                        (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
                        (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
                        (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (key, value)
                    for key, value in message.get("headers", [])
                    if not key.lower().startswith(b"access-control-")
                ]
                headers += self._headers()
                headers.append((b"access-control-expose-headers", EXPOSED_HEADERS.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cors)
