"""The scripted agent's brain: which turn outcome a conversation's user messages ask for.

Responsible for: turning the ``[fake-llm ...]`` directives of a V0 conversation (read by
``core/directives.py``, shared with V1) into a plan for one agent turn: N ``think`` steps, then
finish / ask / fail. Also the ``agent_state_changed`` state and ``reason`` the real 1.6.0
server reports for each injected LLM error status (observed, see ``error_outcome``).

Not responsible for: events, timing or state (``v0/store.py`` turns a plan into events).

Directives: ``steps=N``, ``error`` / ``error=STATUS``, ``noerror``, ``delay=SEC`` (before
each agent step) — shared with the real fake LLM, so one scenario runs against both
servers — plus ``ask`` / ``noask``: the agent replies with a question (``message`` action,
``wait_for_response: true``) and waits for the user. The kit's fake LLM ignores ``ask`` and
finishes; the project's copy answers with plain text, which is what ``ask`` models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..core.directives import DIRECTIVE_RE, Directives, parse_directives

__all__ = ["DIRECTIVE_RE", "Directives", "TurnOutcome", "error_outcome", "parse_directives", "plan_outcome"]


@dataclass(frozen=True)
class TurnOutcome:
    """How an agent turn ends."""

    kind: Literal["finish", "ask", "error"]
    agent_state: str
    reason: str = ""


def error_outcome(status: int) -> TurnOutcome:
    """The end of a turn whose LLM call failed with HTTP ``status`` (observed on 1.6.0).

    400/401/403/404 → ``error`` with litellm's BadRequestError text; 429 → ``rate_limited``
    (the agent stays there); 500 → ``STATUS$ERROR_LLM_INTERNAL_SERVER_ERROR``; 502/503 →
    a RuntimeError naming the litellm exception. Other statuses follow the same families
    (not observed).
    """
    if status == 429:
        return TurnOutcome("error", "rate_limited", "")
    if 400 <= status < 500:
        return TurnOutcome(
            "error",
            "error",
            "BadRequestError: litellm.BadRequestError: OpenAIException - "
            f"Fake LLM error (injected, HTTP {status}).",
        )
    names = {502: "BadGatewayError", 503: "ServiceUnavailableError", 504: "Timeout"}
    if status in names:
        return TurnOutcome(
            "error",
            "error",
            "RuntimeError: There was an unexpected error while running the agent: "
            f"{names[status]}. You can refresh the page or ask the agent to try again.",
        )
    return TurnOutcome("error", "error", "STATUS$ERROR_LLM_INTERNAL_SERVER_ERROR")


def plan_outcome(directives: Directives) -> TurnOutcome:
    """After the ``think`` steps: an injected error wins over ``ask``, which wins over finishing."""
    if directives.error is not None:
        return error_outcome(directives.error)
    if directives.ask:
        return TurnOutcome("ask", "awaiting_user_input")
    return TurnOutcome("finish", "finished")
