"""Request models and query enums of the V1 routes, as ``openhands-ai`` 1.11.0 declares them.

Responsible for: validating V1 request bodies and queries so that FastAPI's 422 bodies look
like the real ones — field order (it orders the errors), types, the ``TextContent`` /
``ImageContent`` union (its member names appear in error locations), enums and literals —
and for the start request's echo (``AppConversationStartTask.request``). Unknown body keys
are ignored, as the real models ignore them.

Not responsible for: behaviour (``v1/store.py``) or routes (``v1/routes.py``).
"""

# No ``from __future__ import annotations``: FastAPI and pydantic read these at runtime.

from enum import Enum
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr


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
    AUTOMATION = "automation"


class TaskType(str, Enum):
    MERGE_CONFLICTS = "MERGE_CONFLICTS"
    FAILING_CHECKS = "FAILING_CHECKS"
    UNRESOLVED_COMMENTS = "UNRESOLVED_COMMENTS"
    OPEN_ISSUE = "OPEN_ISSUE"
    OPEN_PR = "OPEN_PR"


class AgentType(Enum):
    DEFAULT = "default"
    PLAN = "plan"


class TextContent(BaseModel):
    cache_prompt: bool = False
    type: Literal["text"] = "text"
    text: str
    model_config = ConfigDict(extra="forbid")


class ImageContent(BaseModel):
    cache_prompt: bool = False
    type: Literal["image"] = "image"
    image_urls: list[str]


Content = TextContent | ImageContent


class SendMessageRequest(BaseModel):
    """``initial_message``: ``run`` defaults to false (the agent starts anyway)."""

    role: Literal["user", "system", "assistant", "tool"] = "user"
    content: list[Content] = Field(default_factory=list)
    run: bool = False


class SuggestedTask(BaseModel):
    git_provider: ProviderType
    task_type: TaskType
    repo: str
    issue_number: int
    title: str


class PluginSpec(BaseModel):
    source: str
    ref: str | None = None
    repo_path: str | None = None
    parameters: dict[str, Any] | None = None


class AppConversationStartRequest(BaseModel):
    sandbox_id: str | None = None
    conversation_id: UUID | None = None
    initial_message: SendMessageRequest | None = None
    system_message_suffix: str | None = None
    processors: list[dict[str, Any]] | None = None
    llm_model: str | None = None
    agent_profile_id: str | None = None
    selected_repository: str | None = None
    selected_branch: str | None = None
    git_provider: ProviderType | None = None
    suggested_task: SuggestedTask | None = None
    title: str | None = None
    trigger: ConversationTrigger | None = None
    pr_number: list[int] = Field(default_factory=list)
    parent_conversation_id: UUID | None = None
    agent_type: AgentType = AgentType.DEFAULT
    public: bool | None = None
    plugins: list[PluginSpec] | None = None
    secrets: dict[str, SecretStr] | None = None

    def echo(self, dialect: str) -> dict[str, Any]:
        """The ``request`` of a start task: defaults filled in, secrets masked, the parent as hex."""
        data = self.model_dump(mode="json")
        if self.parent_conversation_id is not None:
            data["parent_conversation_id"] = self.parent_conversation_id.hex
        if dialect == "1.6.0":
            del data["agent_profile_id"], data["secrets"]
        return data


class AppSendMessageRequest(BaseModel):
    role: Literal["user"] = "user"
    content: list[Content] = Field(..., min_length=1)
    run: bool = True


class AppConversationUpdateRequest(BaseModel):
    title: str | None = None
    public: bool | None = None
    selected_repository: str | None = None
    selected_branch: str | None = None
    git_provider: ProviderType | None = None


class AppConversationUpdateRequest160(BaseModel):
    """1.6.0's update request: no ``title`` (a title in the body is ignored)."""

    public: bool | None = None
    selected_repository: str | None = None
    selected_branch: str | None = None
    git_provider: ProviderType | None = None


class StartTaskSortOrder(Enum):
    CREATED_AT = "CREATED_AT"
    CREATED_AT_DESC = "CREATED_AT_DESC"
    UPDATED_AT = "UPDATED_AT"
    UPDATED_AT_DESC = "UPDATED_AT_DESC"


class EventSortOrder(str, Enum):
    TIMESTAMP = "TIMESTAMP"
    TIMESTAMP_DESC = "TIMESTAMP_DESC"


EventKind = Literal[
    "ServerErrorEvent",
    "ACPToolCallEvent",
    "Condensation",
    "CondensationRequest",
    "CondensationSummaryEvent",
    "ConversationErrorEvent",
    "ConversationStateUpdateEvent",
    "HookExecutionEvent",
    "LLMCompletionLogEvent",
    "ActionEvent",
    "MessageEvent",
    "AgentErrorEvent",
    "ObservationEvent",
    "UserRejectObservation",
    "SystemPromptEvent",
    "StreamingDeltaEvent",
    "TokenEvent",
    "InterruptEvent",
    "PauseEvent",
]
"""The event kinds 1.11.0 accepts in ``kind__eq`` (its 422 lists them in this order)."""


def content_text(content: list[Content]) -> str:
    """The text the fake LLM reads from a message (its directives live there)."""
    return "\n".join(item.text for item in content if isinstance(item, TextContent))


def content_dump(content: list[Content]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json") for item in content]
