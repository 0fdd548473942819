"""Shared test settings: every test runs with a clean OpenHands environment.

A developer's own OPENHANDS_* variables, key file or profiles must not leak into tests, so they are
removed and HOME points at an empty temporary directory for each test.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_openhands_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in (
        "OPENHANDS_API_KEY",
        "OPENHANDS_CLOUD_API_KEY",
        "OPENHANDS_BASE_URL",
        "OPENHANDS_CLOUD_API_URL",
        "OPENHANDS_SESSION_API_KEY",
        "OPENHANDS_PROFILE",
        "OPENHANDS_API_VERSION",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",  # the CLI remembers API versions there: one test's must not be another's
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
