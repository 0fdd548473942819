"""The V1 REST routes of the fake server (``/api/v1/...``, ``openhands-ai`` 1.11.0 or 1.6.0).

Responsible for: HTTP in and out for every V1 route of CONTRACT.md §5.2–5.4 — parameter
types (so 422 bodies match), the real checks in the real order (``ids`` limits, UUID
parsing that gives 400, 422 or a plain 500 depending on the route, 404 bodies that use
``detail`` on some routes and ``error`` on others, the dashed ids in messages), send-message's
404/409/410/503, the ``DELETE /sandboxes/{id}`` quirk (the query parameter wins), the
streamed ``stream-start`` array, the download zip's headers, Cloud's 429
``CONCURRENCY_LIMIT_REACHED``. With ``generations="both"`` the surface is 1.6.0's: no
``send-message``, ``DELETE /app-conversations/{id}``, ``git/*`` or ``/api/v1/settings``.
Behaviour sources: captures in ``shared/real-server/captures`` and runs against a real 1.11.0
server; the route code of 1.11.0 where a case was not observed.

Not responsible for: the error bodies' words (``core/error_bodies.py``), V1 behaviour
(``v1/store.py``), auth (``core/auth.py``) or time (the middleware advances state before each
request; handlers hold ``state.lock``).
"""

# No ``from __future__ import annotations``: FastAPI reads these annotations at runtime.

import json
import posixpath
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse

from ..core import error_bodies as bodies
from ..core.auth import router_dependencies
from ..core.state import FakeState
from ..faults.crash import ServerCrash
from . import settings as settings_bodies
from .conversation import SANDBOX_ERROR, SANDBOX_MISSING, SANDBOX_PAUSED, SANDBOX_RUNNING, V1Conversation
from .events import AGENT_SERVER_IMAGE, iso_z
from .models import (
    AppConversationStartRequest,
    AppConversationUpdateRequest,
    AppConversationUpdateRequest160,
    AppSendMessageRequest,
    EventKind,
    EventSortOrder,
    ProviderType,
    StartTaskSortOrder,
    content_dump,
    content_text,
)

GIT_STATUS_WORDS = {"A": "ADDED", "D": "DELETED", "M": "UPDATED", "R": "MOVED", "U": "UPDATED", "?": "ADDED"}
"""V0-style letters seeded through ``state.git_changes`` → the agent server's words."""

Limit = Annotated[int, Query(gt=0, le=100)]


def _suggested_task_prompt(request: AppConversationStartRequest) -> str:
    task = request.suggested_task
    assert task is not None
    # The real server renders a per-task template; the fake only needs a stable text.
    return (
        f"Please work on this {task.task_type.value} task in {task.repo} "
        f"(#{task.issue_number}, {task.git_provider.value}): {task.title}"
    )


def sandbox_spec(created_at: float) -> dict[str, Any]:
    """``SandboxSpecInfo`` of the process sandboxes a self-hosted 1.11.0 starts (no ``LLM_*``
    or ``OH_AGENT_SERVER_ENV`` variables forwarded)."""
    return {
        "id": AGENT_SERVER_IMAGE,
        "command": ["python", "-m", "openhands.agent_server"],
        "created_at": iso_z(created_at),
        "initial_env": {"TMUX_TMPDIR": "/tmp/openhands-tmux", "OH_ENABLE_VS_CODE": "0"},
        "working_dir": ".",
    }


def build_v1_router(state: FakeState) -> APIRouter:
    """All authenticated V1 routes, bound to ``state``."""
    config = state.config
    store = state.v1
    legacy = store.dialect == "1.6.0"
    router = APIRouter(prefix="/api/v1", dependencies=router_dependencies(config))

    # ------------------------------------------------------------- helpers
    def conversation_or_none(conversation_id: UUID) -> V1Conversation | None:
        return store.conversations.get(conversation_id.hex)

    def prepare_start(data: AppConversationStartRequest) -> tuple[dict[str, Any], str | None]:
        """What the real service does before its first yield; failures there are plain 500s."""
        if data.parent_conversation_id is not None:
            parent = store.conversations.get(data.parent_conversation_id.hex)
            if parent is None:
                raise ServerCrash  # ValueError("Parent conversation not found: …")
            # Sub-conversations share the parent's sandbox and inherit its git and LLM setup.
            data.sandbox_id = data.sandbox_id or parent.sandbox_id
            data.selected_repository = data.selected_repository or parent.selected_repository
            data.selected_branch = data.selected_branch or parent.selected_branch
            if data.git_provider is None and parent.git_provider is not None:
                data.git_provider = ProviderType(parent.git_provider)
            data.llm_model = data.llm_model or parent.llm_model
        echo = data.echo(store.dialect)
        text: str | None = None
        if data.suggested_task is not None:
            if data.initial_message is not None:
                raise ServerCrash  # "initial_message cannot be provided when suggested_task is present"
            text = _suggested_task_prompt(data)
            echo["initial_message"] = {
                "role": "user",
                "content": [{"cache_prompt": False, "type": "text", "text": text}],
                "run": False,
            }
            echo["trigger"] = "suggested_task"
            echo["selected_repository"] = echo["selected_repository"] or data.suggested_task.repo
            echo["git_provider"] = echo["git_provider"] or data.suggested_task.git_provider.value
        elif data.initial_message is not None:
            text = content_text(data.initial_message.content)
        return echo, text

    def concurrency_refusal() -> Response | None:
        limit = config.concurrency_limit
        if limit is None:
            return None
        current = store.active_sandboxes()
        if current < limit:
            return None
        return bodies.concurrency_limited(limit, current)

    def agent_context_error(conversation_id: UUID) -> tuple[int, str] | None:
        """``_get_agent_server_context``: None when the agent server is reachable or the
        sandbox is PAUSED (callers check that), else the status and message it frames."""
        conversation = conversation_or_none(conversation_id)
        if conversation is None:
            return 404, bodies.v1_conversation_not_found_text(conversation_id)
        sandbox = store.sandboxes.get(conversation.sandbox_id)
        if sandbox is None:
            return 404, bodies.v1_sandbox_not_found_text(conversation_id)
        if sandbox.status not in (SANDBOX_PAUSED, SANDBOX_RUNNING):
            return 404, bodies.v1_sandbox_not_ready_text(conversation_id)
        return None

    def is_paused(conversation_id: UUID) -> bool:
        conversation = conversation_or_none(conversation_id)
        sandbox = store.sandboxes.get(conversation.sandbox_id) if conversation else None
        return sandbox is not None and sandbox.status == SANDBOX_PAUSED

    # ------------------------------------------------------------- app conversations: reads
    @router.get("/app-conversations/search")
    async def search_app_conversations(
        title__contains: str | None = None,
        created_at__gte: datetime | None = None,
        created_at__lt: datetime | None = None,
        updated_at__gte: datetime | None = None,
        updated_at__lt: datetime | None = None,
        sandbox_id__eq: str | None = None,
        page_id: str | None = None,
        limit: Limit = 100,
        include_sub_conversations: bool = False,
    ) -> Response:
        filters = {
            "title__contains": title__contains,
            "created_at__gte": created_at__gte,
            "created_at__lt": created_at__lt,
            "updated_at__gte": updated_at__gte,
            "updated_at__lt": updated_at__lt,
            "sandbox_id__eq": sandbox_id__eq,
        }
        with state.lock:
            return JSONResponse(store.search(filters, page_id, limit, include_sub_conversations))

    @router.get("/app-conversations/count")
    async def count_app_conversations(
        title__contains: str | None = None,
        created_at__gte: datetime | None = None,
        created_at__lt: datetime | None = None,
        updated_at__gte: datetime | None = None,
        updated_at__lt: datetime | None = None,
        sandbox_id__eq: str | None = None,
    ) -> Response:
        filters = {
            "title__contains": title__contains,
            "created_at__gte": created_at__gte,
            "created_at__lt": created_at__lt,
            "updated_at__gte": updated_at__gte,
            "updated_at__lt": updated_at__lt,
            "sandbox_id__eq": sandbox_id__eq,
        }
        with state.lock:
            return JSONResponse(store.count(filters))

    @router.get("/app-conversations")
    async def batch_get_app_conversations(ids: Annotated[list[str], Query()]) -> Response:
        if len(ids) >= 100:
            return bodies.v1_too_many_conversation_ids()
        parsed: list[UUID] = []
        invalid: list[str] = []
        for text in ids:
            try:
                parsed.append(UUID(text))
            except ValueError:
                invalid.append(text)
        if invalid:
            return bodies.v1_invalid_uuids(invalid)
        with state.lock:
            return JSONResponse([store.wire(c) if (c := conversation_or_none(u)) else None for u in parsed])

    # ------------------------------------------------------------- app conversations: start
    @router.post("/app-conversations")
    async def start_app_conversation(data: AppConversationStartRequest) -> Response:
        with state.lock:
            refusal = concurrency_refusal()
            if refusal is not None:
                return refusal
            echo, text = prepare_start(data)
            task = store.start(echo, text)
            return JSONResponse(task.wire(from_database=False))

    @router.post("/app-conversations/stream-start")
    async def stream_app_conversation_start(data: AppConversationStartRequest) -> Response:
        with state.lock:
            refusal = concurrency_refusal()
            if refusal is not None:
                return refusal
            echo, text = prepare_start(data)
            task = store.start(echo, text)

        async def snapshots() -> AsyncIterator[str]:
            """``[\\n`` + every state of the task, comma-newline separated, + ``]`` once it
            is READY or ERROR (a stuck task keeps the connection open, as the real one does)."""
            yield "[\n"
            sent = 0
            while True:
                with state.lock:
                    state.advance()
                    fresh = task.snapshots[sent:]
                    done = task.done
                    due = state.scheduler.next_due()
                    now = state.now()
                for snapshot in fresh:
                    chunk = json.dumps(snapshot, separators=(",", ":"), ensure_ascii=False)
                    yield chunk if sent == 0 else ",\n" + chunk
                    sent += 1
                if done:
                    break
                wait = 1.0 if due is None else min(1.0, max(due - now, 0.0))
                await state.clock.sleep(max(wait, 0.001))
            yield "]"

        return StreamingResponse(snapshots(), media_type="application/json")

    # ------------------------------------------------------------- start tasks
    @router.get("/app-conversations/start-tasks/search")
    async def search_start_tasks(
        conversation_id__eq: UUID | None = None,
        created_at__gte: datetime | None = None,
        sort_order: StartTaskSortOrder = StartTaskSortOrder.CREATED_AT_DESC,
        page_id: str | None = None,
        limit: Limit = 100,
    ) -> Response:
        conversation_id = conversation_id__eq.hex if conversation_id__eq else None
        with state.lock:
            return JSONResponse(
                store.search_tasks(conversation_id, created_at__gte, sort_order.value, page_id, limit)
            )

    @router.get("/app-conversations/start-tasks/count")
    async def count_start_tasks(
        conversation_id__eq: UUID | None = None, created_at__gte: datetime | None = None
    ) -> Response:
        conversation_id = conversation_id__eq.hex if conversation_id__eq else None
        with state.lock:
            return JSONResponse(store.count_tasks(conversation_id, created_at__gte))

    @router.get("/app-conversations/start-tasks")
    async def batch_get_start_tasks(ids: Annotated[list[UUID], Query()]) -> Response:
        if len(ids) > 100:
            return bodies.v1_too_many("start tasks", len(ids))
        with state.lock:
            return JSONResponse([t.wire() if (t := store.tasks.get(u.hex)) else None for u in ids])

    # ------------------------------------------------------------- one conversation
    update_model: Any = AppConversationUpdateRequest160 if legacy else AppConversationUpdateRequest

    @router.patch("/app-conversations/{conversation_id}")
    async def update_app_conversation(conversation_id: str, update_request: update_model) -> Response:
        try:
            parsed = UUID(conversation_id)
        except ValueError as exc:
            raise ServerCrash from exc  # UUID() inside the handler, not a declared type
        with state.lock:
            conversation = conversation_or_none(parsed)
            if conversation is None:
                return bodies.v1_update_not_found()
            fields = {name: getattr(update_request, name) for name in update_request.model_fields_set}
            if "git_provider" in fields and fields["git_provider"] is not None:
                fields["git_provider"] = fields["git_provider"].value
            store.update_conversation(conversation, fields)
            return JSONResponse(store.wire(conversation))

    if not legacy:

        @router.delete("/app-conversations/{conversation_id}")
        async def delete_app_conversation(conversation_id: str) -> Response:
            try:
                parsed = UUID(conversation_id)
            except ValueError:
                return bodies.v1_delete_invalid_id()
            with state.lock:
                if not store.delete_conversation(parsed.hex):
                    return bodies.v1_delete_not_found()
            return JSONResponse({"success": True})

        @router.post("/app-conversations/{conversation_id}/send-message")
        async def send_message(conversation_id: UUID, request: AppSendMessageRequest) -> Response:
            with state.lock:
                conversation = conversation_or_none(conversation_id)
                if conversation is None:
                    return bodies.detail(404, bodies.v1_conversation_not_found_text(conversation_id))
                sandbox = store.sandboxes.get(conversation.sandbox_id)
                if sandbox is None:
                    return bodies.detail(404, bodies.v1_sandbox_not_found_text(conversation_id))
                if sandbox.status == SANDBOX_MISSING:
                    return bodies.v1_send_message_sandbox_missing()
                if sandbox.status == SANDBOX_ERROR:
                    return bodies.v1_send_message_sandbox_error()
                if sandbox.status != SANDBOX_RUNNING:
                    return bodies.v1_send_message_sandbox_not_running(sandbox.status, sandbox.sandbox_id)
                store.send_message(
                    conversation, content_dump(request.content), content_text(request.content), request.run
                )
                return JSONResponse({"success": True, "sandbox_status": sandbox.status, "message": None})

    @router.get("/app-conversations/{conversation_id}/file")
    async def read_conversation_file(
        conversation_id: UUID, file_path: str = "/workspace/project/PLAN.md"
    ) -> Response:
        with state.lock:
            conversation = conversation_or_none(conversation_id)
            sandbox = store.sandboxes.get(conversation.sandbox_id) if conversation else None
            if sandbox is None or sandbox.status != SANDBOX_RUNNING:
                return JSONResponse("")
            path = posixpath.normpath(file_path)
            for root in ("/workspace/project/", "/workspace/"):
                if path.startswith(root):
                    path = path[len(root) :]
                    break
            kind, text = state.workspace.read(path)
        return JSONResponse(text if kind == "text" else "")

    if not legacy:

        async def git_call(conversation_id: UUID) -> Response | None:
            error = agent_context_error(conversation_id)
            if error is not None:
                return bodies.v1_not_reachable(error[0], conversation_id)
            if is_paused(conversation_id):
                return bodies.v1_git_paused()
            return None

        @router.get("/app-conversations/{conversation_id}/git/changes")
        async def git_changes(conversation_id: UUID, path: str, ref: str | None = None) -> Response:
            with state.lock:
                refusal = await git_call(conversation_id)
                if refusal is not None:
                    return refusal
                changes = [
                    {
                        "status": GIT_STATUS_WORDS.get(c.get("status", ""), c.get("status", "")),
                        "path": c.get("path", ""),
                    }
                    for c in state.git_changes
                ]
            return JSONResponse(changes)

        @router.get("/app-conversations/{conversation_id}/git/diff")
        async def git_diff(conversation_id: UUID, path: str, ref: str | None = None) -> Response:
            with state.lock:
                refusal = await git_call(conversation_id)
                if refusal is not None:
                    return refusal
                diff = state.git_diffs.get(path)
            if diff is None:
                return bodies.v1_git_diff_failed()
            return JSONResponse({"modified": diff.get("modified"), "original": diff.get("original")})

    async def listing_of(conversation_id: UUID, key: str) -> Response:
        with state.lock:
            error = agent_context_error(conversation_id)
        if error is not None:
            return bodies.error(error[0], error[1])
        return JSONResponse({key: []})

    @router.get("/app-conversations/{conversation_id}/skills")
    async def get_skills(conversation_id: UUID) -> Response:
        return await listing_of(conversation_id, "skills")

    @router.get("/app-conversations/{conversation_id}/hooks")
    async def get_hooks(conversation_id: UUID) -> Response:
        return await listing_of(conversation_id, "hooks")

    @router.get("/app-conversations/{conversation_id}/download")
    async def download(conversation_id: UUID) -> Response:
        with state.lock:
            conversation = conversation_or_none(conversation_id)
            if conversation is None:
                return bodies.v1_download_not_found(conversation_id)
            data = store.download(conversation)
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="conversation_{conversation_id}.zip"'},
        )

    # ------------------------------------------------------------- events
    def event_conversation(conversation_id: str) -> str:
        try:
            return UUID(conversation_id).hex
        except ValueError as exc:
            raise ServerCrash from exc  # UUID() in the handler: a plain 500

    @router.get("/conversation/{conversation_id}/events/search")
    async def search_events(
        conversation_id: str,
        kind__eq: EventKind | None = None,
        timestamp__gte: datetime | None = None,
        timestamp__lt: datetime | None = None,
        sort_order: EventSortOrder = EventSortOrder.TIMESTAMP,
        page_id: str | None = None,
        limit: Limit = 100,
    ) -> Response:
        key = event_conversation(conversation_id)
        with state.lock:
            page = store.search_events(
                key,
                kind__eq,
                timestamp__gte,
                timestamp__lt,
                sort_order == EventSortOrder.TIMESTAMP_DESC,
                page_id,
                limit,
            )
            return JSONResponse(page)

    @router.get("/conversation/{conversation_id}/events/count")
    async def count_events(
        conversation_id: str,
        kind__eq: EventKind | None = None,
        timestamp__gte: datetime | None = None,
        timestamp__lt: datetime | None = None,
    ) -> Response:
        key = event_conversation(conversation_id)
        with state.lock:
            return JSONResponse(store.count_events(key, kind__eq, timestamp__gte, timestamp__lt))

    @router.get("/conversation/{conversation_id}/events")
    async def batch_get_events(conversation_id: str, id: Annotated[list[str], Query()]) -> Response:
        if len(id) > 100:
            return bodies.v1_too_many("events", len(id))
        key = event_conversation(conversation_id)
        try:
            for event_id in id:
                UUID(event_id)
        except ValueError as exc:
            raise ServerCrash from exc
        with state.lock:
            return JSONResponse(store.batch_events(key, id))

    # ------------------------------------------------------------- sandboxes
    @router.get("/sandboxes/search")
    async def search_sandboxes(page_id: str | None = None, limit: Limit = 100) -> Response:
        with state.lock:
            return JSONResponse(store.search_sandboxes(page_id, limit))

    @router.get("/sandboxes")
    async def batch_get_sandboxes(id: Annotated[list[str], Query()]) -> Response:
        if len(id) > 100:
            return bodies.v1_too_many("sandboxes", len(id))
        with state.lock:
            return JSONResponse([s.wire() if (s := store.sandboxes.get(i)) else None for i in id])

    @router.post("/sandboxes")
    async def start_sandbox(sandbox_spec_id: str | None = None) -> Response:
        with state.lock:
            return JSONResponse(store.create_raw_sandbox().wire())

    @router.post("/sandboxes/{sandbox_id}/pause")
    async def pause_sandbox(sandbox_id: str) -> Response:
        with state.lock:
            if not store.pause_sandbox(sandbox_id):
                raise bodies.not_found()
        return JSONResponse({"success": True})

    @router.post("/sandboxes/{sandbox_id}/resume")
    async def resume_sandbox(sandbox_id: str) -> Response:
        with state.lock:
            if not store.resume_sandbox(sandbox_id):
                raise bodies.not_found()
        return JSONResponse({"success": True})

    @router.delete("/sandboxes/{id}")
    async def delete_sandbox(id: str, sandbox_id: str) -> Response:
        # The real handler names its parameter ``sandbox_id`` while the path says ``{id}``:
        # FastAPI then reads ``sandbox_id`` from the query and the path segment is ignored.
        with state.lock:
            if not store.delete_sandbox(sandbox_id):
                raise bodies.not_found()
        return JSONResponse({"success": True})

    # ------------------------------------------------------------- sandbox specs
    # The process sandbox service's one preset spec, created with the service.
    specs = [sandbox_spec(store.created_at)]

    @router.get("/sandbox-specs/search")
    async def search_sandbox_specs(page_id: str | None = None, limit: Limit = 100) -> Response:
        start = 0
        if page_id:
            try:
                start = int(page_id)
            except ValueError:
                start = 0
        end = start + limit
        return JSONResponse(
            {"items": specs[start:end], "next_page_id": str(end) if end < len(specs) else None}
        )

    @router.get("/sandbox-specs")
    async def batch_get_sandbox_specs(id: Annotated[list[str], Query()]) -> Response:
        if len(id) > 100:
            return bodies.v1_too_many("sandbox specs", len(id))
        by_id = {spec["id"]: spec for spec in specs}
        return JSONResponse([by_id.get(spec_id) for spec_id in id])

    # ------------------------------------------------------------- user and settings
    @router.get("/users/me")
    async def get_current_user(expose_secrets: bool = False) -> Response:
        with state.lock:
            return JSONResponse(settings_bodies.user_info(state.settings))

    if not legacy:

        @router.get("/settings")
        async def load_settings() -> Response:
            with state.lock:
                if state.settings is None:
                    return bodies.settings_not_found()
                return JSONResponse(settings_bodies.settings_view(state.settings))

        @router.post("/settings")
        async def store_settings(payload: Annotated[dict[str, Any], Body()]) -> Response:
            legacy_keys = sorted(k for k in ("agent_settings", "conversation_settings") if k in payload)
            if legacy_keys:
                return bodies.v1_settings_legacy_keys(legacy_keys)
            with state.lock:
                state.settings = settings_bodies.merge_settings(state.settings, payload)
            return JSONResponse({"message": "Settings stored"})

    return router


def build_v1_open_router(state: FakeState) -> APIRouter:
    """V1 routes that never need authentication."""
    router = APIRouter(prefix="/api/v1")
    app_mode = "saas" if state.config.flavor == "cloud" else "oss"

    @router.get("/web-client/config")
    async def web_client_config() -> Response:
        return JSONResponse(settings_bodies.web_client_config(app_mode))

    return router


__all__ = ["build_v1_open_router", "build_v1_router"]
