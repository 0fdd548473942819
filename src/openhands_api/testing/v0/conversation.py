"""One V0 conversation of the fake server: its record, its event log and its wire form.

Responsible for: the data a 1.6.0 server keeps per conversation (metadata, runtime status,
events) and rendering it as ``ConversationInfo`` (CONTRACT.md §3.1, key order as captured).

Not responsible for: lifecycle transitions or the agent (``v0/store.py``); HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .events import Event, iso_event_time, iso_info_time

STARTING = "STARTING"
RUNNING = "RUNNING"
STOPPED = "STOPPED"
STATUS_STARTING_RUNTIME = "STATUS$STARTING_RUNTIME"
STATUS_READY = "STATUS$READY"


def default_title(conversation_id: str) -> str:
    return f"Conversation {conversation_id[:5]}"


@dataclass
class V0Conversation:
    conversation_id: str
    created_at: float
    last_updated_at: float
    title: str
    trigger: str = "gui"
    selected_repository: str | None = None
    selected_branch: str | None = None
    git_provider: str | None = None
    pr_number: list[int] = field(default_factory=list)
    status: str = STARTING
    runtime_status: str | None = STATUS_STARTING_RUNTIME
    request: dict[str, Any] = field(default_factory=dict)
    """The create request as posted (after validation), for tests to inspect."""
    initial_user_msg: str | None = None
    image_urls: list[str] = field(default_factory=list)
    conversation_instructions: str = ""
    runtime_hosts: dict[str, int] = field(default_factory=dict)
    """``GET …/web-hosts`` and the workspace-context recall: ``{"http://localhost:<port>": <port>}``."""
    events: list[Event] = field(default_factory=list)
    agent_state: str | None = None
    """The newest ``agent_state_changed`` state (what a client derives from the events)."""
    user_messages: list[str] = field(default_factory=list)
    """Contents of every user message so far, oldest first (the directives are read from them)."""
    queued_messages: list[str] = field(default_factory=list)
    """Messages received while STARTING, answered when the runtime is up."""
    agent_ready: bool = False
    """An agent controller exists in the current runtime: a stop then appends ``stopped``."""
    tool_results: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def default_title(self) -> str:
        return default_title(self.conversation_id)

    @property
    def is_running(self) -> bool:
        """Has an agent loop (counts against ``max_concurrent_conversations``)."""
        return self.status in (STARTING, RUNNING)

    def append(self, body: Event, ts: float, *, touch: bool = True) -> int:
        """Add an event (``id`` and ``timestamp`` first, as on the wire); returns its id.

        ``touch`` updates ``last_updated_at``, as the real server's per-event callback does
        (it is already unsubscribed when the ``stopped`` event of a stop arrives).
        """
        event_id = len(self.events)
        event: Event = {"id": event_id, "timestamp": iso_event_time(ts)}
        event.update(body)
        self.events.append(event)
        if event.get("observation") == "agent_state_changed":
            self.agent_state = str(event["extras"]["agent_state"])
        if event.get("action") == "message" and event.get("source") == "user":
            self.user_messages.append(str(event["args"]["content"]))
        if touch:
            self.last_updated_at = max(self.last_updated_at, ts)
        return event_id

    def info(self) -> dict[str, Any]:
        """``ConversationInfo`` as ``GET /api/conversations/{id}`` returns it."""
        live = self.is_running
        return {
            "conversation_id": self.conversation_id,
            # An empty stored title (a PATCH of only spaces) is shown as the default one.
            "title": self.title or self.default_title,
            "last_updated_at": iso_info_time(self.last_updated_at),
            "status": self.status,
            "runtime_status": self.runtime_status if live else None,
            "selected_repository": self.selected_repository,
            "selected_branch": self.selected_branch,
            "git_provider": self.git_provider,
            "trigger": self.trigger,
            "num_connections": 0,
            "url": f"/api/conversations/{self.conversation_id}" if live else None,
            "session_api_key": None,
            "created_at": iso_info_time(self.created_at),
            "pr_number": list(self.pr_number),
            "conversation_version": "V0",
            "sub_conversation_ids": [],
            "public": None,
            "sandbox_id": None,
        }

    def summary(self) -> dict[str, Any]:
        """A compact view for ``GET /_fake/state``."""
        return {
            "conversation_id": self.conversation_id,
            "title": self.title or self.default_title,
            "status": self.status,
            "runtime_status": self.runtime_status if self.is_running else None,
            "agent_state": self.agent_state,
            "events": len(self.events),
            "trigger": self.trigger,
        }
