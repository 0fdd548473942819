"""The fake server's state and its Python control surface.

Responsible for: everything a running fake server remembers — the conversations (per
generation store: ``v0`` and ``v1``, wired together for ``generations="both"``, whose V0
list also lists V1 conversations), stored settings (shared by the V0 and V1 settings
routes), the seeded workspace and git answers, counters, a log of requests, the rate
limiters' history, the fault rules and chaos (``faults``, see ``faults/rules.py``) and the
fault-injection hook, the way to refuse connections when a ``FakeOpenHandsServer`` serves the
app — plus the lock that serialises access from the server thread and a test thread, and
``advance()``, which materialises every simulated change that is due by now (see
``core/scheduler.py``).

Not responsible for: HTTP (routers, middleware). Tests reach this object as
``server.state`` / ``app.fake_state``; it is not part of OpenHands.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from ..faults.limiter import CloudRateLimiter, RateLimiter
from ..faults.rules import FaultSet
from ..v0.conversation import V0Conversation
from ..v0.store import V0Store
from ..v1.conversation import SANDBOX_STATUSES, V1Conversation, V1StartTask
from ..v1.store import V1Store
from .config import FakeServerConfig
from .scheduler import Scheduler
from .workspace import Workspace

FaultHook = Callable[[Scope, Receive, Send, ASGIApp], Awaitable[None]]
"""``async hook(scope, receive, send, app)``: serve the request — by calling ``app`` or not.

The extension point for fault injection (connection resets, slow or HTML answers, 5xx,
429s): it sees every HTTP request first, before the rate limiter and authentication.
``create_app`` installs ``faults.injector.FaultInjector``, which carries out ``state.faults``; a hook
of your own replaces it (and with it the rules and chaos).
"""


class ListenerControl(Protocol):
    """The listening socket of a ``FakeOpenHandsServer``, for ``POST /_fake/refuse_connections``.

    Both run on the server's event loop."""

    async def refuse(self, seconds: float) -> None:
        """Refuse new connections for ``seconds``; idle keep-alive connections are closed."""

    async def accept(self) -> None:
        """Accept connections again now."""


SETTINGS_KEYS: tuple[str, ...] = (
    "language",
    "agent",
    "max_iterations",
    "security_analyzer",
    "confirmation_mode",
    "llm_model",
    "llm_api_key",
    "llm_base_url",
    "user_version",
    "remote_runtime_resource_factor",
    "secrets_store",
    "enable_default_condenser",
    "enable_sound_notifications",
    "enable_proactive_conversation_starters",
    "enable_solvability_analysis",
    "user_consents_to_analytics",
    "sandbox_base_container_image",
    "sandbox_runtime_container_image",
    "mcp_config",
    "disabled_skills",
    "search_api_key",
    "sandbox_api_key",
    "max_budget_per_task",
    "condenser_max_size",
    "email",
    "email_verified",
    "git_user_name",
    "git_user_email",
    "v1_enabled",
    "sandbox_grouping_strategy",
)
"""Stored settings fields in the order ``GET /api/settings`` of 1.6.0 returns them."""

_SETTINGS_DEFAULTS: dict[str, Any] = {
    "agent": "CodeActAgent",
    "secrets_store": {"provider_tokens": {}},
    "enable_default_condenser": True,
    "enable_sound_notifications": False,
    "enable_proactive_conversation_starters": True,
    "enable_solvability_analysis": True,
    "v1_enabled": True,
    "sandbox_grouping_strategy": "NO_GROUPING",
}

STORED_SETTINGS: dict[str, Any] = {
    "llm_model": "openai/fake",
    "llm_api_key": "sk-fake",
    "llm_base_url": None,
    "agent": "CodeActAgent",
}
"""What ``settings_stored=True`` starts with (like the kit storing its fake LLM's settings)."""


@dataclass
class RequestRecord:
    method: str
    path: str
    """Path with query string, as sent."""
    status: int
    body_bytes: int = 0
    """Bytes of the answer's body sent so far: complete once the client has read the answer
    (counted before each chunk leaves), so tests can pin what a call downloads."""


class FakeState:
    """Everything the fake server knows; safe to use from the test thread."""

    def __init__(self, config: FakeServerConfig) -> None:
        self.config = config
        self.clock = config.clock
        self.lock = threading.RLock()
        self.scheduler = Scheduler(self.clock.now, config.scaled)
        self.v0 = V0Store(config, self.scheduler)
        self.v1 = V1Store(config, self.scheduler, lambda: self.settings)
        if config.generations == "both":
            self.v0.v1_source = self.v1.v0_list_source
        self.workspace = Workspace()
        self.git_changes: list[dict[str, str]] = []
        """What ``GET …/git/changes`` returns (``[{"status": "M", "path": "a.py"}, …]``)."""
        self.git_diffs: dict[str, dict[str, str]] = {}
        """``path -> {"modified": …, "original": …}`` for ``GET …/git/diff``; others fail
        (V0: 500, V1: 502 ``Agent server error: 400``)."""
        self.settings: dict[str, Any] | None = None
        self.limiter = RateLimiter(config.rate_limit_requests, config.rate_limit_window)
        self.cloud_limiter = CloudRateLimiter()
        self._requests: deque[RequestRecord] = deque(maxlen=10_000)
        self.faults = FaultSet(config.faults, seed=config.fault_seed, chaos=config.chaos)
        """Fault rules, chaos and the log of fired faults: ``add(rule) -> id``, ``remove(id)``,
        ``clear()``, ``rules``, ``chaos`` (settable; None is off), ``fired``."""
        self.fault_hook: FaultHook | None = None
        self.listener: ListenerControl | None = None
        """Set by ``FakeOpenHandsServer``; None when the app is called in-process."""
        self.reset()

    # ------------------------------------------------------------------ time
    def now(self) -> float:
        return self.scheduler.now()

    def advance(self) -> None:
        """Apply every simulated change due by the clock's now."""
        with self.lock:
            self.scheduler.run_until()

    # ------------------------------------------------------------------ control
    @property
    def conversations(self) -> dict[str, V0Conversation]:
        """The V0 conversations by id, materialised up to now (the live objects)."""
        self.advance()
        return self.v0.conversations

    @property
    def create_calls(self) -> int:
        """Successful V0 create requests since the last reset."""
        return self.v0.create_calls

    @property
    def evicted(self) -> list[str]:
        """V0 conversations the server stopped to make room for another (over its
        ``max_concurrent_conversations``, as 1.6.0 does), since the last reset."""
        self.advance()
        return list(self.v0.evicted)

    @property
    def start_calls(self) -> int:
        """Accepted V1 starts (``POST /api/v1/app-conversations`` and ``stream-start``)."""
        return self.v1.start_calls

    @property
    def app_conversations(self) -> dict[str, V1Conversation]:
        """The V1 conversations by hex id, materialised up to now (the live objects)."""
        self.advance()
        return self.v1.conversations

    @property
    def start_tasks(self) -> dict[str, V1StartTask]:
        """The V1 start tasks by hex id, materialised up to now (the live objects)."""
        self.advance()
        return self.v1.tasks

    def app_conversation(self, conversation_id: str) -> V1Conversation:
        """One V1 conversation (hex or dashed id), materialised up to now; ``KeyError`` if unknown."""
        return self.app_conversations[conversation_id.replace("-", "").lower()]

    def set_sandbox_status(self, sandbox_id: str, status: str) -> None:
        """Force a V1 sandbox into ``status`` — e.g. ``ERROR`` (send-message → 503) or an
        archived ``MISSING`` that still exists (→ 410). ``KeyError`` if unknown."""
        if status not in SANDBOX_STATUSES:
            raise ValueError(f"status must be one of {SANDBOX_STATUSES}")
        with self.lock:
            self.scheduler.run_until()
            if not self.v1.set_sandbox_status(sandbox_id, status):
                raise KeyError(sandbox_id)

    @property
    def requests(self) -> list[RequestRecord]:
        """The most recent HTTP requests served, oldest first (``/_fake/`` routes excluded, and
        requests a fault answered without the app: see ``faults.fired``)."""
        with self.lock:
            return list(self._requests)

    def record_request(self, record: RequestRecord) -> None:
        with self.lock:
            self._requests.append(record)

    def conversation(self, conversation_id: str) -> V0Conversation:
        """One conversation, materialised up to now; ``KeyError`` if unknown."""
        return self.conversations[conversation_id]

    def reset(self) -> None:
        """Forget all conversations, requests and seeded data; settings, fault rules and chaos
        as configured (rule counters and random draws start over, the fault log is emptied)."""
        with self.lock:
            self.scheduler.clear()
            self.v0.reset()
            self.v1.reset()
            self.workspace.clear()
            self.git_changes = []
            self.git_diffs = {}
            self.settings = dict(STORED_SETTINGS) if self.config.settings_stored else None
            self.limiter.reset()
            self.cloud_limiter.reset()
            self._requests.clear()
            self.faults.reset()

    def seed_workspace(self, files: Mapping[str, str | bytes]) -> None:
        """Add files to the workspace (``{"src/app.py": "print(1)", "empty-dir/": ""}``)."""
        with self.lock:
            self.workspace.seed(files)

    def forget_settings(self) -> None:
        """As on a fresh server: ``GET /api/settings`` → 404, create → 400 settings not found."""
        with self.lock:
            self.settings = None

    def store_settings(self, values: Mapping[str, Any]) -> None:
        """What ``POST /api/settings`` does: merge ``values`` into the stored settings."""
        with self.lock:
            current = dict(self.settings or {})
            keep_if_missing = (
                "llm_api_key",
                "llm_model",
                "llm_base_url",
                "search_api_key",
                "user_consents_to_analytics",
                "disabled_skills",
            )
            merged = {k: v for k, v in values.items() if k in SETTINGS_KEYS}
            for key in keep_if_missing:
                if merged.get(key) is None and key in current:
                    merged[key] = current[key]
            if merged.get("llm_base_url") == "":
                merged["llm_base_url"] = None
            self.settings = merged

    def settings_view(self) -> dict[str, Any] | None:
        """``GET /api/settings``: stored values over defaults, secrets replaced by ``*_set`` flags."""
        with self.lock:
            if self.settings is None:
                return None
            stored = self.settings
            view: dict[str, Any] = {}
            for key in SETTINGS_KEYS:
                view[key] = stored.get(key, _SETTINGS_DEFAULTS.get(key))
            view["secrets_store"] = {"provider_tokens": {}}
            view["provider_tokens_set"] = {}
            view["llm_api_key_set"] = bool(stored.get("llm_api_key"))
            view["search_api_key_set"] = bool(stored.get("search_api_key"))
            for secret in ("llm_api_key", "search_api_key", "sandbox_api_key"):
                view[secret] = None
            return view

    def snapshot(self) -> dict[str, Any]:
        """A JSON-friendly summary for ``GET /_fake/state``."""
        with self.lock:
            self.scheduler.run_until()
            return {
                "config": self.config.summary(),
                "now": self.now(),
                "create_calls": self.v0.create_calls,
                "settings_stored": self.settings is not None,
                "conversations": [c.summary() for c in self.v0.conversations.values()],
                "v1": self.v1.snapshot(),
                "workspace_files": sorted(self.workspace.files),
                "requests": len(self._requests),
            }
