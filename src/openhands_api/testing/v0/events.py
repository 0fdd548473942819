"""V0 event dicts exactly as ``openhands-ai`` 1.6.0 serialises them.

Responsible for: the shape of every event the scripted agent emits — keys, key order
(``id``, ``timestamp``, ``source``, ``message``, ``cause``, ``action``/``observation``,
``tool_call_metadata``, ``llm_metrics``, then ``args`` or ``content``/``extras``), canned
texts and nesting — copied from real runs against 1.6.0 with the kit's fake LLM
(CONTRACT.md §3.5). Each builder returns the event *without* ``id`` and ``timestamp``; the
conversation adds those when it appends the event.

Not responsible for: deciding which events happen when (``v0/agent.py``) or storing them.
The system prompt and tool descriptions are short stand-ins written for the fake: same keys
and tool names as the real ones, much less text.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

OPENHANDS_VERSION = "1.6.0"
FINISH_TEXT = "Task complete (fake LLM)."
"""What the kit's fake LLM puts into ``finish`` (``args.final_thought``)."""
FINISH_MESSAGE = "All done! What's next on the agenda?"
"""The canned ``message`` of every real ``finish`` event."""
ASK_TEXT = "Could you tell me more about what you would like me to do? (fake LLM)"
"""The question of the ``[fake-llm ask]`` directive (not known to the real fake LLM)."""
TITLE_TEXT = "Fake title"
WORKING_DIR = "/workspace"

Event = dict[str, Any]


def iso_event_time(ts: float) -> str:
    """Event timestamps: ISO 8601 in UTC *without* a timezone, as the real server sends them."""
    return datetime.fromtimestamp(ts, timezone.utc).replace(tzinfo=None).isoformat()


def iso_info_time(ts: float) -> str:
    """Conversation datetimes: ISO 8601 with ``Z`` (pydantic's rendering of UTC datetimes)."""
    text = datetime.fromtimestamp(ts, timezone.utc).replace(tzinfo=None).isoformat()
    return text + "Z"


def agent_state_changed(state: str, reason: str = "") -> Event:
    return {
        "source": "environment",
        "message": "",
        "observation": "agent_state_changed",
        "content": "",
        "extras": {"agent_state": state, "reason": reason},
    }


def change_agent_state(state: str) -> Event:
    return {
        "source": "environment",
        "message": f"Agent state changed to {state}",
        "action": "change_agent_state",
        "args": {"agent_state": state, "thought": ""},
    }


def user_message(content: str, image_urls: list[str] | None) -> Event:
    return {
        "source": "user",
        "message": content,
        "action": "message",
        "args": {
            "content": content,
            "file_urls": None,
            "image_urls": image_urls,
            "wait_for_response": False,
            "security_risk": -1,
        },
    }


def recall_action(recall_type: str, query: str) -> Event:
    return {
        "source": "user",
        "message": f"Retrieving content for: {query}",
        "action": "recall",
        "args": {"recall_type": recall_type, "query": query, "thought": ""},
    }


def workspace_context(
    cause: int,
    *,
    runtime_hosts: dict[str, int],
    date: str,
    conversation_instructions: str,
    repo_name: str,
    repo_branch: str,
) -> Event:
    return {
        "source": "environment",
        "message": "Added workspace context",
        "cause": cause,
        "observation": "recall",
        "content": "Added workspace context",
        "extras": {
            "recall_type": "workspace_context",
            "repo_name": repo_name,
            "repo_directory": repo_name.split("/")[-1] if repo_name else "",
            "repo_branch": repo_branch,
            "repo_instructions": "",
            "runtime_hosts": dict(runtime_hosts),
            "additional_agent_instructions": "",
            "date": date,
            "custom_secrets_descriptions": {},
            "conversation_instructions": conversation_instructions,
            "working_dir": WORKING_DIR,
            "microagent_knowledge": [],
        },
    }


def null_observation(cause: int) -> Event:
    """What a ``knowledge`` recall without matching microagents produces."""
    return {
        "source": "environment",
        "message": "No observation",
        "cause": cause,
        "observation": "null",
        "content": "",
        "extras": {},
    }


def llm_metrics(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "accumulated_cost": 0.0,
        "max_budget_per_task": None,
        "accumulated_token_usage": {
            "model": "default",
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "context_window": 0,
            "per_turn_token": 15,
            "response_id": "",
        },
        "costs": [],
        "response_latencies": [],
        "token_usages": [],
    }


def tool_call_metadata(
    function_name: str, arguments: dict[str, Any], call_number: int, created: float
) -> Event:
    """Metadata of one prompt-based tool call (V0's mode for the fake model)."""
    call_id = f"toolu_{call_number:02d}"
    return {
        "function_name": function_name,
        "tool_call_id": call_id,
        "model_response": {
            "id": "chatcmpl-" + uuid.uuid4().hex[:24],
            "created": int(created),
            "model": "fake",
            "object": "chat.completion",
            "system_fingerprint": None,
            "choices": [
                {
                    "finish_reason": "stop",
                    "index": 0,
                    "message": {
                        "content": "",
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "index": 1,
                                "function": {"arguments": json.dumps(arguments), "name": function_name},
                                "id": call_id,
                                "type": "function",
                            }
                        ],
                        "function_call": None,
                        "provider_specific_fields": None,
                    },
                    "provider_specific_fields": {},
                }
            ],
            "usage": {
                "completion_tokens": 5,
                "prompt_tokens": 10,
                "total_tokens": 15,
                "completion_tokens_details": None,
                "prompt_tokens_details": None,
            },
            "service_tier": None,
        },
        "total_calls_in_response": 1,
    }


def think_action(thought: str, metadata: Event, metrics: dict[str, Any]) -> Event:
    return {
        "source": "agent",
        "message": f"I am thinking...: {thought}",
        "action": "think",
        "tool_call_metadata": metadata,
        "llm_metrics": metrics,
        "args": {"thought": thought},
    }


def think_observation(cause: int, metadata: Event) -> Event:
    return {
        "source": "agent",
        "message": "Your thought has been logged.",
        "cause": cause,
        "observation": "think",
        "tool_call_metadata": metadata,
        "content": "Your thought has been logged.",
        "extras": {},
    }


def finish_action(final_thought: str, metadata: Event, metrics: dict[str, Any]) -> Event:
    return {
        "source": "agent",
        "message": FINISH_MESSAGE,
        "action": "finish",
        "tool_call_metadata": metadata,
        "llm_metrics": metrics,
        "args": {"final_thought": final_thought, "outputs": {}, "thought": ""},
    }


def agent_message(content: str, metrics: dict[str, Any]) -> Event:
    """The agent answered in plain text (no tool call): it waits for the user."""
    return {
        "source": "agent",
        "message": content,
        "action": "message",
        "llm_metrics": metrics,
        "args": {
            "content": content,
            "file_urls": None,
            "image_urls": None,
            "wait_for_response": True,
            "security_risk": -1,
        },
    }


def raw_action(data: dict[str, Any]) -> Event:
    """An event posted by a client through ``POST …/events`` that the fake does not interpret."""
    event: Event = {"source": str(data.get("source") or "user"), "message": str(data.get("message") or "")}
    if "action" in data:
        event["action"] = data["action"]
        event["args"] = data.get("args") if isinstance(data.get("args"), dict) else {}
    else:
        event["observation"] = data.get("observation", "null")
        event["content"] = str(data.get("content") or "")
        event["extras"] = data.get("extras") if isinstance(data.get("extras"), dict) else {}
    return event


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


_RISK = {"type": "string", "description": "Risk of the action.", "enum": ["LOW", "MEDIUM", "HIGH"]}
_STR = {"type": "string"}
_PR_PROPS = {
    "repo_name": _STR,
    "source_branch": _STR,
    "target_branch": _STR,
    "title": _STR,
    "description": _STR,
}

TOOLS: list[dict[str, Any]] = [
    _tool(
        "execute_bash",
        "Execute a bash command in a persistent shell session.",
        {
            "command": _STR,
            "is_input": {"type": "string", "enum": ["true", "false"]},
            "timeout": {"type": "number"},
            "security_risk": _RISK,
        },
        ["command", "security_risk"],
    ),
    _tool(
        "think",
        "Log a thought; it changes nothing and obtains no information.",
        {"thought": {"type": "string", "description": "The thought to log."}},
        ["thought"],
    ),
    _tool(
        "finish",
        "Signal that the current task is complete.",
        {"message": {"type": "string", "description": "Final message to send to the user."}},
        ["message"],
    ),
    _tool(
        "execute_ipython_cell",
        "Run a cell of Python code in an IPython environment.",
        {"code": _STR, "security_risk": _RISK},
        ["code", "security_risk"],
    ),
    _tool(
        "task_tracker",
        "Plan and track the tasks of the current piece of work.",
        {"command": {"type": "string", "enum": ["view", "plan"]}, "task_list": {"type": "array"}},
        ["command"],
    ),
    _tool(
        "str_replace_editor",
        "View, create and edit plain-text files.",
        {
            "command": {"type": "string", "enum": ["view", "create", "str_replace", "insert", "undo_edit"]},
            "path": _STR,
            "file_text": _STR,
            "old_str": _STR,
            "new_str": _STR,
            "insert_line": {"type": "integer"},
            "view_range": {"type": "array"},
            "security_risk": _RISK,
        },
        ["command", "path", "security_risk"],
    ),
    _tool(
        "create_pr",
        "Open a PR in GitHub",
        {
            "repo_name": _STR,
            "source_branch": _STR,
            "target_branch": _STR,
            "title": _STR,
            "body": _STR,
            "draft": {"type": "boolean"},
            "labels": {"type": "array"},
        },
        ["repo_name", "source_branch", "target_branch", "title", "body"],
    ),
    _tool(
        "create_mr",
        "Open a MR in GitLab",
        {
            "id": _STR,
            "source_branch": _STR,
            "target_branch": _STR,
            "title": _STR,
            "description": _STR,
            "labels": {"type": "array"},
        },
        ["id", "source_branch", "target_branch", "title", "description"],
    ),
    _tool("create_bitbucket_pr", "Open a PR in Bitbucket", _PR_PROPS, list(_PR_PROPS)),
    _tool(
        "create_bitbucket_data_center_pr", "Open a PR in Bitbucket Data Center", _PR_PROPS, list(_PR_PROPS)
    ),
    _tool("create_azure_devops_pr", "Open a PR in Azure DevOps", _PR_PROPS, list(_PR_PROPS)),
]

SYSTEM_PROMPT = (
    "You are OpenHands agent, a helpful AI assistant that can interact with a computer to solve tasks.\n\n"
    "<ROLE>\nYour primary role is to assist users by executing commands, modifying code, and solving "
    "technical problems effectively.\n</ROLE>\n\n"
    "<FAKE_SERVER>\nThis conversation runs on the openhands-api fake server; the agent is scripted and "
    "the prompt is abridged.\n</FAKE_SERVER>"
)


def system_action() -> Event:
    return {
        "source": "agent",
        "message": SYSTEM_PROMPT,
        "action": "system",
        "args": {
            "content": SYSTEM_PROMPT,
            "tools": TOOLS,
            "openhands_version": OPENHANDS_VERSION,
            "agent_class": "CodeActAgent",
        },
    }
