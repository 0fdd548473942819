"""The V1 routes (``/api/v1/…``: OpenHands Cloud, openhands-ai ≥ 1.7), each described once.

Quirks handled here (CONTRACT.md §5): create returns a *start task*, not a conversation;
there is no ``GET /app-conversations/{id}`` (Cloud answers it with the web app's HTML), so one
conversation is read through the batch route ``?ids=`` (at most 99 ids per call); ``limit`` is
1–100; ``DELETE /sandboxes/{id}`` reads the id from the *query* (sent in both places); ids are
UUIDs sent as 32 hex characters (dashed input is accepted and normalised). No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import InvalidInputError, ProtocolError
from ..models import (
    AppConversation,
    AppConversationPage,
    Conversation,
    Event,
    GitChange,
    SandboxInfo,
    SandboxPage,
    SendMessageResult,
    StartTask,
    StartTaskPage,
    V1Event,
    V1EventPage,
    json_fields,
    mask_secrets,
    parse_utc,
)
from .http import Call, Request, Response, query, web_url
from .lifecycle import sandbox_runtime
from .parsing import checked_page_call, download_call, json_call, model_call, probe_call
from .validation import validate_id, validate_limit, validate_message, validate_repository, validate_title

API = "/api/v1"
CONVERSATIONS = f"{API}/app-conversations"
MAX_BATCH_IDS = 99  # GET ?ids= answers 400 "Maximum is 99" beyond this
MAX_START_TASK_IDS = 100
MAX_LIMIT = 100
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")

# AppConversationStartRequest fields (CONTRACT §6.1), plus the newer Cloud observability ones.
CREATE_OPTIONS = frozenset(
    {
        "sandbox_id",
        "conversation_id",
        "system_message_suffix",
        "processors",
        "llm_model",
        "agent_profile_id",
        "suggested_task",
        "trigger",
        "pr_number",
        "parent_conversation_id",
        "agent_type",
        "public",
        "plugins",
        "secrets",
        "observability_span_name",
        "observability_tags",
        "observability_metadata",
    }
)


def conversation_id_hex(value: str, what: str = "conversation id") -> str:
    """A V1 UUID id as 32 lowercase hex characters (the form the server returns)."""
    validate_id(value, what)
    if not _UUID_RE.fullmatch(value):
        raise InvalidInputError(
            f"The {what} {value!r} is not a V1 id (a UUID: 32 hex characters, dashes allowed)"
        )
    return value.replace("-", "").lower()


def _conversation_path(conversation_id: str, suffix: str = "") -> str:
    return f"{CONVERSATIONS}/{conversation_id_hex(conversation_id)}{suffix}"


def _sandbox_path(sandbox_id: str, suffix: str = "") -> str:
    return f"{API}/sandboxes/{quote(validate_id(sandbox_id, 'sandbox id'), safe='')}{suffix}"


def message_content(text: str, image_urls: Sequence[str] | None = None) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = [{"type": "text", "text": validate_message(text)}]
    if image_urls:
        content.append({"type": "image", "image_urls": list(image_urls)})
    return content


def create_body(
    prompt: str | None,
    *,
    title: str | None = None,
    repository: str | None = None,
    branch: str | None = None,
    git_provider: str | None = None,
    image_urls: Sequence[str] | None = None,
    conversation_instructions: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The AppConversationStartRequest body. ``run`` is sent explicitly: its default is false."""
    unknown = sorted(set(options) - CREATE_OPTIONS)
    if unknown:
        raise InvalidInputError(
            f"Unknown V1 create option(s) {', '.join(unknown)}; "
            f"V1 accepts {', '.join(sorted(CREATE_OPTIONS))}"
        )
    if prompt is None:
        raise InvalidInputError(
            "A conversation needs an initial message: one without it holds compute and does nothing"
        )
    body: dict[str, Any] = {
        "initial_message": {"role": "user", "content": message_content(prompt, image_urls), "run": True}
    }
    if title is not None:
        body["title"] = validate_title(title)
    if repository is not None:
        body["selected_repository"] = validate_repository(repository)
    if branch is not None:
        if not branch.strip():
            raise InvalidInputError("The branch name is empty")
        body["selected_branch"] = branch
    if git_provider is not None:
        body["git_provider"] = git_provider
    if conversation_instructions is not None:
        # V1's nearest equivalent of V0's conversation_instructions.
        body["system_message_suffix"] = conversation_instructions
    if options.get("conversation_id") is not None:
        options["conversation_id"] = conversation_id_hex(options["conversation_id"])
    body.update({k: v for k, v in options.items() if v is not None})
    return body


# ---------------------------------------------------------------------------- app conversations


def start_conversation(body: dict[str, Any]) -> Call[StartTask]:
    """``POST /api/v1/app-conversations`` → a start task. Not idempotent."""
    return model_call(Request("POST", CONVERSATIONS, json=body, idempotent=False), StartTask)


def get_start_tasks(ids: Sequence[str]) -> Call[list[StartTask | None]]:
    """``GET …/start-tasks?ids=…`` (≤ 100): one entry per id, ``None`` for unknown."""
    if not ids or len(ids) > MAX_START_TASK_IDS:
        raise InvalidInputError(f"Ask for 1 to {MAX_START_TASK_IDS} start tasks at a time")
    params = tuple(("ids", conversation_id_hex(i, "start-task id")) for i in ids)
    return _aligned(Request("GET", f"{CONVERSATIONS}/start-tasks", params=params), StartTask, len(ids))


def search_start_tasks(
    *,
    conversation_id: str | None = None,
    created_at_gte: datetime | str | None = None,
    page_id: str | None = None,
    limit: int = 100,
) -> Call[StartTaskPage]:
    """One page of start tasks, newest first. ``conversation_id`` matches the conversation a
    task *made* (set at READY), not the id its request asked for."""
    params = query(
        conversation_id__eq=None if conversation_id is None else conversation_id_hex(conversation_id),
        created_at__gte=_iso(created_at_gte),
        page_id=page_id,
        limit=validate_limit(limit, 1, MAX_LIMIT),
    )
    return model_call(Request("GET", f"{CONVERSATIONS}/start-tasks/search", params=params), StartTaskPage)


def get_conversations(ids: Sequence[str]) -> Call[list[AppConversation | None]]:
    """``GET /api/v1/app-conversations?ids=…`` (≤ 99): aligned with ``ids``, ``None`` for unknown.

    The only way to read one conversation: there is no GET by path (CONTRACT §5.2)."""
    if not ids or len(ids) > MAX_BATCH_IDS:
        raise InvalidInputError(f"Ask for 1 to {MAX_BATCH_IDS} conversations per request")
    params = tuple(("ids", conversation_id_hex(i)) for i in ids)
    return _aligned(Request("GET", CONVERSATIONS, params=params), AppConversation, len(ids))


def _aligned(request: Request, model: Any, count: int) -> Call[Any]:
    inner = model_call(request, list[model | None])

    def parse(response: Response) -> Any:
        items = inner.parse(response)
        if len(items) != count:
            raise ProtocolError(
                f"{request.describe()} answered {len(items)} items for {count} ids",
                method=request.method,
                path=request.path,
            )
        return items

    return Call(request, parse)


SEARCH_FILTERS = frozenset(
    {
        "title__contains",
        "created_at__gte",
        "created_at__lt",
        "updated_at__gte",
        "updated_at__lt",
        "sandbox_id__eq",
        "include_sub_conversations",
    }
)


def _filters(filters: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(filters) - SEARCH_FILTERS)
    if unknown:
        raise InvalidInputError(
            f"Unknown V1 search filter(s) {', '.join(unknown)}; use {', '.join(sorted(SEARCH_FILTERS))}"
        )
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in filters.items()}


def search_conversations(
    *, page_id: str | None = None, limit: int = 100, **filters: Any
) -> Call[AppConversationPage]:
    """One page of ``GET …/search``, newest first."""
    params = query(page_id=page_id, limit=validate_limit(limit, 1, MAX_LIMIT), **_filters(filters))
    return model_call(Request("GET", f"{CONVERSATIONS}/search", params=params), AppConversationPage)


def count_conversations(**filters: Any) -> Call[int]:
    return model_call(Request("GET", f"{CONVERSATIONS}/count", params=query(**_filters(filters))), int)


def update_conversation(
    conversation_id: str,
    *,
    title: str | None = None,
    public: bool | None = None,
    selected_repository: str | None = None,
    selected_branch: str | None = None,
    git_provider: str | None = None,
) -> Call[AppConversation]:
    """``PATCH …/{id}``: only the given fields change."""
    body: dict[str, Any] = {}
    if title is not None:
        body["title"] = validate_title(title)
    if public is not None:
        body["public"] = public
    if selected_repository is not None:
        body["selected_repository"] = validate_repository(selected_repository)
    if selected_branch is not None:
        body["selected_branch"] = selected_branch
    if git_provider is not None:
        body["git_provider"] = git_provider
    if not body:
        raise InvalidInputError("Nothing to update: give a title, public, or repository fields")
    return model_call(Request("PATCH", _conversation_path(conversation_id), json=body), AppConversation)


def delete_conversation(conversation_id: str) -> Call[bool]:
    """``DELETE …/{id}`` (not on 1.6.0): also ends the sandbox. 404 when unknown."""
    request = Request("DELETE", _conversation_path(conversation_id))
    return json_call(request, lambda body: bool(isinstance(body, dict) and body.get("success")))


def send_message(
    conversation_id: str, text: str, *, run: bool = True, image_urls: Sequence[str] | None = None
) -> Call[SendMessageResult]:
    """``POST …/send-message`` (PR #14182). 409 when the sandbox is not running: it never
    resumes on its own. Not idempotent."""
    body = {"role": "user", "content": message_content(text, image_urls), "run": run}
    request = Request(
        "POST", _conversation_path(conversation_id, "/send-message"), json=body, idempotent=False
    )
    return model_call(request, SendMessageResult)


def download_conversation(conversation_id: str, destination: Path) -> Call[int]:
    """``GET …/download``: the zip of ``meta.json`` + every event, streamed to ``destination``."""
    return download_call(
        Request("GET", _conversation_path(conversation_id, "/download"), stream_to=destination)
    )


def read_file(conversation_id: str, file_path: str) -> Call[str]:
    """``GET …/file?file_path=``: the text; ``""`` when missing or the sandbox is paused."""
    if not file_path:
        raise InvalidInputError("The file path is empty")
    request = Request("GET", _conversation_path(conversation_id, "/file"), params=query(file_path=file_path))

    def convert(value: Any) -> str:
        if isinstance(value, str):
            return value
        raise ProtocolError(f"{request.describe()} answered without file text", path=request.path)

    return json_call(request, convert)


def git_changes(conversation_id: str, path: str, ref: str | None = None) -> Call[list[GitChange]]:
    """``GET …/git/changes?path=`` (path required): word statuses (``ADDED`` …)."""
    if not path:
        raise InvalidInputError("The repository path is empty")
    params = query(path=path, ref=ref)
    return model_call(
        Request("GET", _conversation_path(conversation_id, "/git/changes"), params=params), list[GitChange]
    )


def git_diff(conversation_id: str, path: str, ref: str | None = None) -> Call[dict[str, Any]]:
    if not path:
        raise InvalidInputError("The path is empty")
    params = query(path=path, ref=ref)
    return model_call(
        Request("GET", _conversation_path(conversation_id, "/git/diff"), params=params), dict[str, Any]
    )


# ---------------------------------------------------------------------------- events

EVENT_SORT_ORDERS = ("TIMESTAMP", "TIMESTAMP_DESC")


def search_events(
    conversation_id: str,
    *,
    kind: str | None = None,
    timestamp_gte: datetime | str | None = None,
    timestamp_lt: datetime | str | None = None,
    newest_first: bool = False,
    page_id: str | None = None,
    limit: int = 100,
) -> Call[V1EventPage]:
    """One page of ``GET /api/v1/conversation/{id}/events/search``. An unknown conversation
    answers an empty page, not 404."""
    params = query(
        kind__eq=kind,
        timestamp__gte=_iso(timestamp_gte),
        timestamp__lt=_iso(timestamp_lt),
        sort_order="TIMESTAMP_DESC" if newest_first else None,
        page_id=page_id,
        limit=validate_limit(limit, 1, MAX_LIMIT),
    )
    path = f"{API}/conversation/{conversation_id_hex(conversation_id)}/events/search"
    return checked_page_call(Request("GET", path, params=params), V1EventPage)


def count_events(
    conversation_id: str,
    *,
    kind: str | None = None,
    timestamp_gte: datetime | str | None = None,
    timestamp_lt: datetime | str | None = None,
) -> Call[int]:
    params = query(kind__eq=kind, timestamp__gte=_iso(timestamp_gte), timestamp__lt=_iso(timestamp_lt))
    path = f"{API}/conversation/{conversation_id_hex(conversation_id)}/events/count"
    return model_call(Request("GET", path, params=params), int)


def _iso(value: datetime | str | None) -> str | None:
    if isinstance(value, datetime):
        # Event timestamps are naive UTC on the server; compare like with like.
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat()
    return value


# ---------------------------------------------------------------------------- sandboxes, user


def search_sandboxes(*, page_id: str | None = None, limit: int = 100) -> Call[SandboxPage]:
    params = query(page_id=page_id, limit=validate_limit(limit, 1, MAX_LIMIT))
    return model_call(Request("GET", f"{API}/sandboxes/search", params=params), SandboxPage)


def get_sandboxes(ids: Sequence[str]) -> Call[list[SandboxInfo | None]]:
    if not ids or len(ids) > 100:
        raise InvalidInputError("Ask for 1 to 100 sandboxes at a time")
    params = tuple(("id", validate_id(i, "sandbox id")) for i in ids)
    return _aligned(Request("GET", f"{API}/sandboxes", params=params), SandboxInfo, len(ids))


def pause_sandbox(sandbox_id: str) -> Call[bool]:
    request = Request("POST", _sandbox_path(sandbox_id, "/pause"))
    return json_call(request, lambda body: bool(isinstance(body, dict) and body.get("success")))


def resume_sandbox(sandbox_id: str) -> Call[bool]:
    request = Request("POST", _sandbox_path(sandbox_id, "/resume"))
    return json_call(request, lambda body: bool(isinstance(body, dict) and body.get("success")))


def delete_sandbox(sandbox_id: str) -> Call[bool]:
    """The handler reads the ``sandbox_id`` query parameter and ignores the path segment
    (CONTRACT §5.4), so the id goes in both places."""
    request = Request("DELETE", _sandbox_path(sandbox_id), params=(("sandbox_id", sandbox_id),))
    return json_call(request, lambda body: bool(isinstance(body, dict) and body.get("success")))


def users_me() -> Call[dict[str, Any]]:
    """``GET /api/v1/users/me``: who the key belongs to (secrets not exposed)."""
    return model_call(
        Request("GET", f"{API}/users/me", params=(("expose_secrets", "false"),)), dict[str, Any]
    )


def probe() -> Call[bool]:
    """``GET /api/v1/app-conversations/search?limit=1``: does this server speak V1?"""
    return probe_call(f"{CONVERSATIONS}/search", "items")


# ---------------------------------------------------------------------------- unified view


def event_text(event: V1Event) -> str | None:
    """The most readable text of a V1 event."""
    data = event.model_extra or {}
    if event.kind == "MessageEvent":
        message = data.get("llm_message") or {}
        return _content_text(message.get("content")) or None
    if event.kind == "ActionEvent":
        action = data.get("action") or {}
        for key in ("message", "command", "thought", "path"):
            if isinstance(action.get(key), str) and action[key]:
                return str(action[key])
        return _content_text(data.get("thought")) or None
    if event.kind == "ObservationEvent":
        observation = data.get("observation") or {}
        return _content_text(observation.get("content")) or None
    if event.kind in ("AgentErrorEvent",):
        return str(data.get("error") or "") or None
    if event.kind in ("ConversationErrorEvent", "ServerErrorEvent"):
        return str(data.get("detail") or data.get("code") or "") or None
    if event.kind == "ConversationStateUpdateEvent" and data.get("key") == "execution_status":
        return str(data.get("value"))
    return None


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text")) for part in content if isinstance(part, dict) and part.get("text")
        )
    return ""


def to_event(event: V1Event, *, may_hold_secrets: bool = True) -> Event:
    """The unified event; ``raw`` is the wire event, its secrets masked unless
    ``may_hold_secrets`` is False (its page's answer held none)."""
    parsed = parse_utc(event.timestamp)
    raw = json_fields(event)
    # Every field is built here from a wire event just validated, with the types Event
    # declares: validating them again would cost more than the rest of the conversion.
    return Event.model_construct(
        id=event.id,
        seq=None,
        timestamp=parsed if isinstance(parsed, datetime) else None,
        source=event.source,
        kind=event.kind,
        text=event_text(event),
        raw=mask_secrets(raw) if may_hold_secrets else raw,
    )


def page_events(page: V1EventPage) -> Iterator[Event]:
    """The unified events of a page, walked for secrets only if its answer could hold one."""
    secrets = page.may_hold_secrets
    return (to_event(event, may_hold_secrets=secrets) for event in page.items)


def final_answer(events: Sequence[V1Event]) -> tuple[str | None, str | None]:
    """The agent's answer in the current turn: ``(text, "finish")`` for a ``FinishAction``,
    ``(text, "message")`` for a plain agent ``MessageEvent``, ``(None, None)`` when the turn
    has no answer among ``events`` (any order). Only events after the newest user message
    count: an older answer belongs to an earlier turn (CONTRACT §6.5)."""
    ordered = sorted(events, key=lambda e: e.timestamp or "", reverse=True)
    for event in ordered:
        data = event.model_extra or {}
        if event.kind == "ActionEvent":
            action = data.get("action") or {}
            if action.get("kind") == "FinishAction" and isinstance(action.get("message"), str):
                return str(action["message"]), "finish"
        if event.kind == "MessageEvent":
            if event.source == "user":
                return None, None
            text = _content_text((data.get("llm_message") or {}).get("content"))
            if event.source == "agent" and text:
                return text, "message"
    return None, None


def final_message(events: Sequence[V1Event]) -> str | None:
    """The text of :func:`final_answer`."""
    return final_answer(events)[0]


def to_conversation(
    conversation: AppConversation,
    *,
    base_url: str,
    start_task_id: str | None = None,
    outcome: Any = None,
    outcome_detail: str | None = None,
    agent_state: str | None = None,
) -> Conversation:
    """The unified view of a V1 conversation (CONTRACT §7.2)."""
    metrics = conversation.metrics or {}
    cost = metrics.get("accumulated_cost")
    usage = metrics.get("accumulated_token_usage")
    return Conversation(
        id=conversation.id,
        api_version="v1",
        web_url=web_url(base_url, conversation.id),
        title=conversation.title,
        runtime=sandbox_runtime(conversation.sandbox_status),
        agent_state=agent_state if agent_state is not None else conversation.execution_status,
        outcome=outcome,
        outcome_detail=outcome_detail,
        repository=conversation.selected_repository,
        branch=conversation.selected_branch,
        git_provider=conversation.git_provider,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        trigger=conversation.trigger,
        pr_numbers=list(conversation.pr_number),
        llm_model=conversation.llm_model,
        cost=float(cost) if isinstance(cost, (int, float)) else None,
        tokens=usage if isinstance(usage, dict) else None,
        start_task_id=start_task_id,
        sandbox_id=conversation.sandbox_id,
        parent_id=conversation.parent_conversation_id,
        sub_conversation_ids=list(conversation.sub_conversation_ids),
        runtime_url=conversation.conversation_url,
        session_api_key=conversation.session_api_key,
        raw=mask_secrets(conversation.model_dump(mode="json")),
    )
