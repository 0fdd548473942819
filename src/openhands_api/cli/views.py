"""What the commands show of the library's objects: their documented JSON and their human views.

The JSON fields are the CLI's stable schema (``docs/cli-json.md``, checked by
``tests/cli/test_json_schema.py``): fields are added, never renamed or removed. ``raw`` (the
server's own object, which differs by generation and version) is given only when asked for by
name: ``--json id,raw``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .output import Column

if TYPE_CHECKING:
    from ..models import Conversation, ConversationResult, Event

CONVERSATION_FIELDS = (
    "id",
    "web_url",
    "title",
    "outcome",
    "outcome_detail",
    "runtime",
    "agent_state",
    "repository",
    "branch",
    "git_provider",
    "created_at",
    "updated_at",
    "pr_numbers",
    "cost",
    "tokens",
    "llm_model",
    "trigger",
    "api_version",
    "start_task_id",
    "sandbox_id",
    "parent_id",
    "sub_conversation_ids",
)
RESULT_FIELDS = (
    "id",
    "outcome",
    "status",
    "detail",
    "final_message",
    "pr_numbers",
    "cost",
    "web_url",
    "url",
    "conversation_id",
    "conversation",
)
EVENT_FIELDS = ("id", "seq", "timestamp", "source", "kind", "text")
RAW = ("raw",)


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    """A conversation's JSON: the documented fields, and ``raw`` for those who name it."""
    data = conversation.model_dump(mode="json", exclude={"runtime_url", "session_api_key"})
    return {name: data.get(name) for name in (*CONVERSATION_FIELDS, *RAW)}


def result_json(result: ConversationResult) -> dict[str, Any]:
    """An outcome's JSON. ``status`` repeats the outcome and ``url`` the web page, as the seed
    client printed them; ``conversation`` is the conversation's JSON (without ``raw``)."""
    conversation = conversation_json(result.conversation)
    conversation.pop("raw")
    return {
        "id": result.conversation_id,
        "outcome": result.outcome.value,
        "status": result.outcome.value,
        "detail": result.detail,
        "final_message": result.final_message,
        "pr_numbers": list(result.pr_numbers),
        "cost": result.conversation.cost,
        "web_url": result.web_url,
        "url": result.web_url,
        "conversation_id": result.conversation_id,
        "conversation": conversation,
    }


def event_json(event: Event) -> dict[str, Any]:
    return event.model_dump(mode="json")


def short_id(value: Any) -> str:
    """An id as a table shows it: its first 8 characters, a prefix every command accepts."""
    return str(value)[:8] if value else "-"


def _when(value: Any) -> str:
    """An ISO time from the JSON as a table shows it: ``2026-12-01 13:55``."""
    return str(value).replace("T", " ")[:16] if value else "-"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _outcome(value: Any) -> str:
    return str(value) if value else "-"


CONVERSATION_COLUMNS = (
    Column("id", "id", _text, on_terminal=short_id),
    Column("outcome", "outcome", _outcome),
    Column("updated", "updated_at", _when),
    Column("repository", "repository", _text, flexible=True),
    Column("title", "title", _text, flexible=True),
)


def conversation_lines(conversation: Conversation) -> list[str]:
    """``get`` on a terminal: a short summary, one fact a line."""
    c = conversation
    lines = [f"{c.title or '(untitled)'}", f"  id          {c.id}"]
    lines.append(
        f"  outcome     {c.outcome.value if c.outcome else '-'}"
        + (f" ({c.outcome_detail})" if c.outcome_detail else "")
    )
    state = " · ".join(
        part
        for part in (
            c.runtime and f"runtime {c.runtime.lower()}",
            c.agent_state and f"agent {c.agent_state.lower()}",
        )
        if part
    )
    if state:
        lines.append(f"  state       {state}")
    if c.repository:
        lines.append(f"  repository  {c.repository}" + (f" @ {c.branch}" if c.branch else ""))
    if c.pr_numbers:
        lines.append("  PRs         " + ", ".join(f"#{n}" for n in c.pr_numbers))
    if c.cost is not None:
        lines.append(f"  cost        ${c.cost:.4f}" + (f" ({c.llm_model})" if c.llm_model else ""))
    if c.created_at:
        updated = f", updated {c.updated_at:%Y-%m-%d %H:%M}" if c.updated_at else ""
        lines.append(f"  created     {c.created_at:%Y-%m-%d %H:%M}{updated}")
    lines.append(f"  {c.web_url}")
    return lines


def result_lines(result: ConversationResult, *, with_url: bool = True) -> list[str]:
    """An outcome for a person: the outcome and URL, then the detail, the answer and PRs."""
    lines = [f"{result.outcome.value}  {result.web_url}" if with_url else result.outcome.value]
    if result.detail:
        lines.append(f"detail: {result.detail}")
    if result.final_message:
        lines.append(result.final_message)
    if result.pr_numbers:
        lines.append("PRs: " + ", ".join(f"#{n}" for n in result.pr_numbers))
    return lines


def event_line(event: Event) -> str:
    when = event.timestamp.strftime("%H:%M:%S") if event.timestamp else "--:--:--"
    text = " ".join((event.text or "").split())
    return f"{when}  {event.source or '-':<11}  {event.kind:<36}  {text[:100]}"


def event_brief(event: Event) -> str:
    """An event in a few words, for a progress line: its kind, then the start of its text."""
    text = " ".join((event.text or "").split())
    return f"{event.kind}: {text[:60]}" if text else event.kind
