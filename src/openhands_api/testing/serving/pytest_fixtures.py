"""Pytest fixtures for the fake OpenHands server (the ``openhands_api`` plugin re-exports them).

Fixtures:

* ``fake_openhands`` — a started ``FakeOpenHandsServer`` with default knobs for one test,
  stopped afterwards. Use ``fake_openhands.base_url`` and ``fake_openhands.state``.
* ``fake_openhands_factory`` — ``factory(**knobs) -> FakeOpenHandsServer`` (started); every
  server it made is stopped at teardown. E.g. ``factory(session_api_key="k", speed=20)``,
  ``factory(generations="v1")`` for a 1.11.0-like V1 server, ``factory(generations="both")``
  for 1.6.0 with both generations, ``factory(generations="v1", flavor="cloud",
  api_key="k", concurrency_limit=3)`` for Cloud-like answers. ``FakeServerConfig`` lists every
  knob (V1: ``start_task_delay``, ``send_message_delay``, ``webhook_flush_delay``,
  ``start_error``, ``start_stuck``, …).

Faults: ``factory(faults=[FaultRule("reset_after", method="POST", path="/api/conversations")])``
or, during a test, ``fake_openhands.state.faults.add(FaultRule("status", status=503, times=2))``;
``state.faults.fired`` lists what fired. ``Chaos(0.2, seed=7)`` (``chaos=`` knob or
``state.faults.chaos = …``) adds repeatable random faults; ``fake_openhands.refuse_connections(s)``
makes connecting fail with ``ECONNREFUSED`` for ``s`` seconds. The kinds:

* ``reset_before`` — TCP reset after the request is sent; nothing happens server-side.
* ``reset_after`` — processed completely (a create creates), then the reset.
* ``slow`` — processed, answer held ``delay`` s: a shorter client read timeout fires.
* ``status`` — ``status`` with the real body for the code (500 plain text, 502/503/504 gateway
  HTML, 401/403/404 JSON in the configured auth's words); not processed.
* ``html`` — "System Maintenance" page, ``status`` 500 (default) or 200; not processed.
* ``truncated_json`` — processed; half the body, ended by closing the connection: bad JSON.
* ``wrong_shape`` — processed; 200 JSON of the wrong shape (``{"unexpected": true}`` or ``body``).
* ``rate_limit`` — 429 in the self-hosted or Cloud words, ``retry_after``, ``ratelimit_headers``.
* ``concurrency_limit`` — V1's 429 ``CONCURRENCY_LIMIT_REACHED``; not processed.

Match with ``method``, ``path`` (``fnmatch`` glob, e.g. ``"/api/conversations/*/events"``),
``skip`` (let N through first), ``times`` (None: every one) and ``probability``. In-process
(``httpx.ASGITransport``) a reset raises ``httpx.ReadError``.

This module is loaded by every pytest run in an environment where ``openhands-api`` is
installed, with or without the ``testing`` extra, so it imports FastAPI and uvicorn only
when a fixture is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .server import FakeOpenHandsServer


@pytest.fixture
def fake_openhands_factory() -> Iterator[Callable[..., FakeOpenHandsServer]]:
    from .server import FakeOpenHandsServer

    servers: list[FakeOpenHandsServer] = []

    def make(**knobs: Any) -> FakeOpenHandsServer:
        server = FakeOpenHandsServer(**knobs)
        servers.append(server)
        return server.start()

    yield make
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def fake_openhands(fake_openhands_factory: Callable[..., FakeOpenHandsServer]) -> FakeOpenHandsServer:
    return fake_openhands_factory()
