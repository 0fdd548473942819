"""A fake OpenHands server for testing code that drives the OpenHands REST API.

It imitates a self-hosted ``openhands-ai`` server — 1.6.0's V0 routes (``/api/conversations``
and friends, ``generations="v0"``, the default), 1.11.0's V1 routes (``/api/v1/...``: start
tasks, app conversations, sandboxes, events; ``generations="v1"``), or 1.6.0 serving both
(``generations="both"``) — and, with ``flavor="cloud"``, OpenHands Cloud where it visibly
differs. The same JSON shapes and key order, status codes and quirks; scripted agents whose
runs look like real ones (steered by the same ``[fake-llm ...]`` directives as the real
server's test LLM, so one scenario runs against both; ``[fake-start ...]`` makes V1 start
tasks fail or hang); optional authentication; the real rate limiters. Time is simulated
lazily from a clock — nothing runs in the background — so the app works served over loopback
and in-process alike.

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

Command line: ``python -m openhands_api.testing serve --port 8000 [--generations v1]``. Pytest fixtures:
``fake_openhands`` and ``fake_openhands_factory`` (plugin ``openhands_api.testing.pytest_plugin``).
Routes under ``/_fake/`` are test controls, not part of OpenHands.

Requires the ``testing`` extra (FastAPI, uvicorn); nothing outside this subpackage imports them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._app import FakeOpenHandsApp, create_app
    from ._clock import Clock, ManualClock, SystemClock
    from ._config import FakeServerConfig
    from ._server import FakeOpenHandsServer
    from ._state import FakeState, RequestRecord
    from ._v0_conversation import V0Conversation
    from ._v1_conversation import V1Conversation, V1Sandbox, V1StartTask

# Exports load on first use: the pytest plugin lives in this package and is imported by
# every pytest run where openhands-api is installed, with or without FastAPI.
_EXPORTS = {
    "Clock": "._clock",
    "FakeOpenHandsApp": "._app",
    "FakeOpenHandsServer": "._server",
    "FakeServerConfig": "._config",
    "FakeState": "._state",
    "ManualClock": "._clock",
    "RequestRecord": "._state",
    "SystemClock": "._clock",
    "V0Conversation": "._v0_conversation",
    "V1Conversation": "._v1_conversation",
    "V1Sandbox": "._v1_conversation",
    "V1StartTask": "._v1_conversation",
    "create_app": "._app",
}

__all__ = [
    "Clock",
    "FakeOpenHandsApp",
    "FakeOpenHandsServer",
    "FakeServerConfig",
    "FakeState",
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
