"""V1 event dicts exactly as the ``openhands-ai`` 1.11.0 app server lists them.

Responsible for: the shape of every event the V1 scripted agent emits — keys and key order
(``id``, ``timestamp``, ``source``, ``parent_id``, the kind's own fields, ``kind`` last),
nesting, canned texts — copied from runs against a real 1.11.0 server with the kit's fake
LLM (CONTRACT.md §6.5), and the ``ConversationErrorEvent`` ``code``/``detail`` the SDK
reports for each injected LLM error status (``llm_error``). Each builder takes a ``Stamp``
(id, timestamp, parent id) chosen by the caller.

Not responsible for: which events happen when (``v1/store.py``) or storing them. The system
prompt, tool descriptions and the agent inside ``full_state`` are short stand-ins: the same
keys, tool names and kinds as the real ones, much less text. Every LLM call of the fake
LLM costs 10 prompt and 5 completion tokens, as the kit's does.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

Event = dict[str, Any]

FINISH_TEXT = "Task complete (fake LLM)."
"""What the fake LLM puts into the ``finish`` call (``action.message``)."""
ASK_TEXT = "Which file should I look at next? (fake LLM asks)"
"""The plain-text answer of ``[fake-llm ask]``, as the project's copy of the fake LLM gives it."""
THINK_OBSERVATION = "Your thought has been logged."
TITLE_TEXT = "Fake title"
AGENT_SERVER_IMAGE = "ghcr.io/openhands/agent-server:1.34.0-python"
"""The ``sandbox_spec_id`` of every sandbox (the agent-server release 1.11.0 pins)."""

_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Stamp:
    id: str
    """A dashed UUID (event ids are not ordered)."""
    timestamp: str
    """ISO 8601 without timezone, as the agent server writes it."""
    parent_id: str | None


def new_event_id() -> str:
    return str(uuid.uuid4())


def iso_event_time(micros: int) -> str:
    """Event timestamps from integer microseconds since the epoch (UTC, no timezone)."""
    return (_EPOCH + timedelta(microseconds=micros)).isoformat()


def iso_z(ts: float) -> str:
    """Datetimes of the app server's models: ISO 8601 with ``Z``."""
    return datetime.fromtimestamp(ts, timezone.utc).replace(tzinfo=None).isoformat() + "Z"


def iso_naive(ts: float) -> str:
    """Datetimes read back from the app server's SQLite database: no timezone."""
    return datetime.fromtimestamp(ts, timezone.utc).replace(tzinfo=None).isoformat()


def llm_response_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def tool_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def _head(stamp: Stamp, source: str) -> Event:
    return {"id": stamp.id, "timestamp": stamp.timestamp, "source": source, "parent_id": stamp.parent_id}


def text_content(text: str) -> dict[str, Any]:
    return {"cache_prompt": False, "type": "text", "text": text}


# ------------------------------------------------------------------ state updates
def state_update(stamp: Stamp, key: str, value: Any) -> Event:
    event = _head(stamp, "environment")
    event.update({"key": key, "value": value, "kind": "ConversationStateUpdateEvent"})
    return event


def token_usage(
    prompt_tokens: int, completion_tokens: int, per_turn_token: int, model: str
) -> dict[str, Any]:
    return {
        "model": model,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "context_window": 0,
        "per_turn_token": per_turn_token,
        "response_id": "",
    }


def stats_value(
    model: str, prompt_tokens: int, completion_tokens: int, per_turn_token: int
) -> dict[str, Any]:
    """The value of a ``stats`` update: the agent's and the (idle) condenser's metrics."""

    def metrics(prompt: int, completion: int, per_turn: int) -> dict[str, Any]:
        return {
            "model_name": model,
            "accumulated_cost": 0.0,
            "max_budget_per_task": None,
            "accumulated_token_usage": token_usage(prompt, completion, per_turn, model),
        }

    return {
        "usage_to_metrics": {
            "agent": metrics(prompt_tokens, completion_tokens, per_turn_token),
            "condenser": metrics(0, 0, 0),
        }
    }


def _llm_config(model: str, base_url: str | None, usage_id: str, stream: bool) -> dict[str, Any]:
    return {
        "model": model,
        "api_key": "**********",
        "auth_type": "api_key",
        "base_url": base_url,
        "openrouter_site_url": "https://docs.all-hands.dev/",
        "openrouter_app_name": "OpenHands",
        "num_retries": 0,
        "retry_multiplier": 8.0,
        "retry_min_wait": 8,
        "retry_max_wait": 64,
        "timeout": 300,
        "max_message_chars": 30000,
        "stream": stream,
        "drop_params": True,
        "modify_params": True,
        "disable_stop_word": False,
        "caching_prompt": True,
        "log_completions": False,
        "log_completions_folder": "logs/completions",
        "native_tool_calling": True,
        "reasoning_effort": "high",
        "enable_encrypted_reasoning": True,
        "prompt_cache_retention": "24h",
        "extended_thinking_budget": 200000,
        "usage_id": usage_id,
        "litellm_extra_body": {},
        "is_subscription": False,
    }


def _full_metrics(model: str, response_ids: list[str]) -> dict[str, Any]:
    """A ``Metrics`` dump with one latency and one usage per LLM call (10 + 5 tokens each)."""
    calls = len(response_ids)
    return {
        "model_name": model,
        "accumulated_cost": 0.0,
        "accumulated_token_usage": token_usage(10 * calls, 5 * calls, 15 if calls else 0, model),
        "costs": [],
        "response_latencies": [{"model": model, "latency": 0.05, "response_id": r} for r in response_ids],
        "token_usages": [{**token_usage(10, 5, 15, model), "response_id": r} for r in response_ids],
    }


def full_state_value(
    *,
    conversation_id: str,
    model: str,
    base_url: str | None,
    execution_status: str,
    llm_response_ids: list[str],
    started_at: str,
    last_user_message_id: str | None,
    leaf_event_id: str | None,
) -> dict[str, Any]:
    """The whole conversation state (``key: "full_state"``), sent at creation and after each run.

    ``last_user_message_id`` and ``leaf_event_id`` appear once set, the agent's and the
    condenser's metrics once the LLM was called, as in the real dumps.
    """
    usage: dict[str, Any] = {}
    if llm_response_ids:
        usage = {"agent": _full_metrics(model, llm_response_ids), "condenser": _full_metrics(model, [])}
    value: dict[str, Any] = {
        "id": str(uuid.UUID(conversation_id)),
        "agent": {
            "llm": _llm_config(model, base_url, "agent", True),
            "tools": [
                {"name": "terminal", "params": {}},
                {"name": "file_editor", "params": {}},
                {"name": "task_tracker", "params": {}},
            ],
            "mcp_config": {},
            "include_default_tools": ["FinishTool", "ThinkTool", "SwitchLLMTool"],
            "agent_context": {
                "skills": [],
                "load_user_skills": False,
                "load_public_skills": False,
                "marketplace_path": "marketplaces/default.json",
                "registered_marketplaces": [],
                "load_project_skills": False,
                "disabled_skills": [],
                "secrets": {},
                "current_datetime": started_at,
            },
            "system_prompt_filename": "system_prompt.j2",
            "security_policy_filename": "security_policy.j2",
            "system_prompt_kwargs": {"cli_mode": False, "llm_security_analyzer": True},
            "condenser": {
                "llm": _llm_config(model, base_url, "condenser", False),
                "max_size": 240,
                "keep_first": 2,
                "minimum_progress": 0.1,
                "hard_context_reset_max_retries": 5,
                "hard_context_reset_context_scaling": 0.8,
                "kind": "LLMSummarizingCondenser",
            },
            "tool_concurrency_limit": 1,
            "kind": "Agent",
        },
        "workspace": {"working_dir": ".", "kind": "LocalWorkspace"},
        "persistence_dir": f"workspace/conversations/{conversation_id}",
        "max_iterations": 500,
        "stuck_detection": True,
        "execution_status": execution_status,
        "confirmation_policy": {"kind": "NeverConfirm"},
        "security_analyzer": {"kind": "LLMSecurityAnalyzer"},
        "activated_knowledge_skills": [],
        "activated_path_rules": [],
        "invoked_skills": [],
        "blocked_actions": {},
        "blocked_messages": {},
    }
    if last_user_message_id is not None:
        value["last_user_message_id"] = last_user_message_id
    if leaf_event_id is not None:
        value["leaf_event_id"] = leaf_event_id
    value.update(
        {
            "head_is_empty": False,
            "stats": {"usage_to_metrics": usage},
            "secret_registry": {"secret_sources": {}},
            "tags": {},
            "agent_state": {},
        }
    )
    return value


# ------------------------------------------------------------------ agent and user events
SYSTEM_PROMPT = (
    "<SOUL>\nYou are OpenHands agent, a helpful AI assistant that can interact with a computer to "
    "solve tasks.\n</SOUL>\n\n<FAKE_SERVER>\nThis conversation runs on the openhands-api fake "
    "server; the agent is scripted and the prompt is abridged.\n</FAKE_SERVER>"
)


def _tool(kind: str, title: str, description: str, action: str, hints: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "action_type": f"{action}Action",
        "observation_type": f"{action}Observation",
        "annotations": {"title": hints.get("title"), **{k: v for k, v in hints.items() if k != "title"}},
        "meta": None,
        "kind": kind,
        "title": title,
    }


def _hints(
    title: str | None, read_only: bool, destructive: bool, idempotent: bool, open_world: bool
) -> dict[str, Any]:
    return {
        "title": title,
        "readOnlyHint": read_only,
        "destructiveHint": destructive,
        "idempotentHint": idempotent,
        "openWorldHint": open_world,
    }


TOOLS: list[dict[str, Any]] = [
    _tool(
        "TerminalTool",
        "terminal",
        "Execute a shell command in the terminal within a persistent shell session.",
        "Terminal",
        _hints("terminal", False, True, False, True),
    ),
    _tool(
        "FileEditorTool",
        "file_editor",
        "Custom editing tool for viewing, creating and editing files.",
        "FileEditor",
        _hints("file_editor", False, True, False, False),
    ),
    _tool(
        "TaskTrackerTool",
        "task_tracker",
        "This tool provides structured task management capabilities.",
        "TaskTracker",
        _hints(None, False, False, True, False),
    ),
    _tool(
        "FinishTool",
        "finish",
        "Signals the completion of the current task or conversation.",
        "Finish",
        _hints("finish", True, False, True, False),
    ),
    _tool(
        "ThinkTool",
        "think",
        "Use the tool to think about something. It will not obtain new information.",
        "Think",
        _hints(None, True, False, True, False),
    ),
    _tool(
        "SwitchLLMTool",
        "switch_llm",
        "Switch this conversation to a saved LLM profile.",
        "SwitchLLM",
        _hints(None, False, False, False, False),
    ),
]


def system_prompt(stamp: Stamp, current_datetime: str) -> Event:
    event = _head(stamp, "agent")
    event.update(
        {
            "system_prompt": text_content(SYSTEM_PROMPT),
            "tools": TOOLS,
            "dynamic_context": text_content(
                f"<CURRENT_DATETIME>\nThe current date and time is: {current_datetime}\n</CURRENT_DATETIME>"
            ),
            "kind": "SystemPromptEvent",
        }
    )
    return event


def message(
    stamp: Stamp, source: str, role: str, content: list[dict[str, Any]], response_id: str | None
) -> Event:
    event = _head(stamp, source)
    event.update(
        {
            "llm_message": {
                "role": role,
                "content": content,
                "tool_calls": None,
                "tool_call_id": None,
                "name": None,
                "reasoning_content": None,
                "thinking_blocks": [],
                "responses_reasoning_item": None,
            },
            "llm_response_id": response_id,
            "activated_skills": [],
            "extended_content": [],
            "sender": None,
            "critic_result": None,
            "kind": "MessageEvent",
        }
    )
    return event


def streaming_delta(stamp: Stamp, content: str) -> Event:
    """A streamed plain-text answer arrives in pieces first (the fake LLM sends one)."""
    event = _head(stamp, "agent")
    event.update({"content": content, "reasoning_content": None, "kind": "StreamingDeltaEvent"})
    return event


def action(
    stamp: Stamp,
    tool_name: str,
    action_body: dict[str, Any],
    arguments: dict[str, Any],
    call_id: str,
    response_id: str,
) -> Event:
    args_json = json.dumps(arguments)
    event = _head(stamp, "agent")
    event.update(
        {
            "thought": [],
            "reasoning_content": None,
            "thinking_blocks": [],
            "responses_reasoning_item": None,
            "action": action_body,
            "tool_name": tool_name,
            "tool_call_id": call_id,
            "tool_call": {
                "id": call_id,
                "responses_item_id": None,
                "name": tool_name,
                "arguments": args_json,
                "origin": "completion",
            },
            "llm_response_id": response_id,
            "security_risk": "UNKNOWN",
            "critic_result": None,
            "summary": f"{tool_name}: {args_json}",
            "kind": "ActionEvent",
        }
    )
    return event


def observation(stamp: Stamp, tool_name: str, call_id: str, text: str, kind: str, action_id: str) -> Event:
    event = _head(stamp, "environment")
    event.update(
        {
            "tool_name": tool_name,
            "tool_call_id": call_id,
            "observation": {"content": [text_content(text)], "is_error": False, "kind": kind},
            "action_id": action_id,
            "extended_content": [],
            "kind": "ObservationEvent",
        }
    )
    return event


def conversation_error(stamp: Stamp, code: str, detail: str) -> Event:
    event = _head(stamp, "environment")
    event.update({"code": code, "detail": detail, "kind": "ConversationErrorEvent"})
    return event


# ------------------------------------------------------------------ errors
def llm_error(status: int) -> tuple[str, str]:
    """``(code, detail)`` of the ``ConversationErrorEvent`` for an LLM answering HTTP ``status``.

    Observed on 1.11.0: 400 and 401 → ``LLMBadRequestError``; 429 → ``LLMRateLimitError``; 500
    and 503 → ``LLMServiceUnavailableError`` (the SDK's mapping of litellm's exceptions).
    Other statuses follow the same families (not observed).
    """
    injected = f"OpenAIException - Fake LLM error (injected, HTTP {status})."
    if status == 429:
        return "LLMRateLimitError", f"litellm.RateLimitError: RateLimitError: {injected}"
    if 400 <= status < 500:
        return "LLMBadRequestError", f"litellm.BadRequestError: {injected}"
    if status == 503:
        return (
            "LLMServiceUnavailableError",
            f"litellm.ServiceUnavailableError: ServiceUnavailableError: {injected}",
        )
    return "LLMServiceUnavailableError", f"litellm.InternalServerError: InternalServerError: {injected}"


def llm_call_retried(status: int) -> bool:
    """The OpenAI client inside litellm retries 429 and 5xx twice (~1.5 s observed), not 4xx."""
    return status == 429 or status >= 500
