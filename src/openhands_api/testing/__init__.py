"""A fake OpenHands server for testing code that drives the OpenHands REST API.

It imitates a self-hosted ``openhands-ai`` server — 1.6.0's V0 routes (``/api/conversations``
and friends, ``generations="v0"``, the default), 1.11.0's V1 routes (``/api/v1/...``: start
tasks, app conversations, sandboxes, events; ``generations="v1"``), or 1.6.0 serving both
(``generations="both"``) — and, with ``flavor="cloud"``, OpenHands Cloud where it visibly
differs. The same JSON shapes and key order, status codes and quirks; scripted agents whose
runs look like real ones (steered by the same ``[fake-llm ...]`` directives as the real
server's test LLM, so one scenario runs against both; ``[fake-start ...]`` makes V1 start
tasks fail or hang, and V0 runtimes never come up); optional authentication; the real rate
limiters; fault injection. Time is simulated lazily from a clock — nothing runs in the
background — so the app works served over loopback and in-process alike.

Public API::

    FakeServerConfig                   every knob (dataclass)
    create_app(config=None, **knobs)   the ASGI app; its state is ``app.fake_state``
    FakeOpenHandsServer(config=None, *, host="127.0.0.1", port=0, **knobs)
                                       uvicorn in a thread: start(), stop(), base_url,
                                       state, config; a context manager
    FakeState                          the state: conversations (V0), app_conversations and
                                       start_tasks (V1), create_calls, start_calls, requests,
                                       seed_workspace(), set_sandbox_status(), reset(), ...
    ManualClock, SystemClock, Clock    injectable time
    FaultRule(fault, *, method=None, path=None, times=1, skip=0, probability=1.0, status=None,
              delay=None, size=None, retry_after=None, ratelimit_headers=False, body=None,
              frames=None)
                                       a scripted fault for the requests it matches
    Chaos(probability=0.1, *, faults=..., statuses=(502, 503, 504, 500), paths=None,
          methods=None, seed=None, delay=1.0, retry_after="1", ratelimit_headers=False)
                                       random faults, repeatable for a seed
    FaultRecord                        a fault that fired (``state.faults.fired``)

Faults — ``FakeServerConfig(faults=[FaultRule(...)], fault_seed=0, chaos=None)``, at run time
``state.faults.add(rule) -> id``, ``.remove(id)``, ``.clear()``, ``.rules``, ``.fired``,
``.chaos = Chaos(...)`` / ``None``, or over HTTP ``/_fake/faults``. ``path`` is an ``fnmatch``
glob on the path without query (``"/api/conversations/*/events"``, ``"/api/v1/*"``); routes
under ``/_fake/`` are never faulted. The kinds (details in ``faults/injector.py``):

* ``reset_before`` — connection reset (TCP RST) after the request is sent; nothing happens.
* ``reset_after`` — the request is processed completely (a create creates), then the reset.
* ``slow`` — processed; the answer is held ``delay`` seconds (past a client's read timeout).
* ``status`` — ``status`` with the real stack's body for it (500 plain text, after which the
  connection closes as after the real server's unhandled exceptions; 502/503/504 a
  gateway's HTML, 401 ``{"detail":"Unauthorized"}`` or Cloud's ``{"error":"failed to
  authenticate"}``, 4xx ``{"detail": …}``); not processed.
* ``html`` — a "System Maintenance" HTML page, 500 or 200; not processed.
* ``truncated_json`` — processed; the real status and headers, half the body, delimited by
  closing the connection (no ``Content-Length``): a complete-looking answer whose JSON does
  not parse.
* ``wrong_shape`` — processed; 200 ``application/json`` ``{"unexpected": true}`` (or ``body``).
* ``rate_limit`` — 429 as the self-hosted or Cloud limiter words it, optional ``Retry-After``
  (seconds or HTTP-date) and ``X-RateLimit-*``; not processed.
* ``concurrency_limit`` — V1's 429 ``CONCURRENCY_LIMIT_REACHED``; not processed.
* ``trickle`` — processed; the real answer one byte every ``delay`` seconds (default 0.5):
  every read is quick, the whole never arrives in time.
* ``corrupt_gzip`` — processed; the real answer as ``Content-Encoding: gzip`` with a damaged
  deflate stream.
* ``oversize`` — processed; 200 JSON of ``size`` bytes (default 50 MB), streamed.
* ``gzip_bomb`` — processed; 200 JSON, gzip, a small body that inflates to ``size`` bytes
  (default 512 MiB).

WebSocket faults (``ws_`` kinds) match only the WebSocket handshakes of the agent-server tier
(below) and the kinds above only HTTP requests; chaos never draws them:

* ``ws_refuse`` — the upgrade is answered with ``status`` (default 403); no socket.
* ``ws_stall`` — accepted and authenticated, then nothing for ``delay`` seconds.
* ``ws_drop`` — the connection drops (no close frame) after ``frames`` frames.

Refused connections come before any request, so they are not a rule:
``FakeOpenHandsServer.refuse_connections(seconds)`` (``ECONNREFUSED``, then the same port
serves again). In-process (``httpx.ASGITransport``) resets raise ``httpx.ReadError`` from
the app; everything else behaves as over loopback.

Command line: ``python -m openhands_api.testing serve --port 8000 [--generations v1]
[--fault RULE_JSON]... [--chaos PROBABILITY --chaos-seed N]``. Pytest fixtures:
``fake_openhands`` and ``fake_openhands_factory`` (plugin ``openhands_api.testing.pytest_plugin``).
Routes under ``/_fake/`` are test controls, not part of OpenHands.

V1 agent servers (``v1/agent_server.py``, ``docs/fake-agent-server.md``): the URLs the V1
records hand out point at the fake's own origin — ``<origin>/_agent/<sandbox_id>`` is a
sandbox's ``AGENT_SERVER`` URL and ``agent_server_url``, ``conversation_url`` is
``<that>/api/conversations/<hex id>`` — and answer as the SDK's agent server: the sandbox's
``X-Session-API-Key`` (401 otherwise), 503 while the sandbox is not running (no agent server
there), ``GET /api/conversations/{id}``, ``…/events/search`` and ``…/events/count`` (the
agent's live log, no webhook lag), ``POST …/events``, ``…/agent_final_response``, and the
WebSocket ``/sockets/events/{id}`` (``resend_mode``, first-frame auth, close codes 4001,
4004 and 1013; knobs ``websocket_auth_timeout``, ``websocket_max_subscribers``).

Browser tests: ``static_dir`` (``serve --static DIR``) serves a directory at ``/_fake/static/``,
a page on the fake's own origin; ``cors_origin`` (``serve --cors ORIGIN|*``) answers preflights
and allows that origin on every answer. ``core/cors.py`` says how the real servers' CORS differs.

Layout (everything below is implementation; the names above are the public API):

    core/      shared pieces: state, config, clock, scheduler, directives, workspace, auth,
               plain middleware, CORS, health and ``/_fake/`` control routes, Cloud's web-app
               fallback, and ``error_bodies.py``, every error body in the real stack's words
    v0/        V0 (1.6.0): routes, store, conversation, scripted agent, events
    v1/        V1 (1.11.0 / 1.6.0): routes, request models, store, conversation, events, settings,
               and the agent servers (``agent_server.py``)
    faults/    edge behaviour: fault rules and injector, fault/rate-limit/crash middleware,
               rate limiters, the TCP connection handle and the crash answer
    serving/   app factory, uvicorn runner, ``serve`` command line, pytest fixtures
    __main__.py, pytest_plugin.py   entry points delegating to ``serving/``

Nothing here imports ``openhands_api`` outside this package (``tests/fake_server/test_independence.py``).

Requires the ``testing`` extra (FastAPI, uvicorn, websockets); nothing outside this subpackage imports them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core.clock import Clock, ManualClock, SystemClock
    from .core.config import FakeServerConfig
    from .core.state import FakeState, RequestRecord
    from .faults.rules import Chaos, FaultRecord, FaultRule
    from .serving.app import FakeOpenHandsApp, create_app
    from .serving.server import FakeOpenHandsServer
    from .v0.conversation import V0Conversation
    from .v1.conversation import V1Conversation, V1Sandbox, V1StartTask

# Exports load on first use: the pytest plugin lives in this package and is imported by
# every pytest run where openhands-api is installed, with or without FastAPI.
_EXPORTS = {
    "Chaos": ".faults.rules",
    "Clock": ".core.clock",
    "FakeOpenHandsApp": ".serving.app",
    "FakeOpenHandsServer": ".serving.server",
    "FakeServerConfig": ".core.config",
    "FakeState": ".core.state",
    "FaultRecord": ".faults.rules",
    "FaultRule": ".faults.rules",
    "ManualClock": ".core.clock",
    "RequestRecord": ".core.state",
    "SystemClock": ".core.clock",
    "V0Conversation": ".v0.conversation",
    "V1Conversation": ".v1.conversation",
    "V1Sandbox": ".v1.conversation",
    "V1StartTask": ".v1.conversation",
    "create_app": ".serving.app",
}

__all__ = [
    "Chaos",
    "Clock",
    "FakeOpenHandsApp",
    "FakeOpenHandsServer",
    "FakeServerConfig",
    "FakeState",
    "FaultRecord",
    "FaultRule",
    "ManualClock",
    "RequestRecord",
    "SystemClock",
    "V0Conversation",
    "V1Conversation",
    "V1Sandbox",
    "V1StartTask",
    "create_app",
]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(module_name, __name__)
    except ModuleNotFoundError as exc:
        if exc.name in ("fastapi", "uvicorn", "starlette"):
            raise ImportError(
                "the fake OpenHands server needs the 'testing' extra: pip install 'openhands-api[testing]'"
            ) from exc
        raise
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
