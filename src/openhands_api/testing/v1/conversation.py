"""The V1 records of the fake server — start task, sandbox, app conversation — and their wire form.

Responsible for: the data an ``openhands-ai`` 1.11.0 server keeps per start task, sandbox and
conversation (split as the real one splits it: app-server record, agent-server state, the
app server's copies of the events), and rendering them as ``AppConversationStartTask``,
``SandboxInfo``, ``AppConversation`` and the ``meta.json`` of a download (CONTRACT.md §6.2,
§6.3; key order as observed). ``dialect="1.6.0"`` renders the older AppConversation of
1.6.0 (no ``agent_kind``, ``tags``, ``acp_server``, ``launched_agent_profile``).

Not responsible for: lifecycle transitions or the agent (``v1/store.py``); HTTP.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from ..core.origin import request_origin
from .events import AGENT_SERVER_IMAGE, Event, iso_naive, iso_z, token_usage

# Start-task statuses (AppConversationStartTaskStatus).
READY = "READY"
ERROR = "ERROR"
TERMINAL_TASK_STATUSES = (READY, ERROR)

# Sandbox statuses (SandboxStatus).
SANDBOX_STARTING = "STARTING"
SANDBOX_RUNNING = "RUNNING"
SANDBOX_PAUSED = "PAUSED"
SANDBOX_ERROR = "ERROR"
SANDBOX_MISSING = "MISSING"
SANDBOX_STATUSES = (SANDBOX_STARTING, SANDBOX_RUNNING, SANDBOX_PAUSED, SANDBOX_ERROR, SANDBOX_MISSING)

ARCHIVE_WORKSPACE_PATH_TAG = "archiveworkspacepath"

AGENT_SERVER_PREFIX = "/_agent"
"""Where each sandbox's agent server answers on the fake's own origin:
``<origin>/_agent/<sandbox_id>`` is its ``AGENT_SERVER`` URL (``v1/agent_server.py``)."""


def agent_server_url(sandbox_id: str) -> str:
    """A sandbox's agent-server URL, on the origin of the request being served."""
    return f"{request_origin()}{AGENT_SERVER_PREFIX}/{sandbox_id}"


def dashed(hex_id: str) -> str:
    """The dashed form the real server's messages use."""
    return str(uuid.UUID(hex_id))


@dataclass
class V1StartTask:
    task_id: str
    created_at: float
    updated_at: float
    request: dict[str, Any]
    """The start request echo, defaults filled in (what ``request`` shows)."""
    status: str = "WORKING"
    detail: str | None = None
    app_conversation_id: str | None = None
    sandbox_id: str | None = None
    agent_server_sandbox_id: str | None = None
    """Set at ``STARTING_CONVERSATION``: ``agent_server_url`` is that sandbox's agent server."""
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    """Every state the task went through, as ``stream-start`` sends them."""

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_TASK_STATUSES

    def wire(self, *, from_database: bool = True) -> dict[str, Any]:
        """``AppConversationStartTask``; datetimes lack ``Z`` when read back from the database."""
        render = iso_naive if from_database else iso_z
        return {
            "id": self.task_id,
            "created_by_user_id": None,
            "status": self.status,
            "detail": self.detail,
            "app_conversation_id": self.app_conversation_id,
            "sandbox_id": self.sandbox_id,
            "agent_server_url": (
                agent_server_url(self.agent_server_sandbox_id) if self.agent_server_sandbox_id else None
            ),
            "request": self.request,
            "created_at": render(self.created_at),
            "updated_at": render(self.updated_at),
        }

    def snapshot(self) -> None:
        self.snapshots.append(self.wire(from_database=False))


@dataclass
class V1Sandbox:
    sandbox_id: str
    created_at: float
    session_api_key: str
    status: str = SANDBOX_STARTING

    @property
    def agent_server_url(self) -> str:
        return agent_server_url(self.sandbox_id)

    @property
    def exposes_urls(self) -> bool:
        return self.status == SANDBOX_RUNNING

    def wire(self) -> dict[str, Any]:
        """``SandboxInfo``: key and URLs only while RUNNING."""
        running = self.exposes_urls
        return {
            "id": self.sandbox_id,
            "created_by_user_id": None,
            "sandbox_spec_id": AGENT_SERVER_IMAGE,
            "status": self.status,
            "session_api_key": self.session_api_key if running else None,
            "exposed_urls": (
                [{"name": "AGENT_SERVER", "url": self.agent_server_url, "port": request_origin().port}]
                if running
                else None
            ),
            "created_at": iso_z(self.created_at),
        }


@dataclass
class V1Conversation:
    """One app conversation: the app server's record plus its agent's state on the agent server."""

    conversation_id: str
    sandbox_id: str
    created_at: float
    updated_at: float
    title: str | None
    llm_model: str
    selected_repository: str | None = None
    selected_branch: str | None = None
    git_provider: str | None = None
    trigger: str | None = None
    pr_number: list[int] = field(default_factory=list)
    parent_conversation_id: str | None = None
    public: bool | None = None
    tags: dict[str, str] = field(default_factory=dict)
    start_task_id: str | None = None

    # --- what the app server knows from webhooks (lags behind the agent) ----------------
    prompt_tokens: int = 0
    """Accumulated agent tokens as of the newest ``stats`` event the app server received."""
    completion_tokens: int = 0
    per_turn_token: int = 0

    # --- the agent server's conversation ------------------------------------------------
    execution_status: str = "idle"
    llm_response_ids: list[str] = field(default_factory=list)
    """One per LLM call of the agent (its title call included): the agent's token usage."""
    started_at: str = ""
    """When the agent server created the conversation (the agent context's ``current_datetime``)."""
    user_messages: list[str] = field(default_factory=list)
    """Text of every user message so far, oldest first (the directives are read from them)."""
    last_event_micros: int = 0
    leaf_event_id: str | None = None
    """The newest non-state event: what the next events point to as ``parent_id``."""
    last_user_message_id: str | None = None
    agent_initialised: bool = False
    """The ``SystemPromptEvent`` was sent (the first user message initialises the agent)."""
    title_requested: bool = False

    @property
    def metrics(self) -> dict[str, Any]:
        """``MetricsSnapshot`` as the app server rebuilds it from its database columns."""
        return {
            "model_name": "default",
            "accumulated_cost": 0.0,
            "max_budget_per_task": None,
            "accumulated_token_usage": token_usage(
                self.prompt_tokens, self.completion_tokens, self.per_turn_token, ""
            ),
        }

    def info(self, sub_conversation_ids: list[str], dialect: str) -> dict[str, Any]:
        """``AppConversationInfo`` (the stored part; ``meta.json`` of a download)."""
        out: dict[str, Any] = {
            "id": self.conversation_id,
            "created_by_user_id": None,
            "sandbox_id": self.sandbox_id,
            "selected_repository": self.selected_repository,
            "selected_branch": self.selected_branch,
            "git_provider": self.git_provider,
            "title": self.title,
            "trigger": self.trigger,
            "pr_number": list(self.pr_number),
            "llm_model": self.llm_model,
            "agent_kind": "openhands",
            "metrics": self.metrics,
            "parent_conversation_id": self.parent_conversation_id,
            "sub_conversation_ids": list(sub_conversation_ids),
            "public": self.public,
            "tags": dict(self.tags),
            "created_at": iso_z(self.created_at),
            "updated_at": iso_z(self.updated_at),
        }
        if dialect == "1.6.0":
            del out["agent_kind"], out["tags"]
        return out

    def wire(
        self, sandbox: V1Sandbox | None, sub_conversation_ids: list[str], dialect: str
    ) -> dict[str, Any]:
        """``AppConversation``: live fields only while the sandbox is RUNNING."""
        out = self.info(sub_conversation_ids, dialect)
        running = sandbox is not None and sandbox.exposes_urls
        out["sandbox_status"] = sandbox.status if sandbox is not None else SANDBOX_MISSING
        out["execution_status"] = self.execution_status if running else None
        out["conversation_url"] = (
            f"{sandbox.agent_server_url}/api/conversations/{self.conversation_id}"
            if running and sandbox is not None
            else None
        )
        out["session_api_key"] = sandbox.session_api_key if running and sandbox is not None else None
        if dialect != "1.6.0":
            out["acp_server"] = None
            out["launched_agent_profile"] = None
        return out

    def meta(self, sub_conversation_ids: list[str], dialect: str) -> dict[str, Any]:
        """``meta.json`` of ``GET …/download``: the stored record with its computed fields."""
        out = self.info(sub_conversation_ids, dialect)
        if dialect != "1.6.0":
            out["acp_server"] = None
            out["launched_agent_profile"] = None
        return out

    def summary(self, sandbox: V1Sandbox | None, events: int) -> dict[str, Any]:
        """A compact view for ``GET /_fake/state``."""
        return {
            "id": self.conversation_id,
            "title": self.title,
            "sandbox_id": self.sandbox_id,
            "sandbox_status": sandbox.status if sandbox is not None else SANDBOX_MISSING,
            "execution_status": self.execution_status,
            "events": events,
            "user_messages": len(self.user_messages),
        }


@dataclass
class EventLog:
    """The app server's copies of one conversation's events, and those still on their way.

    Events outlive their conversation: after a delete they stay readable (observed).
    """

    delivered: list[Event] = field(default_factory=list)
    pending: list[Event] = field(default_factory=list)
    """Emitted by the agent, not yet posted to the app server (webhook batching)."""
    published_only: set[str] = field(default_factory=set)
    """Ids of the events the agent server publishes to its subscribers (webhook and sockets)
    without keeping them in its own log: the whole-state updates at the start and after each
    run, streaming deltas. The app server stores them; the agent server's search and its
    sockets' resends never show them (observed on 1.11.0)."""
