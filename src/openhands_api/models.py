"""Data models: the wire objects of each API generation, and the unified view over both.

Wire models keep what the server sends: unknown fields survive (``extra="allow"``) and enum
fields are plain strings, so a value the server invents tomorrow is kept, not refused. The
``str`` enums below (``ConversationStatus`` …) are the known values, for comparisons.

Unified models (:class:`Conversation`, :class:`Event`, :class:`ConversationResult`) are what the
generation-independent calls return; each keeps the wire object in ``raw``.

Secrets: ``session_api_key`` is a ``SecretStr``, and every secret-named key (``SECRET_KEYS``)
is masked inside ``raw``, so printing, logging or dumping a unified model never shows it.
Event pages remember whether their answer could hold such a key at all, so the events of the
many pages that cannot are not walked for secrets.

Responsibility: shapes and parsing only. Whether a conversation is done is decided in
``protocol/lifecycle.py``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, SecretStr, SkipValidation

__all__ = [
    "AgentState",
    "AppConversation",
    "AppConversationPage",
    "Conversation",
    "ConversationInfo",
    "ConversationPage",
    "ConversationResponse",
    "ConversationResult",
    "ConversationStatus",
    "Event",
    "ExecutionStatus",
    "GitChange",
    "GitDiff",
    "Outcome",
    "RuntimeStatus",
    "SandboxInfo",
    "SandboxPage",
    "SandboxStatus",
    "SendMessageResult",
    "SentMessage",
    "StartTask",
    "StartTaskPage",
    "StartTaskStatus",
    "V0Event",
    "V0EventPage",
    "V1Event",
    "V1EventPage",
]

SECRET_MASK = "***"
# Keys whose values are secrets wherever they appear: the session and LLM keys of both
# generations, and the secret fields of the V1 SDK's LLM config (``LLM_SECRET_FIELDS`` in
# openhands-ai 1.11.0), which every ``full_state`` update carries inside ``agent.llm`` and
# ``agent.condenser.llm`` (redacted by the server unless it was told to expose them).
SECRET_KEYS = frozenset(
    {
        "session_api_key",
        "api_key",
        "llm_api_key",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
    }
)


def parse_utc(value: Any) -> Any:
    """ISO datetimes with or without ``Z``/offset; a naive one is UTC (CONTRACT §3.1, §5.1)."""
    if isinstance(value, str):
        try:  # the common case first: every event has a timestamp
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        text = value.strip()
        if not text:
            return None
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


UTCDateTime = Annotated[datetime | None, BeforeValidator(parse_utc)]


# What a JSON text holding a secret-named key must contain: the key and its closing quote
# (``api_key"`` also finds ``session_api_key"``: one scan of the body less), or a ``\u``
# escape (which could spell a key name in disguise; servers write ASCII names literally).
_KEY_ENDS = {f'{key}"'.encode() for key in SECRET_KEYS}
_SECRET_MARKERS = (
    *sorted(end for end in _KEY_ENDS if not any(end != other and end.endswith(other) for other in _KEY_ENDS)),
    b"\\u",
)


def may_hold_secrets(body: bytes) -> bool:
    """False only when the JSON text ``body`` cannot hold a secret-named key anywhere.

    A byte search, much cheaper than walking the parsed value: answers without any secret
    (nearly every page of events) then need no masking at all."""
    return any(marker in body for marker in _SECRET_MARKERS)


def mask_secrets(value: Any) -> Any:
    """A JSON value with secret-named keys masked, copy-on-write: the dicts and lists on the
    path to a secret are copied (the original is never changed), everything else is shared,
    and a value without secrets is returned as it is."""
    if isinstance(value, dict):
        copied: dict[str, Any] | None = None
        for key, item in value.items():
            masked = SECRET_MASK if key in SECRET_KEYS and item else mask_secrets(item)
            if masked is not item:
                if copied is None:
                    copied = dict(value)
                copied[key] = masked
        return value if copied is None else copied
    if isinstance(value, list):
        copied_list: list[Any] | None = None
        for index, item in enumerate(value):
            masked = mask_secrets(item)
            if masked is not item:
                if copied_list is None:
                    copied_list = list(value)
                copied_list[index] = masked
        return value if copied_list is None else copied_list
    return value


def json_fields(model: BaseModel, *, exclude_none: bool = False) -> dict[str, Any]:
    """A model's fields and extra fields as a new dict that shares their values.

    For a wire model parsed from JSON whose fields are JSON types (the event models), this is
    what ``model_dump(mode="json")`` gives, without copying every nested value again;
    ``exclude_none`` drops top-level ``None``s as ``model_dump`` does."""
    data = {**model.__dict__, **(model.__pydantic_extra__ or {})}
    if exclude_none:
        return {key: value for key, value in data.items() if value is not None}
    return data


class WireModel(BaseModel):
    """Base of the wire models: tolerant, and readable like the dict it came from.

    ``model["conversation_id"]`` and ``model.get("url")`` work as they did for the raw dicts
    that earlier clients returned.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields:
            return getattr(self, key)
        extra = self.model_extra or {}
        if key in extra:
            return extra[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (key in type(self).model_fields or key in (self.model_extra or {}))


# ---------------------------------------------------------------------------- enums (known values)


class ConversationStatus(str, Enum):
    """V0 ``status``: the runtime's state, not the agent's (CONTRACT §3.4)."""

    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    ARCHIVED = "ARCHIVED"
    ERROR = "ERROR"


class RuntimeStatus(str, Enum):
    BUILDING_RUNTIME = "STATUS$BUILDING_RUNTIME"
    STARTING_RUNTIME = "STATUS$STARTING_RUNTIME"
    RUNTIME_STARTED = "STATUS$RUNTIME_STARTED"
    SETTING_UP_WORKSPACE = "STATUS$SETTING_UP_WORKSPACE"
    SETTING_UP_GIT_HOOKS = "STATUS$SETTING_UP_GIT_HOOKS"
    READY = "STATUS$READY"
    LLM_RETRY = "STATUS$LLM_RETRY"
    STOPPED = "STATUS$STOPPED"
    ERROR = "STATUS$ERROR"
    ERROR_RUNTIME_DISCONNECTED = "STATUS$ERROR_RUNTIME_DISCONNECTED"
    ERROR_LLM_AUTHENTICATION = "STATUS$ERROR_LLM_AUTHENTICATION"
    ERROR_LLM_SERVICE_UNAVAILABLE = "STATUS$ERROR_LLM_SERVICE_UNAVAILABLE"
    ERROR_LLM_INTERNAL_SERVER_ERROR = "STATUS$ERROR_LLM_INTERNAL_SERVER_ERROR"
    ERROR_LLM_OUT_OF_CREDITS = "STATUS$ERROR_LLM_OUT_OF_CREDITS"
    ERROR_LLM_CONTENT_POLICY_VIOLATION = "STATUS$ERROR_LLM_CONTENT_POLICY_VIOLATION"
    ERROR_MEMORY = "STATUS$ERROR_MEMORY"
    GIT_PROVIDER_AUTHENTICATION_ERROR = "STATUS$GIT_PROVIDER_AUTHENTICATION_ERROR"
    AGENT_RATE_LIMITED_STOPPED = "CHAT_INTERFACE$AGENT_RATE_LIMITED_STOPPED_MESSAGE"


class AgentState(str, Enum):
    """V0 agent states, found only in ``agent_state_changed`` events."""

    LOADING = "loading"
    RUNNING = "running"
    AWAITING_USER_INPUT = "awaiting_user_input"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"
    REJECTED = "rejected"
    ERROR = "error"
    AWAITING_USER_CONFIRMATION = "awaiting_user_confirmation"
    USER_CONFIRMED = "user_confirmed"
    USER_REJECTED = "user_rejected"
    RATE_LIMITED = "rate_limited"
    INIT = "init"


class Outcome(str, Enum):
    """Where a conversation's current turn stands, the same for V0 and V1 (CONTRACT §7.1)."""

    IN_PROGRESS = "in_progress"
    FINISHED = "finished"
    WAITING_FOR_USER = "waiting_for_user"
    BLOCKED = "blocked"
    FAILED = "failed"
    STOPPED = "stopped"
    GONE = "gone"

    @property
    def is_terminal(self) -> bool:
        """True when waiting longer will not change it without someone acting."""
        return self is not Outcome.IN_PROGRESS

    @property
    def succeeded(self) -> bool:
        """True when the agent ended its turn well (finished, or answered and awaits input)."""
        return self in (Outcome.FINISHED, Outcome.WAITING_FOR_USER)

    def __str__(self) -> str:
        return self.value


# ---------------------------------------------------------------------------- V0 wire models


class ConversationInfo(WireModel):
    """V0 ``GET /api/conversations/{id}`` and list items (CONTRACT §3.1)."""

    conversation_id: str
    title: str | None = None
    last_updated_at: UTCDateTime = None
    status: str | None = None
    runtime_status: str | None = None
    selected_repository: str | None = None
    selected_branch: str | None = None
    git_provider: str | None = None
    trigger: str | None = None
    num_connections: int | None = None
    url: str | None = None
    session_api_key: SecretStr | None = Field(default=None, repr=False)
    created_at: UTCDateTime = None
    pr_number: list[int] = Field(default_factory=list)
    conversation_version: str | None = None
    sub_conversation_ids: list[str] = Field(default_factory=list)
    public: bool | None = None
    sandbox_id: str | None = None
    llm_model: str | None = None


class ConversationResponse(WireModel):
    """V0 create/start/stop answer. ``status`` is the call's result, not the conversation's."""

    status: str | None = None
    conversation_id: str
    message: str | None = None
    conversation_status: str | None = None


class ConversationPage(WireModel):
    # Required, not defaulted: an answer without them is the wrong shape, not an empty page.
    results: list[ConversationInfo]
    next_page_id: str | None


class V0Event(WireModel):
    """One V0 event (CONTRACT §3.5). Exactly one of ``action`` / ``observation`` is set."""

    id: int
    timestamp: str | None = None
    source: str | None = None
    message: str | None = None
    cause: int | None = None
    action: str | None = None
    observation: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    content: str | None = None
    extras: dict[str, Any] = Field(default_factory=dict)
    tool_call_metadata: dict[str, Any] | None = Field(default=None, repr=False)
    llm_metrics: dict[str, Any] | None = Field(default=None, repr=False)

    @property
    def agent_state(self) -> str | None:
        """The new agent state if this is an ``agent_state_changed`` observation."""
        if self.observation == "agent_state_changed":
            state = self.extras.get("agent_state")
            return state if isinstance(state, str) else None
        return None

    @property
    def kind(self) -> str:
        if self.action is not None:
            return f"action:{self.action}"
        if self.observation is not None:
            return f"observation:{self.observation}"
        return "unknown"


class EventPage(WireModel):
    """Base of the event pages: remembers whether the answer could hold a secret at all."""

    _may_hold_secrets: bool = PrivateAttr(default=True)

    @property
    def may_hold_secrets(self) -> bool:
        """False when the answer's bytes held no secret-named key (:func:`may_hold_secrets`):
        its events then need no masking. True unless the route that parsed it checked."""
        return self._may_hold_secrets

    def checked_for_secrets(self, body: bytes) -> None:
        """Record what :func:`may_hold_secrets` says of the answer this page was parsed from."""
        self._may_hold_secrets = may_hold_secrets(body)


class V0EventPage(EventPage):
    events: list[V0Event]
    has_more: bool


class GitChange(WireModel):
    """One changed path. V0 uses letters (``M``, ``A``, ``D``); V1 words (``ADDED`` …)."""

    status: str
    path: str


class GitDiff(WireModel):
    modified: str | None = None
    original: str | None = None


# ---------------------------------------------------------------------------- unified view


class Conversation(BaseModel):
    """One conversation, the same shape for V0 and V1 (CONTRACT §7.2).

    ``outcome`` is filled when the conversation was read together with its agent state
    (``get_conversation``, ``wait``, a listing with ``with_outcome=True``). Listed without it,
    a V1 row has the outcome its sandbox and execution status decide (they cannot tell a
    question to the user from a finished turn), and a V0 row ``None`` (its list item has no
    agent state; deciding it costs an events read per conversation).
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    api_version: str
    web_url: str
    title: str | None = None
    runtime: str | None = None
    agent_state: str | None = None
    outcome: Outcome | None = None
    outcome_detail: str | None = None
    repository: str | None = None
    branch: str | None = None
    git_provider: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    trigger: str | None = None
    pr_numbers: list[int] = Field(default_factory=list)
    llm_model: str | None = None
    cost: float | None = None
    tokens: dict[str, Any] | None = None
    start_task_id: str | None = None
    sandbox_id: str | None = None
    parent_id: str | None = None
    sub_conversation_ids: list[str] = Field(default_factory=list)
    runtime_url: str | None = Field(default=None, repr=False)
    session_api_key: SecretStr | None = Field(default=None, repr=False)
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    def __getitem__(self, key: str) -> Any:
        """Dict-style reads for scripts written against raw dicts.

        ``conversation_id`` is the id, ``url`` the web page; other keys read ``raw``.
        """
        if key == "conversation_id":
            return self.id
        if key == "url":
            return self.web_url
        if key in self.raw:
            return self.raw[key]
        if key in type(self).model_fields:
            return getattr(self, key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


class Event(BaseModel):
    """One event, the same shape for V0 and V1 (CONTRACT §7.2).

    ``id`` is a string for both (V0's integer id as text; ``seq`` keeps the integer).
    ``kind`` is ``action:<name>`` / ``observation:<name>`` for V0 and the V1 ``kind``.
    ``text`` is the best human-readable text of the event, or None.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    seq: int | None = None
    timestamp: datetime | None = None
    source: str | None = None
    kind: str
    text: str | None = None
    # Built by the library from a wire event it has just validated: validating it again would
    # copy every event's dict once more (a third of what building an Event costs).
    raw: SkipValidation[dict[str, Any]] = Field(default_factory=dict, repr=False)


class ConversationResult(BaseModel):
    """What a finished wait (or ``result()``) tells: the outcome and what the agent produced.

    Dict-style reads keep scripts written for the seed client working:
    ``result["status"]`` is the outcome (``"finished"``, ``"failed"`` …), ``result["url"]``
    the conversation's web page, ``result["conversation_id"]`` the id; other keys read the
    conversation's wire object.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    conversation_id: str
    outcome: Outcome
    detail: str | None = None
    final_message: str | None = None
    pr_numbers: list[int] = Field(default_factory=list)
    web_url: str
    conversation: Conversation
    # A snapshot of a wait over a live stream (``on_progress``): the newest event it saw.
    # Not part of the result's data (left out of dumps): what was happening, for a display.
    latest_event: Event | None = Field(default=None, exclude=True, repr=False)

    def __getitem__(self, key: str) -> Any:
        if key == "status":
            return self.outcome.value
        if key == "url":
            return self.web_url
        if key in type(self).model_fields:
            value = getattr(self, key)
            return value.value if isinstance(value, Outcome) else value
        return self.conversation[key]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


class SentMessage(BaseModel):
    """Receipt of ``send_message``: pass it to ``wait(after=…)`` to wait for *this* turn.

    ``marker`` is the newest V0 event id seen before the message was sent; for V1,
    ``execution_status`` is the status just before and ``previous_message_id`` the newest
    user message event then (see ``lifecycle.SettleTracker``).
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    conversation_id: str
    marker: int | None = None
    execution_status: str | None = None
    previous_message_id: str | None = None


# ---------------------------------------------------------------------------- V1 wire models


class StartTaskStatus(str, Enum):
    """V1 start-task statuses, in order; only READY and ERROR are terminal (CONTRACT §6.2)."""

    WORKING = "WORKING"
    WAITING_FOR_SANDBOX = "WAITING_FOR_SANDBOX"
    PREPARING_REPOSITORY = "PREPARING_REPOSITORY"
    RUNNING_SETUP_SCRIPT = "RUNNING_SETUP_SCRIPT"
    SETTING_UP_GIT_HOOKS = "SETTING_UP_GIT_HOOKS"
    SETTING_UP_SKILLS = "SETTING_UP_SKILLS"
    STARTING_CONVERSATION = "STARTING_CONVERSATION"
    READY = "READY"
    ERROR = "ERROR"


class SandboxStatus(str, Enum):
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    ERROR = "ERROR"
    MISSING = "MISSING"


class ExecutionStatus(str, Enum):
    """V1 ``execution_status``; ``idle`` is the state *before* a run, not an end."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    WAITING_FOR_CONFIRMATION = "waiting_for_confirmation"
    FINISHED = "finished"
    ERROR = "error"
    STUCK = "stuck"
    DELETING = "deleting"


class StartTask(WireModel):
    """``AppConversationStartTask``: what V1 create returns; READY carries the conversation id."""

    id: str
    created_by_user_id: str | None = None
    status: str | None = None
    detail: str | None = None
    app_conversation_id: str | None = None
    sandbox_id: str | None = None
    agent_server_url: str | None = None
    request: dict[str, Any] | None = Field(default=None, repr=False)
    created_at: UTCDateTime = None
    updated_at: UTCDateTime = None


class AppConversation(WireModel):
    """V1 ``AppConversation`` (CONTRACT §6.3). Live fields are null unless the sandbox runs."""

    id: str
    created_by_user_id: str | None = None
    sandbox_id: str | None = None
    selected_repository: str | None = None
    selected_branch: str | None = None
    git_provider: str | None = None
    title: str | None = None
    trigger: str | None = None
    pr_number: list[int] = Field(default_factory=list)
    llm_model: str | None = None
    agent_kind: str | None = None
    metrics: dict[str, Any] | None = Field(default=None, repr=False)
    parent_conversation_id: str | None = None
    sub_conversation_ids: list[str] = Field(default_factory=list)
    public: bool | None = None
    tags: dict[str, Any] = Field(default_factory=dict)
    created_at: UTCDateTime = None
    updated_at: UTCDateTime = None
    sandbox_status: str | None = None
    execution_status: str | None = None
    conversation_url: str | None = None
    session_api_key: SecretStr | None = Field(default=None, repr=False)
    acp_server: str | None = None
    launched_agent_profile: dict[str, Any] | None = None


class AppConversationPage(WireModel):
    items: list[AppConversation]
    next_page_id: str | None


class StartTaskPage(WireModel):
    items: list[StartTask]
    next_page_id: str | None


class ExposedUrl(WireModel):
    name: str | None = None
    url: str | None = None
    port: int | None = None


class SandboxInfo(WireModel):
    id: str
    created_by_user_id: str | None = None
    sandbox_spec_id: str | None = None
    status: str | None = None
    session_api_key: SecretStr | None = Field(default=None, repr=False)
    exposed_urls: list[ExposedUrl] | None = None
    created_at: UTCDateTime = None


class SandboxPage(WireModel):
    items: list[SandboxInfo]
    next_page_id: str | None


class V1Event(WireModel):
    """One V1 event; ``kind`` says which (CONTRACT §6.5). Every other field is kept as sent."""

    id: str
    kind: str = "unknown"
    timestamp: str | None = None
    source: str | None = None
    parent_id: str | None = None


class V1EventPage(EventPage):
    items: list[V1Event]
    next_page_id: str | None


class SendMessageResult(WireModel):
    success: bool = False
    sandbox_status: str | None = None
    message: str | None = None
