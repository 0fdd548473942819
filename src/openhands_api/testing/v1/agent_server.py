"""The agent-server tier of the V1 fake: each sandbox's agent server, on the fake's own origin.

Responsible for: what a client reaches at a V1 conversation's ``conversation_url`` /
``agent_server_url`` / ``exposed_urls[AGENT_SERVER]`` — ``<origin>/_agent/<sandbox_id>`` — as
the SDK's agent server (1.34, bundled with ``openhands-ai`` 1.11.0) answers it (CONTRACT.md §5.5,
§6.6):

* ``X-Session-API-Key`` must be the sandbox's ``session_api_key`` (401 ``{"detail":"Unauthorized"}``);
  checked as a router dependency, so unknown paths stay 404.
* A sandbox that is not ``RUNNING`` (paused, starting, error) or no longer exists has no agent
  server to answer: the real one is a frozen (paused) or killed process whose port hangs or
  refuses. One origin cannot refuse one path, so the fake answers what a gateway in front of
  a missing upstream answers, nginx's 503 page (``X-Fake-Agent-Server: unreachable``), and
  refuses WebSocket upgrades with that 503. A WebSocket already open goes silent while the
  sandbox is paused and drops (no close frame) when it is deleted.
* REST: ``GET /api/conversations/{id}`` (``ConversationInfo``, dashed ``id``, live
  ``execution_status``), ``GET …/events/search`` (``kind`` = the event class's full module
  path as the real filter compares it, ``source``, ``body``, ``sort_order``,
  ``timestamp__gte``/``__lt``, ``page_id`` = an event id, ``limit`` > 0; over 100 trips the
  real route's ``assert``: a plain 500), ``GET …/events/count``, ``GET …/events/{event_id}``,
  ``POST …/events`` (``SendMessageRequest``, ``run`` default false → ``{"success":true}``),
  ``GET …/agent_final_response`` (``{"response": …}``). All read the agent's own log: every
  event it keeps, no webhook lag (the app server's copies lag with ``webhook_flush_delay``).
  It keeps neither the whole-state updates nor streaming deltas (only published: the app
  server and live sockets get them), and a step's stats update comes after the step though
  stamped before it (``v1/store.py``): the log is not quite in timestamp order.
* Events on this tier are as the agent server's transport writes them: no ``parent_id``, no
  ``null`` model fields (the SDK dumps with ``exclude_none``; the fake drops ``null`` at every
  level except inside a state update's ``value``), ``SystemPromptEvent.tools`` limited to the
  kinds old clients know.
* The WebSocket ``/sockets/events/{id}``: query ``resend_mode`` ``all`` | ``since`` (with
  ``after_timestamp``; events with timestamp ≥ it) | omitted (live only), ``resend_all=true``
  the deprecated ``all``; bad parameters close before the handshake (HTTP 403, as FastAPI's
  1008). Authentication: ``session_api_key`` query parameter or ``X-Session-API-Key`` header
  (deprecated; a wrong one is refused before the handshake: HTTP 403), else the first frame
  ``{"type":"auth","session_api_key":…}`` within ``websocket_auth_timeout`` (10 s) — failure
  closes 4001 ``Authentication failed``. Then an unknown conversation closes 4004, more than
  ``websocket_max_subscribers`` (50) sockets on one conversation close 1013. A subscriber first
  gets the current state (a ``full_state`` update, not in the log), then the resent events, then
  live events as the agent produces them; ``{"role":"user","content":[…]}`` frames send a
  message with ``run=true``, a redundant auth frame is ignored, a bad frame answers a
  ``ServerErrorEvent``.
* Stream faults (``FaultRule`` kinds that match only WebSocket handshakes; the path glob sees
  ``/_agent/<sandbox_id>/sockets/events/<id>``): ``ws_refuse`` (the upgrade answered with
  ``status``, default 403), ``ws_stall`` (accepted and authenticated, then nothing for
  ``delay`` seconds of the fake's clock), ``ws_drop`` (the connection dropped, no close frame,
  after ``frames`` frames).

Not responsible for: the agent itself (``v1/store.py``), URLs (``v1/conversation.py``,
``core/origin.py``), fault matching (``faults/rules.py``).
"""

# No ``from __future__ import annotations``: FastAPI reads these annotations at runtime.

import asyncio
import json
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import ValidationError
from starlette.responses import HTMLResponse, PlainTextResponse

from ..core import error_bodies as bodies
from ..core.state import FakeState
from ..faults.rules import FaultRule
from . import events as ev
from .conversation import SANDBOX_RUNNING, V1Conversation, V1Sandbox, dashed
from .models import EventSortOrder, SendMessageRequest, content_dump, content_text

_SESSION_HEADER = APIKeyHeader(name="X-Session-API-Key", auto_error=False)

POLL_INTERVAL = 0.05
"""Seconds (real) between two looks of an open WebSocket for new events: time in the fake is
simulated lazily, so a subscriber advances it itself."""

EVENT_MODULES = {
    "ACPToolCallEvent": "openhands.sdk.event.acp_tool_call",
    "ActionEvent": "openhands.sdk.event.llm_convertible.action",
    "AgentErrorEvent": "openhands.sdk.event.llm_convertible.observation",
    "Condensation": "openhands.sdk.event.condenser",
    "CondensationRequest": "openhands.sdk.event.condenser",
    "CondensationSummaryEvent": "openhands.sdk.event.condenser",
    "ConversationErrorEvent": "openhands.sdk.event.conversation_error",
    "ConversationStateUpdateEvent": "openhands.sdk.event.conversation_state",
    "HookExecutionEvent": "openhands.sdk.event.hook_execution",
    "InterruptEvent": "openhands.sdk.event.user_action",
    "LLMCompletionLogEvent": "openhands.sdk.event.llm_completion_log",
    "MessageEvent": "openhands.sdk.event.llm_convertible.message",
    "ObservationEvent": "openhands.sdk.event.llm_convertible.observation",
    "PauseEvent": "openhands.sdk.event.user_action",
    "ServerErrorEvent": "openhands.agent_server.models",
    "StreamingDeltaEvent": "openhands.sdk.event.streaming_delta",
    "SystemPromptEvent": "openhands.sdk.event.llm_convertible.system",
    "TokenEvent": "openhands.sdk.event.token",
    "UserRejectObservation": "openhands.sdk.event.llm_convertible.observation",
}
"""Where each event class lives: the agent server's ``kind`` filter compares
``f"{module}.{class}"`` (``kind=MessageEvent`` alone matches nothing)."""

LEGACY_TOOL_KINDS = frozenset(
    {
        "ClientTool",
        "FileEditorTool",
        "FinishTool",
        "InvokeSkillTool",
        "MCPToolDefinition",
        "SwitchLLMTool",
        "TaskTool",
        "TaskToolSet",
        "TaskTrackerTool",
        "TerminalTool",
        "ThinkTool",
        "WorkflowTool",
        "WorkflowToolSet",
    }
)
"""The tool kinds the transport keeps in ``SystemPromptEvent.tools``."""

UNREACHABLE_HEADER = "X-Fake-Agent-Server"


class AgentServerUnreachable(Exception):
    """The sandbox has no running agent server (paused, starting, error, deleted)."""


def unreachable_answer() -> HTMLResponse:
    return bodies.gateway_error(503, {UNREACHABLE_HEADER: "unreachable"})


def event_kind_path(kind: str) -> str:
    return f"{EVENT_MODULES.get(kind, 'openhands.sdk.event')}.{kind}"


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def transport_event(event: ev.Event) -> ev.Event:
    """An event as the agent server's REST and WebSocket write it."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        if key == "parent_id" or value is None:
            continue
        if key == "value" and event.get("kind") == "ConversationStateUpdateEvent":
            out[key] = value  # ``Any`` field: the SDK's exclude_none leaves its dicts alone
        elif key == "tools" and isinstance(value, list):
            out[key] = [
                _without_nulls(t)
                for t in value
                if not isinstance(t, dict) or t.get("kind") is None or t.get("kind") in LEGACY_TOOL_KINDS
            ]
        else:
            out[key] = _without_nulls(value)
    return out


def _server_time(value: datetime) -> str:
    """A filter datetime as the agent server compares it: naive server-local time (the fake's
    server time is UTC), as an ISO string against the events' ISO strings."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat()


def _message_text(event: ev.Event) -> str:
    parts: list[str] = []
    content = list((event.get("llm_message") or {}).get("content") or [])
    for item in [*content, *(event.get("extended_content") or [])]:
        if isinstance(item, dict) and item.get("type") == "text":
            parts.append(str(item.get("text", "")))
    if event.get("reasoning_content"):
        parts.append(str(event["reasoning_content"]))
    return " ".join(parts).lower()


def _matches(
    event: ev.Event,
    kind: str | None,
    source: str | None,
    body: str | None,
    gte: str | None,
    lt: str | None,
) -> bool:
    if kind is not None and event_kind_path(str(event.get("kind"))) != kind:
        return False
    if source is not None and event.get("source") != source:
        return False
    stamp = str(event.get("timestamp"))
    if gte is not None and stamp < gte:
        return False
    if lt is not None and stamp >= lt:
        return False
    if body is not None:
        return event.get("kind") == "MessageEvent" and body.lower() in _message_text(event)
    return True


def search_live_events(
    events: list[ev.Event],
    *,
    page_id: str | None = None,
    limit: int = 100,
    kind: str | None = None,
    source: str | None = None,
    body: str | None = None,
    descending: bool = False,
    gte: str | None = None,
    lt: str | None = None,
) -> tuple[list[ev.Event], str | None]:
    """The agent server's search: the log in append order (backwards for ``TIMESTAMP_DESC``)
    from the event ``page_id`` names (an unknown id starts from the beginning); the next page
    starts at the first match beyond ``limit``."""
    start: int | None = None
    if page_id:
        start = next((i for i, e in enumerate(events) if e.get("id") == page_id), None)
    if start is None:
        start = len(events) - 1 if descending else 0
    indices: Iterable[int] = range(start, -1, -1) if descending else range(start, len(events))
    items: list[ev.Event] = []
    for index in indices:
        event = events[index]
        if not _matches(event, kind, source, body, gte, lt):
            continue
        if len(items) >= limit:
            return items, str(event["id"])
        items.append(event)
    return items, None


def final_response(events: list[ev.Event]) -> str:
    """The text of the newest agent ``FinishAction`` or agent ``MessageEvent``, else ``""``."""
    for event in reversed(events):
        if event.get("source") != "agent":
            continue
        if event.get("kind") == "ActionEvent":
            action = event.get("action") or {}
            if action.get("kind") == "FinishAction":
                return str(action.get("message", ""))
        elif event.get("kind") == "MessageEvent":
            content = (event.get("llm_message") or {}).get("content") or []
            return "".join(str(c.get("text", "")) for c in content if c.get("type") == "text")
    return ""


def _parse_bool(text: str) -> bool | None:
    lowered = text.lower()
    if lowered in ("1", "true", "t", "yes", "y", "on"):
        return True
    if lowered in ("0", "false", "f", "no", "n", "off"):
        return False
    return None


def _parse_datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def server_error_event(code: str, detail: str) -> ev.Event:
    """``ServerErrorEvent`` as the socket sends it after a frame it could not handle."""
    now = datetime.now(timezone.utc).replace(tzinfo=None).isoformat()
    return {
        "id": ev.new_event_id(),
        "timestamp": now,
        "source": "environment",
        "code": code,
        "detail": detail,
        "kind": "ServerErrorEvent",
    }


def build_agent_server_app(state: FakeState) -> FastAPI:
    """The agent servers of every sandbox, one ASGI app mounted at ``/_agent``."""
    store = state.v1
    config = state.config
    subscribers: dict[str, int] = {}
    app = FastAPI(title="OpenHands Agent Server", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(AgentServerUnreachable)
    async def unreachable(request: Request, exc: AgentServerUnreachable) -> Response:
        return unreachable_answer()

    def running_sandbox(sandbox_id: str) -> V1Sandbox | None:
        sandbox = store.sandboxes.get(sandbox_id)
        return sandbox if sandbox is not None and sandbox.status == SANDBOX_RUNNING else None

    def key_matches(sandbox: V1Sandbox, key: str | None) -> bool:
        return key is not None and secrets.compare_digest(key.encode(), sandbox.session_api_key.encode())

    async def agent_sandbox(
        sandbox_id: str, session_api_key: Annotated[str | None, Depends(_SESSION_HEADER)]
    ) -> V1Sandbox:
        with state.lock:
            sandbox = running_sandbox(sandbox_id)
        if sandbox is None:
            raise AgentServerUnreachable
        if not key_matches(sandbox, session_api_key):
            raise bodies.session_key_refused()
        return sandbox

    SandboxDep = Annotated[V1Sandbox, Depends(agent_sandbox)]
    prefix = "/{sandbox_id}/api/conversations/{conversation_id}"

    def conversation_in(sandbox: V1Sandbox, conversation_id: uuid.UUID) -> V1Conversation | None:
        conversation = store.conversations.get(conversation_id.hex)
        return (
            conversation
            if conversation is not None and conversation.sandbox_id == sandbox.sandbox_id
            else None
        )

    def events_of(sandbox: V1Sandbox, conversation_id: uuid.UUID) -> list[ev.Event] | Response:
        if conversation_in(sandbox, conversation_id) is None:
            return bodies.detail(404, f"Conversation not found: {conversation_id}")
        return store.live_events(conversation_id.hex)

    def conversation_info(conversation: V1Conversation) -> dict[str, Any]:
        state_value = store.full_state(conversation)
        calls = len(conversation.llm_response_ids)
        model = conversation.llm_model
        info: dict[str, Any] = {
            key: state_value.get(key, default)
            for key, default in (
                ("id", dashed(conversation.conversation_id)),
                ("workspace", None),
                ("persistence_dir", None),
                ("max_iterations", 500),
                ("stuck_detection", True),
                ("execution_status", conversation.execution_status),
                ("confirmation_policy", {"kind": "NeverConfirm"}),
                ("security_analyzer", None),
                ("activated_knowledge_skills", []),
                ("invoked_skills", []),
                ("blocked_actions", {}),
                ("blocked_messages", {}),
                ("last_user_message_id", None),
                ("leaf_event_id", None),
                ("stats", {"usage_to_metrics": {}}),
                ("secret_registry", {"secret_sources": {}}),
                ("agent_state", {}),
                ("hook_config", None),
            )
        }
        info.update(
            {
                "title": conversation.title,
                "metrics": {
                    "model_name": model,
                    "accumulated_cost": 0.0,
                    "max_budget_per_task": None,
                    "accumulated_token_usage": ev.token_usage(
                        10 * calls, 5 * calls, 15 if calls else 0, model
                    ),
                },
                "created_at": ev.iso_z(conversation.created_at),
                "updated_at": ev.iso_z(conversation.updated_at),
                "forked_from_conversation_id": None,
                "forked_from_event_id": None,
                "tags": {},
                "current_model_id": None,
                "available_models": [],
                "supports_runtime_model_switch": False,
                "launched_agent_profile": None,
                "agent": state_value["agent"],
                "client_tools": [],
            }
        )
        return info

    # ------------------------------------------------------------------ REST
    @app.get(prefix)
    async def get_conversation(sandbox: SandboxDep, conversation_id: uuid.UUID) -> Response:
        with state.lock:
            conversation = conversation_in(sandbox, conversation_id)
            if conversation is None:
                return bodies.http_error(404)
            return JSONResponse(conversation_info(conversation))

    @app.get(prefix + "/agent_final_response")
    async def agent_final_response(sandbox: SandboxDep, conversation_id: uuid.UUID) -> Response:
        with state.lock:
            if conversation_in(sandbox, conversation_id) is None:
                return bodies.http_error(404)
            return JSONResponse({"response": final_response(store.live_events(conversation_id.hex))})

    @app.get(prefix + "/events/search")
    async def search_events(
        sandbox: SandboxDep,
        conversation_id: uuid.UUID,
        page_id: str | None = None,
        limit: Annotated[int, Query(gt=0)] = 100,
        kind: str | None = None,
        source: str | None = None,
        body: str | None = None,
        sort_order: EventSortOrder = EventSortOrder.TIMESTAMP,
        timestamp__gte: datetime | None = None,
        timestamp__lt: datetime | None = None,
    ) -> Response:
        if limit > 100:
            # The real route's ``lte=100`` is no constraint FastAPI knows; its assert is.
            return bodies.internal_server_error()
        with state.lock:
            found = events_of(sandbox, conversation_id)
            if isinstance(found, Response):
                return found
            items, next_page_id = search_live_events(
                found,
                page_id=page_id,
                limit=limit,
                kind=kind,
                source=source,
                body=body,
                descending=sort_order == EventSortOrder.TIMESTAMP_DESC,
                gte=_server_time(timestamp__gte) if timestamp__gte else None,
                lt=_server_time(timestamp__lt) if timestamp__lt else None,
            )
            return JSONResponse({"items": [transport_event(e) for e in items], "next_page_id": next_page_id})

    @app.get(prefix + "/events/count")
    async def count_events(
        sandbox: SandboxDep,
        conversation_id: uuid.UUID,
        kind: str | None = None,
        source: str | None = None,
        body: str | None = None,
        timestamp__gte: datetime | None = None,
        timestamp__lt: datetime | None = None,
    ) -> Response:
        with state.lock:
            found = events_of(sandbox, conversation_id)
            if isinstance(found, Response):
                return found
            gte = _server_time(timestamp__gte) if timestamp__gte else None
            lt = _server_time(timestamp__lt) if timestamp__lt else None
            return JSONResponse(sum(1 for e in found if _matches(e, kind, source, body, gte, lt)))

    @app.get(prefix + "/events/{event_id}")
    async def get_event(sandbox: SandboxDep, conversation_id: uuid.UUID, event_id: str) -> Response:
        with state.lock:
            found = events_of(sandbox, conversation_id)
            if isinstance(found, Response):
                return found
            for event in found:
                if event.get("id") == event_id:
                    return JSONResponse(transport_event(event))
            return bodies.http_error(404)

    @app.post(prefix + "/events")
    async def send_message(
        sandbox: SandboxDep, conversation_id: uuid.UUID, request: SendMessageRequest
    ) -> Response:
        with state.lock:
            conversation = conversation_in(sandbox, conversation_id)
            if conversation is None:
                return bodies.detail(404, f"Conversation not found: {conversation_id}")
            store.send_message(
                conversation,
                content_dump(request.content),
                content_text(request.content),
                request.run,
                direct=True,
            )
            return JSONResponse({"success": True})

    # ------------------------------------------------------------------ WebSocket
    @app.websocket("/{sandbox_id}/sockets/events/{conversation_id}")
    async def events_socket(websocket: WebSocket, sandbox_id: str, conversation_id: str) -> None:
        path = websocket.scope.get("path", "")
        picked = state.faults.pick("GET", path, state.clock.now(), websocket=True)
        fault: FaultRule | None = picked[0] if picked is not None else None
        if fault is not None and fault.fault == "ws_refuse":
            status = fault.status or 403
            await deny(websocket, PlainTextResponse(bodies.status_phrase(status), status_code=status))
            return
        with state.lock:
            state.advance()
            sandbox = running_sandbox(sandbox_id)
        if sandbox is None:
            await deny(websocket, unreachable_answer())
            return

        query = websocket.query_params
        parsed = _socket_parameters(
            conversation_id, query.get("resend_mode"), query.get("after_timestamp"), query.get("resend_all")
        )
        if parsed is None:
            await websocket.close(code=1008)  # FastAPI's validation failure: before the handshake
            return
        conversation_uuid, mode, after = parsed

        legacy_key = query.get("session_api_key")
        if legacy_key is None:
            legacy_key = websocket.headers.get("x-session-api-key")
        if legacy_key is not None:
            if not key_matches(sandbox, legacy_key):
                await websocket.close(code=4001, reason="Authentication failed")  # not accepted: HTTP 403
                return
            await websocket.accept()
        else:
            await websocket.accept()
            if not await first_frame_auth(websocket, sandbox):
                return

        if fault is not None and fault.fault == "ws_stall":
            await state.clock.sleep(fault.delay or 0.0)

        with state.lock:
            conversation = conversation_in(sandbox, conversation_uuid)
        if conversation is None:
            await safe_close(websocket, 4004, "Conversation not found")
            return
        key = conversation.conversation_id
        if subscribers.get(key, 0) >= config.websocket_max_subscribers:
            await safe_close(websocket, 1013, "Too many connections for this conversation")
            return
        subscribers[key] = subscribers.get(key, 0) + 1
        try:
            await serve_subscriber(websocket, sandbox, conversation, mode, after, fault)
        finally:
            subscribers[key] -= 1

    async def first_frame_auth(websocket: WebSocket, sandbox: V1Sandbox) -> bool:
        try:
            message = await asyncio.wait_for(websocket.receive(), timeout=config.websocket_auth_timeout)
        except TimeoutError:
            message = None
        data: Any = None
        if message is not None and message.get("type") == "websocket.receive":
            try:
                data = json.loads(message.get("text") or message.get("bytes") or b"")
            except ValueError:
                data = None
        if (
            isinstance(data, dict)
            and data.get("type") == "auth"
            and isinstance(data.get("session_api_key"), str)
            and key_matches(sandbox, data["session_api_key"])
        ):
            return True
        if message is None or message.get("type") != "websocket.disconnect":
            await safe_close(websocket, 4001, "Authentication failed")
        return False

    async def serve_subscriber(
        websocket: WebSocket,
        sandbox: V1Sandbox,
        conversation: V1Conversation,
        mode: str | None,
        after: datetime | None,
        fault: FaultRule | None,
    ) -> None:
        drop_after = fault.frames if fault is not None and fault.fault == "ws_drop" else None
        sent = 0
        cid = conversation.conversation_id

        async def send(event: ev.Event) -> bool:
            """False once the connection is to drop (``ws_drop``) or is gone."""
            nonlocal sent
            if drop_after is not None and sent >= drop_after:
                return False
            try:
                await websocket.send_text(json.dumps(transport_event(event)))
            except Exception:  # the client went away meanwhile
                return False
            sent += 1
            return True

        with state.lock:
            first = store.state_snapshot_event(conversation)
            log = store.live_events(cid)
            # Live frames follow everything published (the log and what is only published).
            cursor = len(store.published_events(cid))
            if mode == "all":
                backlog = list(log)
            elif mode == "since" and after is not None:
                bound = _server_time(after)
                backlog = [e for e in log if str(e.get("timestamp")) >= bound]
            else:
                backlog = []
        for event in [first, *backlog]:
            if not await send(event):
                return  # returning without a close frame: uvicorn drops the connection

        receiver = asyncio.ensure_future(receive_frames(websocket, conversation))
        try:
            while not receiver.done():
                with state.lock:
                    alive = store.sandboxes.get(sandbox.sandbox_id) is sandbox and cid in store.conversations
                    fresh: list[ev.Event] = []
                    if alive and sandbox.status == SANDBOX_RUNNING:
                        state.advance()
                        published = store.published_events(cid)
                        fresh, cursor = published[cursor:], len(published)
                if not alive:
                    return  # the agent server is gone: the connection drops
                for event in fresh:
                    if not await send(event):
                        return
                await asyncio.wait({receiver}, timeout=POLL_INTERVAL)
        finally:
            receiver.cancel()

    async def receive_frames(websocket: WebSocket, conversation: V1Conversation) -> None:
        while True:
            message = await websocket.receive()
            if message.get("type") == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                raw = (message.get("bytes") or b"").decode("utf-8", "replace")
            try:
                data = json.loads(raw)
                if isinstance(data, dict) and data.get("type") == "auth":
                    continue  # a redundant auth frame
                request = SendMessageRequest.model_validate(data)
            except (ValueError, ValidationError) as exc:
                code = "ValidationError" if isinstance(exc, ValidationError) else "JSONDecodeError"
                await websocket.send_text(json.dumps(server_error_event(code, str(exc))))
                continue
            with state.lock:
                if store.conversations.get(conversation.conversation_id) is conversation:
                    store.send_message(
                        conversation,
                        content_dump(request.content),
                        content_text(request.content),
                        True,
                        direct=True,
                    )

    return app


def _socket_parameters(
    conversation_id: str, resend_mode: str | None, after_timestamp: str | None, resend_all: str | None
) -> tuple[uuid.UUID, str | None, datetime | None] | None:
    """The socket's query, validated as FastAPI would (None: a validation failure)."""
    try:
        conversation_uuid = uuid.UUID(conversation_id)
    except ValueError:
        return None
    if resend_mode not in (None, "all", "since"):
        return None
    after = None
    if after_timestamp is not None:
        after = _parse_datetime(after_timestamp)
        if after is None:
            return None
    legacy_all = False
    if resend_all is not None:
        flag = _parse_bool(resend_all)
        if flag is None:
            return None
        legacy_all = flag
    mode = resend_mode if resend_mode is not None else ("all" if legacy_all else None)
    return conversation_uuid, mode, after


async def deny(websocket: WebSocket, response: Response) -> None:
    """Refuse the upgrade with an HTTP answer (uvicorn's denial-response extension), or with
    uvicorn's plain 403 where that is unavailable."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(response)
    else:
        await websocket.close(code=1008)


async def safe_close(websocket: WebSocket, code: int, reason: str) -> None:
    try:
        await websocket.close(code=code, reason=reason)
    except Exception:  # already closed by the client
        return
