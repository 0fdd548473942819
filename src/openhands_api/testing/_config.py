"""Configuration of the fake OpenHands server: every knob in one dataclass.

Responsible for: the names, defaults and validation of the knobs, and the scaling of
simulated durations by ``speed``.

Not responsible for: acting on them (the app, the scheduler, the scripted agent and the
middleware read this object). Defaults mirror a self-hosted ``openhands-ai`` 1.6.0 server
with LLM settings stored and no authentication, except that simulated durations are short
so test suites stay fast.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ._clock import Clock, SystemClock

GENERATIONS = ("v0",)
"""Values accepted for ``FakeServerConfig.generations`` (V1 routes arrive later)."""


@dataclass
class FakeServerConfig:
    """All knobs of the fake server.

    Durations are in seconds of simulated time and are divided by ``speed`` (``speed=10``
    runs every simulated delay ten times faster). The rate limiter is not scaled: it
    mirrors a fixed property of the real server.
    """

    generations: str = "v0"
    """Which API generations to serve. Only ``"v0"`` for now."""

    # --- authentication (at most one of the two) -------------------------------------
    session_api_key: str | None = None
    """Self-hosted ``SESSION_API_KEY``: every ``/api/*`` route wants ``X-Session-API-Key``."""
    api_key: str | None = None
    """Cloud-style key: every ``/api/*`` route wants ``Authorization: Bearer <key>``."""

    # --- rate limiter (openhands/server/middleware.py) --------------------------------
    rate_limit: bool = True
    rate_limit_requests: int = 10
    """Requests per window and client IP served at once; as many again are delayed."""
    rate_limit_window: float = 1.0
    rate_limit_delay: float = 1.0
    """How long requests 11–20 of a window are held before being served."""

    # --- simulated time ---------------------------------------------------------------
    speed: float = 1.0
    startup_delay: float = 0.5
    """STARTING → RUNNING (the real server needs ~15–40 s to start a runtime)."""
    step_delay: float = 0.05
    """Duration of one agent step (LLM call); its events appear together at its end
    (real: ~0.06 s with the kit's fake LLM)."""
    title_delay: float = 0.1
    """Time from the first user message to the ``Fake title`` replacing the default title."""
    delete_starting_delay: float = 0.2
    """``DELETE`` of a STARTING conversation fails with a 500 after this (real: ~5–10 s)."""

    # --- scripted agent: server-wide defaults of the ``[fake-llm ...]`` directives ------
    llm_steps: int = 0
    llm_error: int | None = None
    llm_delay: float = 0.0
    llm_ask: bool = False

    # --- server behaviour ---------------------------------------------------------------
    max_concurrent_conversations: int = 3
    conversation_max_age_seconds: float = 864000.0
    """Older conversations are left out of the list (self-hosted default: 10 days)."""
    settings_stored: bool = True
    """False: like a fresh server, ``GET /api/settings`` → 404 and create → 400."""
    git_provider_token_configured: bool = True
    """False: creating with a ``repository`` fails with 500 text/plain, as on a real
    self-hosted server without a git provider token."""
    stopped_attach_cached: bool = True
    """How a STOPPED conversation answers ``/message`` and ``POST /events``.

    The real server caches a conversation it attached to for up to 15 s; while that cache is
    warm, ``/message`` gives 500 ``no_conversation:<id>`` (and ``POST /events`` a plain 500),
    afterwards both give 404. True models the warm cache (CONTRACT §2.3), False the cold one.
    """

    clock: Clock = field(default_factory=SystemClock)
    """Injectable clock; use ``ManualClock`` to drive time by hand."""

    def __post_init__(self) -> None:
        if self.generations not in GENERATIONS:
            raise ValueError(f"generations must be one of {GENERATIONS}, not {self.generations!r}")
        if self.session_api_key is not None and self.api_key is not None:
            raise ValueError("configure either session_api_key or api_key, not both")
        if self.speed <= 0:
            raise ValueError("speed must be > 0")
        for name in (
            "startup_delay",
            "step_delay",
            "title_delay",
            "delete_starting_delay",
            "llm_delay",
            "rate_limit_window",
            "rate_limit_delay",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.rate_limit_requests < 1:
            raise ValueError("rate_limit_requests must be >= 1")
        if self.max_concurrent_conversations < 1:
            raise ValueError("max_concurrent_conversations must be >= 1")

    def scaled(self, seconds: float) -> float:
        """A simulated duration in seconds of the injected clock."""
        return seconds / self.speed

    def with_overrides(self, **overrides: Any) -> FakeServerConfig:
        """A copy with some knobs changed (unknown names raise ``TypeError``)."""
        return dataclasses.replace(self, **overrides)

    def summary(self) -> dict[str, Any]:
        """The knobs as JSON-friendly values, secrets masked (for ``GET /_fake/state``)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("session_api_key", "api_key"):
                value = None if value is None else "***"
            elif f.name == "clock":
                value = type(value).__name__
            out[f.name] = value
        return out
