"""The ``openhands_api`` pytest plugin (entry point ``pytest11``): fixtures for the fake server.

``fake_openhands`` and ``fake_openhands_factory``; documented, and implemented, in
``serving/pytest_fixtures.py``. Loaded by every pytest run where ``openhands-api`` is
installed, with or without the ``testing`` extra: nothing here imports FastAPI or uvicorn.
"""

from __future__ import annotations

from .serving.pytest_fixtures import fake_openhands, fake_openhands_factory

__all__ = ["fake_openhands", "fake_openhands_factory"]
