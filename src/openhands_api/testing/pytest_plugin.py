"""Pytest fixtures for the fake OpenHands server (registered as the ``openhands_api`` plugin).

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

This module is loaded by every pytest run in an environment where ``openhands-api`` is
installed, with or without the ``testing`` extra, so it imports FastAPI and uvicorn only
when a fixture is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._server import FakeOpenHandsServer


@pytest.fixture
def fake_openhands_factory() -> Iterator[Callable[..., FakeOpenHandsServer]]:
    from ._server import FakeOpenHandsServer

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
