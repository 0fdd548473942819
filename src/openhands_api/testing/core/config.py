"""Configuration of the fake OpenHands server: every knob in one dataclass.

Responsible for: the names, defaults and validation of the knobs (an invalid one raises
``ConfigError``, which names knobs so that the ``serve`` command can word them as its flags), and
the scaling of simulated durations by ``speed``.

Not responsible for: acting on them (the app, the scheduler, the scripted agents and the
middleware read this object). Defaults mirror a self-hosted ``openhands-ai`` server (1.6.0
for V0 and ``"both"``, 1.11.0 for ``generations="v1"``) with LLM settings stored and no
authentication, except that simulated durations are short so test suites stay fast.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..faults.rules import Chaos, FaultRule
from .clock import Clock, SystemClock
from .directives import START_STATUSES

GENERATIONS = ("v0", "v1", "both")
"""Values accepted for ``FakeServerConfig.generations``."""

FLAVORS = ("selfhosted", "cloud")
"""Values accepted for ``FakeServerConfig.flavor``."""


_NO_VALUE: Any = object()


@dataclass(frozen=True)
class Knob:
    """A knob an invalid configuration names, with the value it needs or has, if that matters.

    ``ConfigError`` keeps knobs apart from the words around them so each audience reads its
    own names: Python users ``flavor="cloud"``, the ``serve`` command's users ``--flavor cloud``.
    """

    name: str
    """The ``FakeServerConfig`` field."""
    value: Any = _NO_VALUE
    """The value the message is about; ``_NO_VALUE`` when it names only the knob."""

    @property
    def has_value(self) -> bool:
        return self.value is not _NO_VALUE

    def as_python(self) -> str:
        """``speed``, ``flavor="cloud"``: as a keyword argument of ``FakeServerConfig``."""
        if not self.has_value:
            return self.name
        value = f'"{self.value}"' if isinstance(self.value, str) else repr(self.value)
        return f"{self.name}={value}"


class ConfigError(ValueError):
    """An invalid ``FakeServerConfig``: ``str()`` names the knobs as Python does
    (``flavor="cloud" needs generations="v1": …``); ``render`` names them another way (the
    ``serve`` command renders ``--flavor cloud needs --generations v1: …``)."""

    def __init__(self, *parts: str | Knob) -> None:
        self.parts = parts
        super().__init__(self.render(Knob.as_python))

    @property
    def knobs(self) -> tuple[Knob, ...]:
        """The knobs the message names, in order."""
        return tuple(part for part in self.parts if isinstance(part, Knob))

    def render(self, name: Callable[[Knob], str]) -> str:
        """The message with each knob written by ``name``."""
        return "".join(part if isinstance(part, str) else name(part) for part in self.parts)


@dataclass
class FakeServerConfig:
    """All knobs of the fake server.

    Durations are in seconds of simulated time and are divided by ``speed`` (``speed=10``
    runs every simulated delay ten times faster). The rate limiter is not scaled: it
    mirrors a fixed property of the real server.
    """

    generations: str = "v0"
    """Which API generations to serve, like which server:

    * ``"v0"`` — the V0 routes of ``openhands-ai`` 1.6.0 (``/api/conversations`` …) only.
    * ``"v1"`` — ``openhands-ai`` 1.11.0: V1 only (``/api/v1/…``); V0 paths answer 404.
    * ``"both"`` — ``openhands-ai`` 1.6.0 as it is: V0 and its V1 surface in one process. That
      V1 surface lacks ``send-message``, ``DELETE /app-conversations/{id}``, ``git/*`` and
      ``/api/v1/settings``, and the V0 list also lists V1 conversations.
    """
    flavor: str = "selfhosted"
    """``"cloud"`` behaves like OpenHands Cloud where it differs visibly: the web app's HTML
    (200) for ``GET /api/v1/app-conversations/{id}`` and unknown GET paths, ``app_mode``
    ``"saas"``, Cloud's rate limiter (fixed windows per key, ``X-RateLimit-*`` headers) instead
    of the self-hosted one. Requires ``generations="v1"`` (Cloud has no V0); combine with
    ``api_key`` for Cloud's Bearer authentication and ``concurrency_limit`` for its 429s."""

    # --- authentication (at most one of the two) -------------------------------------
    session_api_key: str | None = None
    """Self-hosted ``SESSION_API_KEY``: every ``/api/*`` route wants ``X-Session-API-Key``."""
    api_key: str | None = None
    """Cloud-style key: every ``/api/*`` route wants ``Authorization: Bearer <key>``."""

    # --- rate limiter (openhands/server/middleware.py; Cloud's with flavor="cloud") ------
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

    # --- V1 simulated time --------------------------------------------------------------
    start_task_delay: float = 0.5
    """V1 ``POST /app-conversations`` → start task ``READY``; ``WORKING`` takes 60 % of it,
    the six statuses after it share the rest (real 1.11.0: 6–25 s, mostly ``WORKING``)."""
    run_start_delay: float = 0.05
    """V1 ``execution_status`` ``idle`` → ``running`` after ``READY`` or a message with
    ``run: true`` (real: 20–400 ms)."""
    send_message_delay: float = 0.1
    """V1 ``send-message`` → the message reaches the agent. Until then the previous
    ``execution_status`` (typically the last run's ``finished``) is still what the server
    reports: the stale state a client must not take for the new run's result."""
    sandbox_resume_delay: float = 0.0
    """``POST /sandboxes/{id}/resume`` → ``RUNNING``; the sandbox is ``STARTING`` meanwhile
    (the kit's process sandboxes: instantly; Docker and Cloud runtimes: seconds)."""
    webhook_flush_delay: float | None = None
    """The lag of the V1 app server's event list behind the agent. ``None``: none, every event
    is listed at once. A number: as on the real server, the agent server posts events in
    batches of ``webhook_batch_size`` and a partial batch this many seconds after its first
    event (upstream default 30 s, the kit's ``--webhook-flush-delay``). ``execution_status``
    is live either way."""
    webhook_batch_size: int = 5

    # --- scripted agent: server-wide defaults of the ``[fake-llm ...]`` directives ------
    llm_steps: int = 0
    llm_error: int | None = None
    llm_delay: float = 0.0
    llm_ask: bool = False

    # --- V1 faults -------------------------------------------------------------------------
    start_error: bool = False
    """Every V1 start task ends in ``ERROR`` (as with ``[fake-start error]`` in the message)."""
    start_stuck: str | None = None
    """Every V1 start task stays in this status forever (as ``[fake-start stuck=STATUS]``)."""
    concurrency_limit: int | None = None
    """Cloud's cap on running sandboxes: a V1 create while this many sandboxes are starting
    or running answers 429 ``CONCURRENCY_LIMIT_REACHED``. None: no cap (self-hosted)."""

    # --- V1 agent server (``v1/agent_server.py``) ---------------------------------------------
    websocket_auth_timeout: float = 10.0
    """Seconds (real ones) the agent server's ``/sockets/events/{id}`` waits for the first
    frame ``{"type":"auth",…}`` before it closes with 4001 (the real server: 10)."""
    websocket_max_subscribers: int = 50
    """WebSocket subscribers one conversation takes; the next is closed with 1013 (the real
    agent server's event service: 50)."""

    # --- fault injection (``faults/injector.py``; change at run time through ``state.faults``) ------
    faults: list[FaultRule] = field(default_factory=list)
    """Fault rules active from the start (``state.reset()`` restores them)."""
    fault_seed: int = 0
    """Seed of the draws for rules with ``probability < 1``, and of chaos without its own seed."""
    chaos: Chaos | None = None
    """Random faults from the start, e.g. ``Chaos(0.1, seed=7)``. None: no chaos."""

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

    # --- browser tests -------------------------------------------------------------------
    cors_origin: str | None = None
    """Answer CORS preflights and allow this origin (``"http://127.0.0.1:5173"``, or ``"*"``
    for any) on every answer, exposing ``Retry-After`` and ``X-RateLimit-*`` (``core/cors.py``,
    which also says what the real servers do). None: no CORS headers at all."""
    static_dir: str | os.PathLike[str] | None = None
    """A directory served at ``/_fake/static/`` (``index.html`` for a directory), so a test page
    and its scripts load from the fake's own origin and call it without CORS. Outside the
    API: no faults, rate limit, log or authentication there."""

    clock: Clock = field(default_factory=SystemClock)
    """Injectable clock; use ``ManualClock`` to drive time by hand."""

    def __post_init__(self) -> None:
        if self.generations not in GENERATIONS:
            raise ConfigError(Knob("generations"), f" must be one of {GENERATIONS}, not {self.generations!r}")
        if self.flavor not in FLAVORS:
            raise ConfigError(Knob("flavor"), f" must be one of {FLAVORS}, not {self.flavor!r}")
        if self.flavor == "cloud" and self.generations != "v1":
            raise ConfigError(
                Knob("flavor", "cloud"), " needs ", Knob("generations", "v1"), ": Cloud serves no V0 routes"
            )
        if self.start_stuck is not None and self.start_stuck not in START_STATUSES:
            raise ConfigError(Knob("start_stuck"), f" must be one of {START_STATUSES} or None")
        if self.session_api_key is not None and self.api_key is not None:
            raise ConfigError(
                "configure either ", Knob("session_api_key"), " or ", Knob("api_key"), ", not both"
            )
        # Written as "not >": NaN, which compares false with everything, is refused too.
        if not self.speed > 0:
            raise ConfigError(Knob("speed"), " must be > 0")
        for name in (
            "startup_delay",
            "step_delay",
            "title_delay",
            "delete_starting_delay",
            "start_task_delay",
            "run_start_delay",
            "send_message_delay",
            "sandbox_resume_delay",
            "llm_delay",
            "rate_limit_window",
            "rate_limit_delay",
        ):
            if not getattr(self, name) >= 0:
                raise ConfigError(Knob(name), " must be >= 0")
        if self.rate_limit_requests < 1:
            raise ConfigError(Knob("rate_limit_requests"), " must be >= 1")
        if self.max_concurrent_conversations < 1:
            raise ConfigError(Knob("max_concurrent_conversations"), " must be >= 1")
        if not self.websocket_auth_timeout > 0:
            raise ConfigError(Knob("websocket_auth_timeout"), " must be > 0")
        if isinstance(self.websocket_max_subscribers, bool) or self.websocket_max_subscribers < 1:
            raise ConfigError(Knob("websocket_max_subscribers"), " must be >= 1")
        if self.webhook_flush_delay is not None and not self.webhook_flush_delay >= 0:
            raise ConfigError(Knob("webhook_flush_delay"), " must be >= 0 when set")
        if self.webhook_batch_size < 1:
            raise ConfigError(Knob("webhook_batch_size"), " must be >= 1")
        if self.concurrency_limit is not None and self.concurrency_limit < 1:
            raise ConfigError(Knob("concurrency_limit"), " must be >= 1 when set")
        if self.cors_origin is not None and not _is_origin_or_any(self.cors_origin):
            raise ConfigError(
                Knob("cors_origin", self.cors_origin),
                " is not an origin: give scheme://host[:port] with no path (http://127.0.0.1:5173), or *",
            )
        if self.static_dir is not None:
            self.static_dir = os.fspath(self.static_dir)
            if not os.path.isdir(self.static_dir):
                raise ConfigError(Knob("static_dir", self.static_dir), " is not a directory")
        self.faults = list(self.faults)
        if not all(isinstance(rule, FaultRule) for rule in self.faults):
            raise ConfigError(Knob("faults"), " must be FaultRule objects")
        if isinstance(self.fault_seed, bool) or not isinstance(self.fault_seed, int):
            raise ConfigError(Knob("fault_seed"), " must be an integer")
        if self.chaos is not None and not isinstance(self.chaos, Chaos):
            raise ConfigError(Knob("chaos"), " must be a Chaos or None")

    @property
    def serves_v0(self) -> bool:
        return self.generations in ("v0", "both")

    @property
    def serves_v1(self) -> bool:
        return self.generations in ("v1", "both")

    @property
    def imitated_version(self) -> str:
        """The ``openhands-ai`` release whose routes are served (``/openapi.json`` reports it)."""
        return "1.11.0" if self.generations == "v1" else "1.6.0"

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
            elif f.name == "faults":
                value = [rule.to_json() for rule in value]
            elif f.name == "chaos":
                value = None if value is None else value.to_json()
            out[f.name] = value
        return out


def _is_origin_or_any(text: str) -> bool:
    """``*``, or an origin as a browser sends it: ``http(s)://host[:port]``, nothing after."""
    if text == "*":
        return True
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not parts.path
        and not parts.query
        and not parts.fragment
        and "@" not in parts.netloc
    )
