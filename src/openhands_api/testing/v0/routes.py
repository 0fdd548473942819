"""The V0 REST routes of the fake server (``openhands-ai`` 1.6.0, ``/api/...``).

Responsible for: HTTP in and out for every V0 route — request models (unknown keys of
create and PATCH → 422 ``extra_forbidden``, enums listed in 422 messages), the conversation
id check of the manage routes (> 100 characters → 400), which answer the real server gives
in each case (GET of an unknown id → 200 ``null``, DELETE → ``false``, stop of an unknown id →
"Conversation was not running", 404 bodies that differ per route, the plain 500s), settings
and options. Behaviour sources: captures in ``shared/real-server/captures`` and runs against a
real 1.6.0 server; see CONTRACT.md §2.

Not responsible for: the error bodies' words (``core/error_bodies.py``), conversation
behaviour (``v0/store.py``), auth (``core/auth.py``) or time (the middleware advances state
before each request; handlers hold ``state.lock``).

"meta" routes read stored data and work for stopped conversations; "attach" routes need a
live agent loop and answer 404 ``{"detail":"Conversation <id> not found"}`` otherwise.

With ``generations="both"`` the manage routes also reach V1 conversations, as 1.6.0's do: GET
renders one as a V0 ``ConversationInfo`` (``conversation_version: "V1"``), DELETE deletes it
(→ ``true``), PATCH renames it (→ ``true``, ``updated_at`` moves); the list merges both
(``v0/store.py``).
"""

# No ``from __future__ import annotations``: FastAPI reads these annotations at runtime.

import json
import posixpath
import uuid
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ..core import error_bodies as bodies
from ..core.auth import router_dependencies
from ..core.state import FakeState
from ..faults.crash import ServerCrash
from . import events as ev
from .conversation import RUNNING, STARTING, V0Conversation


class ProviderType(Enum):
    GITHUB = "github"
    GITLAB = "gitlab"
    BITBUCKET = "bitbucket"
    BITBUCKET_DATA_CENTER = "bitbucket_data_center"
    FORGEJO = "forgejo"
    AZURE_DEVOPS = "azure_devops"
    ENTERPRISE_SSO = "enterprise_sso"


class ConversationTrigger(Enum):
    RESOLVER = "resolver"
    GUI = "gui"
    SUGGESTED_TASK = "suggested_task"
    REMOTE_API_KEY = "openhands_api"
    SLACK = "slack"
    MICROAGENT_MANAGEMENT = "microagent_management"
    JIRA = "jira"
    JIRA_DC = "jira_dc"
    LINEAR = "linear"
    BITBUCKET = "bitbucket"


class TaskType(str, Enum):
    MERGE_CONFLICTS = "MERGE_CONFLICTS"
    FAILING_CHECKS = "FAILING_CHECKS"
    UNRESOLVED_COMMENTS = "UNRESOLVED_COMMENTS"
    OPEN_ISSUE = "OPEN_ISSUE"
    OPEN_PR = "OPEN_PR"
    CREATE_MICROAGENT = "CREATE_MICROAGENT"


class SuggestedTask(BaseModel):
    git_provider: ProviderType
    task_type: TaskType
    repo: str
    issue_number: int
    title: str


class CreateMicroagent(BaseModel):
    repo: str
    git_provider: ProviderType | None = None
    title: str | None = None


class MCPConfig(BaseModel):
    sse_servers: list[Any] = Field(default_factory=list)
    stdio_servers: list[Any] = Field(default_factory=list)
    shttp_servers: list[Any] = Field(default_factory=list)
    model_config = ConfigDict(extra="forbid")


class InitSessionRequest(BaseModel):
    """``POST /api/conversations`` (field order as in 1.6.0: it orders the 422 errors)."""

    repository: str | None = None
    git_provider: ProviderType | None = None
    selected_branch: str | None = None
    initial_user_msg: str | None = None
    image_urls: list[str] | None = None
    replay_json: str | None = None
    suggested_task: SuggestedTask | None = None
    create_microagent: CreateMicroagent | None = None
    conversation_instructions: str | None = None
    mcp_config: MCPConfig | None = None
    model_config = ConfigDict(extra="forbid")


class UpdateConversationRequest(BaseModel):
    title: str = Field(..., min_length=1, max_length=200)
    model_config = ConfigDict(extra="forbid")


class ProvidersSetModel(BaseModel):
    providers_set: list[ProviderType] | None = None


class AddMessageRequest(BaseModel):
    message: str


async def valid_conversation_id(conversation_id: str) -> str:
    """``validate_conversation_id`` of the manage routes."""
    if len(conversation_id) > 100:
        raise bodies.v0_bad_conversation_id(bodies.CONVERSATION_ID_TOO_LONG)
    if "\x00" in conversation_id:
        raise bodies.v0_bad_conversation_id(bodies.CONVERSATION_ID_NUL)
    if ".." in conversation_id or "/" in conversation_id or "\\" in conversation_id:
        raise bodies.v0_bad_conversation_id(bodies.CONVERSATION_ID_PATH)
    if any(ord(c) < 32 for c in conversation_id):
        raise bodies.v0_bad_conversation_id(bodies.CONVERSATION_ID_CONTROL)
    return conversation_id


def _suggested_task_prompt(task: SuggestedTask) -> str:
    # The real server renders a per-task Jinja template; the fake only needs a stable text.
    return (
        f"Please work on this {task.task_type.value} task in {task.repo} "
        f"(#{task.issue_number}, {task.git_provider.value}): {task.title}"
    )


def _conversation_response(conversation_id: str, status: str, message: str | None = None) -> dict[str, Any]:
    return {
        "status": "ok",
        "conversation_id": conversation_id,
        "message": message,
        "conversation_status": status,
    }


OPTIONS_MODELS = [
    "anthropic/claude-sonnet-4-5-20250929",
    "openai/fake",
    "openai/gpt-5.2",
    "openhands/claude-sonnet-4-5-20250929",
    "openhands/gpt-5.2",
]
OPTIONS_AGENTS = [
    "BrowsingAgent",
    "CodeActAgent",
    "DummyAgent",
    "LocAgent",
    "ReadOnlyAgent",
    "VisualBrowsingAgent",
]
OPTIONS_SECURITY_ANALYZERS = ["grayswan", "invariant", "llm"]
OPTIONS_CONFIG = {
    "APP_MODE": "oss",
    "GITHUB_CLIENT_ID": "",
    "POSTHOG_CLIENT_KEY": "phc_fake",
    "FEATURE_FLAGS": {"ENABLE_BILLING": False, "HIDE_LLM_SETTINGS": False},
}


def build_v0_router(state: FakeState) -> APIRouter:
    """All V0 routes, bound to ``state``."""
    config = state.config
    store = state.v0
    router = APIRouter(prefix="/api", dependencies=router_dependencies(config))
    serves_v1 = config.generations == "both"

    def v1_conversation_id(conversation_id: str) -> str | None:
        """The hex id of a V1 conversation 1.6.0's shims would find, if any."""
        if not serves_v1:
            return None
        try:
            key = uuid.UUID(conversation_id).hex
        except ValueError:
            return None
        return key if key in state.v1.conversations else None

    # ------------------------------------------------------------- dependencies
    async def existing(conversation_id: str) -> V0Conversation:
        """For "meta" routes: the stored conversation, whatever its status."""
        with state.lock:
            conversation = store.get(conversation_id)
        if conversation is None:
            raise bodies.v0_conversation_not_found(conversation_id)
        return conversation

    async def attached(conversation_id: str) -> V0Conversation:
        """For "attach" routes: the conversation if it has a live agent loop (STARTING or RUNNING)."""
        with state.lock:
            conversation = store.get(conversation_id)
        if conversation is None or not conversation.is_running:
            raise bodies.v0_conversation_not_found(conversation_id)
        return conversation

    async def attached_for_events(conversation_id: str) -> V0Conversation:
        """``/message`` and ``POST /events``: a stopped conversation gets through while the
        real server's attach cache is warm (``stopped_attach_cached``) and fails later."""
        with state.lock:
            conversation = store.get(conversation_id)
        if conversation is None or not (conversation.is_running or config.stopped_attach_cached):
            raise bodies.v0_conversation_not_found(conversation_id)
        return conversation

    # ------------------------------------------------------------- manage routes
    @router.post("/conversations")
    async def new_conversation(data: InitSessionRequest) -> Response:
        with state.lock:
            if state.settings is None:
                return bodies.v0_create_without_settings()
            request = data.model_dump(mode="json")
            trigger = ConversationTrigger.GUI.value
            if data.suggested_task:
                request["initial_user_msg"] = _suggested_task_prompt(data.suggested_task)
                trigger = ConversationTrigger.SUGGESTED_TASK.value
            elif data.create_microagent:
                trigger = ConversationTrigger.MICROAGENT_MANAGEMENT.value
                if not data.repository and data.create_microagent.repo:
                    request["repository"] = data.create_microagent.repo
                if not data.git_provider and data.create_microagent.git_provider:
                    request["git_provider"] = data.create_microagent.git_provider.value
            if config.api_key is not None:
                trigger = ConversationTrigger.REMOTE_API_KEY.value
            if request.get("repository") and not config.git_provider_token_configured:
                raise ServerCrash  # the provider check fails without a token (observed)
            conversation = store.create(request, trigger=trigger)
            return JSONResponse(_conversation_response(conversation.conversation_id, conversation.status))

    @router.get("/conversations")
    async def search_conversations(
        page_id: str | None = None,
        limit: int = 20,
        selected_repository: str | None = None,
        conversation_trigger: ConversationTrigger | None = None,
        include_sub_conversations: bool = False,
    ) -> Response:
        with state.lock:
            page = store.list_page(
                page_id,
                limit,
                selected_repository,
                conversation_trigger.value if conversation_trigger else None,
                include_sub_conversations,
            )
        return JSONResponse(page)

    @router.get("/conversations/{conversation_id}")
    async def get_conversation(conversation_id: Annotated[str, Depends(valid_conversation_id)]) -> Response:
        with state.lock:
            v1_id = v1_conversation_id(conversation_id)
            if v1_id is not None:
                return JSONResponse(state.v1.v0_info(state.v1.conversations[v1_id]))
            conversation = store.get(conversation_id)
            return JSONResponse(conversation.info() if conversation else None)

    @router.delete("/conversations/{conversation_id}")
    async def delete_conversation(
        conversation_id: Annotated[str, Depends(valid_conversation_id)],
    ) -> Response:
        with state.lock:
            v1_id = v1_conversation_id(conversation_id)
            if v1_id is not None:
                return JSONResponse(state.v1.delete_conversation(v1_id))
            conversation = store.get(conversation_id)
            if conversation is None:
                return JSONResponse(False)
            if conversation.status != STARTING:
                return JSONResponse(store.delete(conversation_id))
            # Closing a session whose runtime is still starting hangs and then fails in the
            # real server; the loop is closed, the conversation stays (STOPPED).
            store.stop(conversation)
        await state.clock.sleep(config.scaled(config.delete_starting_delay))
        raise ServerCrash

    @router.patch("/conversations/{conversation_id}")
    async def update_conversation(
        data: UpdateConversationRequest, conversation_id: Annotated[str, Depends(valid_conversation_id)]
    ) -> Response:
        with state.lock:
            v1_id = v1_conversation_id(conversation_id)
            if v1_id is not None:
                v1_conversation = state.v1.conversations[v1_id]
                v1_conversation.title = data.title.strip()
                v1_conversation.updated_at = state.now()
                return JSONResponse(True)
            conversation = store.get(conversation_id)
            if conversation is None:
                return bodies.v0_rename_not_found()
            store.rename(conversation, data.title)
        return JSONResponse(True)

    @router.post("/conversations/{conversation_id}/start")
    async def start_conversation(
        providers_set: ProvidersSetModel, conversation_id: Annotated[str, Depends(valid_conversation_id)]
    ) -> Response:
        with state.lock:
            conversation = store.get(conversation_id)
            if conversation is None:
                return bodies.v0_start_not_found(conversation_id)
            status = store.start(conversation)
        return JSONResponse(_conversation_response(conversation_id, status))

    @router.post("/conversations/{conversation_id}/stop")
    async def stop_conversation(conversation_id: Annotated[str, Depends(valid_conversation_id)]) -> Response:
        with state.lock:
            conversation = store.get(conversation_id)
            if conversation is None or not conversation.is_running:
                message, status = bodies.V0_STOP_NOT_RUNNING, "STOPPED"
            else:
                message, status = "Conversation stopped successfully", store.stop(conversation)
        return JSONResponse(_conversation_response(conversation_id, status, message))

    # ------------------------------------------------------------- events and messages
    @router.get("/conversations/{conversation_id}/events")
    async def search_events(
        conversation: Annotated[V0Conversation, Depends(existing)],
        start_id: int = 0,
        end_id: int | None = None,
        reverse: bool = False,
        limit: int = 20,
    ) -> Response:
        if limit < 0 or limit > 100:
            raise bodies.v0_invalid_event_limit()
        with state.lock:
            events, has_more = store.search_events(conversation, start_id, end_id, reverse, limit)
            return JSONResponse({"events": events, "has_more": has_more})

    @router.get("/conversations/{conversation_id}/trajectory")
    async def get_trajectory(conversation: Annotated[V0Conversation, Depends(existing)]) -> Response:
        with state.lock:
            return JSONResponse({"trajectory": list(conversation.events)})

    @router.post("/conversations/{conversation_id}/message")
    async def add_message(
        data: AddMessageRequest, conversation: Annotated[V0Conversation, Depends(attached_for_events)]
    ) -> Response:
        with state.lock:
            if not conversation.is_running:
                return bodies.v0_message_not_running(conversation.conversation_id)
            store.send_message(conversation, data.message, None)
        return JSONResponse({"success": True})

    @router.post("/conversations/{conversation_id}/events")
    async def add_event(
        request: Request, conversation: Annotated[V0Conversation, Depends(attached_for_events)]
    ) -> Response:
        try:
            data = json.loads(await request.body())
        except ValueError as exc:
            raise ServerCrash from exc
        with state.lock:
            if not conversation.is_running or not isinstance(data, dict):
                raise ServerCrash  # send_event_to_conversation raises; the route has no handler
            store.add_raw_event(conversation, data)
        return JSONResponse({"success": True})

    # ------------------------------------------------------------- runtime routes
    @router.get("/conversations/{conversation_id}/config")
    async def get_runtime_config(conversation: Annotated[V0Conversation, Depends(attached)]) -> Response:
        return JSONResponse({"runtime_id": None, "session_id": conversation.conversation_id})

    @router.get("/conversations/{conversation_id}/vscode-url")
    async def get_vscode_url(conversation: Annotated[V0Conversation, Depends(attached)]) -> Response:
        return JSONResponse({"vscode_url": None})

    @router.get("/conversations/{conversation_id}/web-hosts")
    async def get_web_hosts(conversation: Annotated[V0Conversation, Depends(attached)]) -> Response:
        with state.lock:
            return JSONResponse({"hosts": dict(conversation.runtime_hosts)})

    @router.get("/conversations/{conversation_id}/microagents")
    async def get_microagents(conversation: Annotated[V0Conversation, Depends(attached)]) -> Response:
        return JSONResponse({"microagents": []})

    def runtime_unavailable(conversation: V0Conversation) -> Response | None:
        """The file routes are "meta" routes that then need the runtime themselves."""
        if conversation.status == STARTING:
            return bodies.v0_runtime_starting()
        if conversation.status != RUNNING:
            return bodies.v0_runtime_unavailable(conversation.conversation_id)
        return None

    @router.get("/conversations/{conversation_id}/list-files")
    async def list_files(
        conversation: Annotated[V0Conversation, Depends(existing)], path: str | None = None
    ) -> Response:
        with state.lock:
            return runtime_unavailable(conversation) or JSONResponse(state.workspace.list(path))

    @router.get("/conversations/{conversation_id}/select-file")
    async def select_file(file: str, conversation: Annotated[V0Conversation, Depends(existing)]) -> Response:
        with state.lock:
            unavailable = runtime_unavailable(conversation)
            if unavailable is not None:
                return unavailable
            kind, text = state.workspace.read(file)
        full_path = posixpath.join(ev.WORKING_DIR, file)
        if kind == "text":
            return JSONResponse({"code": text})
        if kind == "binary":
            return bodies.v0_binary_file(file)
        if kind == "directory":
            return bodies.v0_file_is_directory(full_path)
        return bodies.v0_file_not_found(full_path, ev.WORKING_DIR)

    @router.get("/conversations/{conversation_id}/zip-directory")
    async def zip_directory(conversation: Annotated[V0Conversation, Depends(attached)]) -> Response:
        with state.lock:
            data = state.workspace.zip()
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": 'attachment; filename="workspace.zip"'},
        )

    @router.get("/conversations/{conversation_id}/git/changes")
    async def git_changes(conversation: Annotated[V0Conversation, Depends(attached)]) -> Response:
        with state.lock:
            return JSONResponse([dict(change) for change in state.git_changes])

    @router.get("/conversations/{conversation_id}/git/diff")
    async def git_diff(path: str, conversation: Annotated[V0Conversation, Depends(attached)]) -> Response:
        with state.lock:
            diff = state.git_diffs.get(path)
        if diff is None:
            raise ServerCrash  # git fails outside a repository or for unknown paths (observed)
        return JSONResponse(dict(diff))

    # ------------------------------------------------------------- settings and options
    @router.get("/settings")
    async def load_settings() -> Response:
        view = state.settings_view()
        if view is None:
            return bodies.settings_not_found()
        return JSONResponse(view)

    @router.post("/settings")
    async def store_settings(settings: Annotated[dict[str, Any], Body()]) -> Response:
        state.store_settings(settings)
        return JSONResponse({"message": "Settings stored"})

    @router.get("/options/models")
    async def get_models() -> Response:
        return JSONResponse(OPTIONS_MODELS)

    @router.get("/options/agents")
    async def get_agents() -> Response:
        return JSONResponse(OPTIONS_AGENTS)

    @router.get("/options/security-analyzers")
    async def get_security_analyzers() -> Response:
        return JSONResponse(OPTIONS_SECURITY_ANALYZERS)

    @router.get("/options/config")
    async def get_config() -> Response:
        return JSONResponse(OPTIONS_CONFIG)

    return router


__all__ = ["build_v0_router"]
