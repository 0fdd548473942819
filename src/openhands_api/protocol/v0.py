"""The V0 routes (``/api/conversations…``, openhands-ai ≤ 1.6.0), each described once.

Every function validates its input, builds the :class:`Request` and pairs it with the parser
of the answer, including the route's quirks (CONTRACT.md §2): ``GET`` of an unknown id answers
``200 null``; ``DELETE`` of an unknown id answers ``false``; create and PATCH forbid unknown
keys; events take ``limit`` 0–100. No I/O: the drivers send what these return.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import InvalidInputError, ProtocolError
from ..models import (
    Conversation,
    ConversationInfo,
    ConversationPage,
    ConversationResponse,
    Event,
    GitChange,
    GitDiff,
    V0Event,
    V0EventPage,
    json_fields,
    mask_secrets,
    parse_utc,
)
from .http import Call, JsonDocument, Request, Response, query, web_url
from .lifecycle import Assessment, v0_runtime
from .parsing import (
    check,
    checked_page_call,
    decode_json,
    download_call,
    expect_bool,
    json_call,
    model_call,
    probe_call,
)
from .validation import validate_id, validate_limit, validate_message, validate_repository, validate_title

BASE = "/api/conversations"
MAX_EVENTS_LIMIT = 100
# The V0 list has no documented bound; keep pages to what the server handles comfortably.
MAX_LIST_LIMIT = 100

# InitSessionRequest fields (CONTRACT §3.3); the server refuses any other key with 422.
CREATE_FIELDS = (
    "initial_user_msg",
    "repository",
    "selected_branch",
    "git_provider",
    "image_urls",
    "conversation_instructions",
    "replay_json",
    "suggested_task",
    "create_microagent",
    "mcp_config",
    "conversation_id",
)


def conversation_path(conversation_id: str, suffix: str = "") -> str:
    return f"{BASE}/{quote(validate_id(conversation_id), safe='')}{suffix}"


def create_body(
    initial_user_msg: str | None,
    *,
    repository: str | None = None,
    selected_branch: str | None = None,
    git_provider: str | None = None,
    image_urls: Sequence[str] | None = None,
    conversation_instructions: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The InitSessionRequest body; ``extra`` may carry the rarer fields of CONTRACT §3.3."""
    unknown = sorted(set(extra) - set(CREATE_FIELDS))
    if unknown:
        raise InvalidInputError(
            f"Unknown V0 create option(s) {', '.join(unknown)}; V0 accepts {', '.join(CREATE_FIELDS)}"
        )
    if initial_user_msg is None:
        raise InvalidInputError(
            "A conversation needs an initial message: one without it holds compute and does nothing"
        )
    body: dict[str, Any] = {"initial_user_msg": validate_message(initial_user_msg, "initial message")}
    if repository is not None:
        body["repository"] = validate_repository(repository)
    if selected_branch is not None:
        if not selected_branch.strip():
            raise InvalidInputError("The branch name is empty")
        body["selected_branch"] = selected_branch
    if git_provider is not None:
        body["git_provider"] = git_provider
    if image_urls is not None:
        body["image_urls"] = list(image_urls)
    if conversation_instructions is not None:
        body["conversation_instructions"] = conversation_instructions
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def create_conversation(body: dict[str, Any]) -> Call[ConversationResponse]:
    """``POST /api/conversations``: not idempotent — a resend creates a second conversation."""
    return model_call(Request("POST", BASE, json=body, idempotent=False), ConversationResponse)


def get_conversation(conversation_id: str) -> Call[ConversationInfo | None]:
    """``GET /api/conversations/{id}``; ``None`` when the server answers ``null`` (unknown id)."""
    return model_call(Request("GET", conversation_path(conversation_id)), ConversationInfo | None)


def list_conversations(
    *,
    page_id: str | None = None,
    limit: int = 20,
    selected_repository: str | None = None,
    conversation_trigger: str | None = None,
    include_sub_conversations: bool | None = None,
) -> Call[ConversationPage]:
    """One page of ``GET /api/conversations``. Pages may be short or empty while more follow:
    only ``next_page_id is None`` means the end (CONTRACT §2.2)."""
    params = query(
        page_id=page_id,
        limit=validate_limit(limit, 1, MAX_LIST_LIMIT),
        selected_repository=selected_repository,
        conversation_trigger=conversation_trigger,
        include_sub_conversations=include_sub_conversations,
    )
    return model_call(Request("GET", BASE, params=params), ConversationPage)


def update_title(conversation_id: str, title: str) -> Call[bool]:
    """``PATCH /api/conversations/{id}`` with ``{"title"}`` (1–200 characters) → ``true``."""
    request = Request("PATCH", conversation_path(conversation_id), json={"title": validate_title(title)})
    return json_call(request, expect_bool(request))


def delete_conversation(conversation_id: str) -> Call[bool]:
    """``DELETE /api/conversations/{id}`` → ``True``; ``False`` when there was no such id."""
    request = Request("DELETE", conversation_path(conversation_id))
    return json_call(request, expect_bool(request))


def start_conversation(
    conversation_id: str, providers_set: Sequence[str] | None = None
) -> Call[ConversationResponse]:
    """``POST …/start``: (re)starts the runtime. The body is required; ``{}`` is fine."""
    body: dict[str, Any] = {} if providers_set is None else {"providers_set": list(providers_set)}
    return model_call(
        Request("POST", conversation_path(conversation_id, "/start"), json=body), ConversationResponse
    )


def stop_conversation(conversation_id: str) -> Call[ConversationResponse]:
    """``POST …/stop``. ``conversation_status`` in the answer is the status *before* stopping."""
    return model_call(Request("POST", conversation_path(conversation_id, "/stop")), ConversationResponse)


def get_events(
    conversation_id: str,
    *,
    start_id: int = 0,
    end_id: int | None = None,
    reverse: bool = False,
    limit: int = 20,
) -> Call[V0EventPage]:
    """One page of ``GET …/events``: ids ``start_id``..``end_id`` inclusive, newest first if
    ``reverse``. The server refuses ``limit`` outside 0–100 with 400."""
    if start_id < 0 or (end_id is not None and end_id < 0):
        raise InvalidInputError("start_id and end_id must be >= 0")
    params = query(
        start_id=start_id,
        end_id=end_id,
        reverse=reverse if reverse else None,
        limit=validate_limit(limit, 0, MAX_EVENTS_LIMIT),
    )
    return checked_page_call(
        Request("GET", conversation_path(conversation_id, "/events"), params=params), V0EventPage
    )


def get_trajectory(conversation_id: str) -> Call[list[V0Event]]:
    """``GET …/trajectory``: every event (hidden ones excluded) in one answer, parsed whole
    (to save it, :func:`download_trajectory` streams it instead)."""
    request = Request("GET", conversation_path(conversation_id, "/trajectory"), bulk=True)
    inner = model_call(request, dict[str, Any])

    def parse(response: Response) -> list[V0Event]:
        body = inner.parse(response)
        items = body.get("trajectory")
        if not isinstance(items, list):
            raise _no_trajectory(request, body)
        return [V0Event.model_validate(item) for item in items]

    return Call(request, parse)


# 1.6.0 answers ``{"trajectory":[…]}`` (Starlette's compact JSONResponse; the only key); a
# failure is a 500 ``{"trajectory":null,"error":…}`` (server/routes/trajectory.py).
TRAJECTORY = JsonDocument(opening=rb'\s*\{\s*"trajectory"\s*:\s*\[', closing=rb"\]\s*\}\s*")


def download_trajectory(conversation_id: str, destination: Path) -> Call[int]:
    """``GET …/trajectory`` written to ``destination`` as it comes: the server's own
    ``{"trajectory":[…]}``, checked as it streams (:data:`TRAJECTORY`), never parsed whole, so
    memory stays flat whatever the history's length. Still a bulk answer (its cap and
    deadline hold). The result is the byte count; an error answer, or a 200 that is not a
    trajectory, raises and writes nothing."""
    request = Request(
        "GET",
        conversation_path(conversation_id, "/trajectory"),
        bulk=True,
        stream_to=destination,
        stream_json=TRAJECTORY,
    )

    def parse(response: Response) -> int:
        check(request, response)
        if response.downloaded is not None:
            return response.downloaded
        body = decode_json(response, request)  # says what came if it is not JSON
        raise _no_trajectory(request, body if isinstance(body, dict) else {})

    return Call(request, parse)


def _no_trajectory(request: Request, body: dict[str, Any]) -> ProtocolError:
    error = body.get("error") or "no trajectory in the answer"
    return ProtocolError(f"{request.describe()}: {error}", method=request.method, path=request.path)


def send_message(conversation_id: str, message: str) -> Call[bool]:
    """``POST …/message``: needs a running conversation (a STOPPED one answers 500).

    Not idempotent: a resend would add the message twice."""
    request = Request(
        "POST",
        conversation_path(conversation_id, "/message"),
        json={"message": validate_message(message)},
        idempotent=False,
    )
    return json_call(request, expect_bool(request))


def list_files(conversation_id: str, path: str | None = None) -> Call[list[str]]:
    """``GET …/list-files``: workspace paths, directories end with ``/``."""
    return model_call(
        Request("GET", conversation_path(conversation_id, "/list-files"), params=query(path=path)), list[str]
    )


def read_file(conversation_id: str, file: str) -> Call[str]:
    """``GET …/select-file?file=``: the text of a workspace file."""
    if not file:
        raise InvalidInputError("The file path is empty")
    request = Request("GET", conversation_path(conversation_id, "/select-file"), params=query(file=file))

    def convert(value: Any) -> str:
        if isinstance(value, dict) and isinstance(value.get("code"), str):
            return str(value["code"])
        raise ProtocolError(f"{request.describe()} answered without file text", path=request.path)

    return json_call(request, convert)


def download_workspace(conversation_id: str, destination: Path) -> Call[int]:
    """``GET …/zip-directory`` streamed into ``destination``; the result is the byte count."""
    request = Request("GET", conversation_path(conversation_id, "/zip-directory"), stream_to=destination)
    return download_call(request)


def git_changes(conversation_id: str) -> Call[list[GitChange]]:
    return model_call(Request("GET", conversation_path(conversation_id, "/git/changes")), list[GitChange])


def git_diff(conversation_id: str, path: str) -> Call[GitDiff]:
    if not path:
        raise InvalidInputError("The path of the file to diff is empty")
    return model_call(
        Request("GET", conversation_path(conversation_id, "/git/diff"), params=query(path=path)), GitDiff
    )


def final_message(events: Sequence[V0Event]) -> str | None:
    """The agent's final text: the newest ``finish``'s ``final_thought`` (its ``message`` is a
    canned line), else the newest agent ``message`` action's content (CONTRACT §3.5)."""
    for event in sorted(events, key=lambda e: e.id, reverse=True):
        if event.action == "finish":
            text = event.args.get("final_thought") or event.args.get("message")
            if isinstance(text, str) and text:
                return text
        if event.action == "message" and event.source == "agent":
            text = event.args.get("content")
            if isinstance(text, str) and text:
                return text
    return None


def accumulated_cost(events: Sequence[V0Event]) -> tuple[float | None, dict[str, Any] | None]:
    """Cost and token usage from the newest event that carries ``llm_metrics``."""
    for event in sorted(events, key=lambda e: e.id, reverse=True):
        metrics = event.llm_metrics
        if metrics:
            cost = metrics.get("accumulated_cost")
            usage = metrics.get("accumulated_token_usage")
            return (
                float(cost) if isinstance(cost, (int, float)) else None,
                usage if isinstance(usage, dict) else None,
            )
    return None, None


def probe() -> Call[bool]:
    """``GET /api/conversations?limit=1``: does this server speak V0? (CONTRACT §1.6)"""
    return probe_call(BASE, "results")


# ---------------------------------------------------------------------------- unified view


def event_text(event: V0Event) -> str | None:
    """The most readable text of a V0 event."""
    if event.action == "finish":
        text = event.args.get("final_thought")
    elif event.action == "message":
        text = event.args.get("content")
    elif event.action == "run":
        text = event.args.get("command")
    elif event.observation == "agent_state_changed":
        text = event.extras.get("agent_state")
    elif event.observation is not None:
        text = event.content
    else:
        text = None
    if not isinstance(text, str) or not text:
        text = event.message
    return text or None


def to_event(event: V0Event, *, may_hold_secrets: bool = True) -> Event:
    """The unified event; ``raw`` is the wire event (``None`` fields left out), its secrets
    masked unless ``may_hold_secrets`` is False (its page's answer held none)."""
    raw = json_fields(event, exclude_none=True)
    # Every field is built here from a wire event just validated, with the types Event
    # declares: validating them again would cost more than the rest of the conversion.
    return Event.model_construct(
        id=str(event.id),
        seq=event.id,
        timestamp=_parse_time(event.timestamp),
        source=event.source,
        kind=event.kind,
        text=event_text(event),
        raw=mask_secrets(raw) if may_hold_secrets else raw,
    )


def page_events(page: V0EventPage) -> Iterator[Event]:
    """The unified events of a page, walked for secrets only if its answer could hold one."""
    secrets = page.may_hold_secrets
    return (to_event(event, may_hold_secrets=secrets) for event in page.events)


def _parse_time(value: str | None) -> datetime | None:
    parsed = parse_utc(value)
    return parsed if isinstance(parsed, datetime) else None


def to_conversation(
    info: ConversationInfo,
    *,
    base_url: str,
    assessment: Assessment | None = None,
    events: Sequence[V0Event] = (),
) -> Conversation:
    """The unified view of a V0 conversation (CONTRACT §7.2)."""
    cost, tokens = accumulated_cost(events)
    return Conversation(
        id=info.conversation_id,
        api_version="v1" if info.conversation_version == "V1" else "v0",
        web_url=web_url(base_url, info.conversation_id),
        title=info.title,
        runtime=v0_runtime(info),
        agent_state=assessment.agent_state if assessment else None,
        outcome=assessment.outcome if assessment else None,
        outcome_detail=assessment.detail if assessment else None,
        repository=info.selected_repository,
        branch=info.selected_branch,
        git_provider=info.git_provider,
        created_at=info.created_at,
        updated_at=info.last_updated_at,
        trigger=info.trigger,
        pr_numbers=list(info.pr_number),
        llm_model=info.llm_model,
        cost=cost,
        tokens=tokens,
        sandbox_id=info.sandbox_id,
        sub_conversation_ids=list(info.sub_conversation_ids),
        runtime_url=info.url,
        session_api_key=info.session_api_key,
        raw=mask_secrets(info.model_dump(mode="json")),
    )
