"""Directives in user messages that steer the fake server, shared by both API generations.

Responsible for: reading ``[fake-llm ...]`` directives exactly as the kit's fake LLM does
(``shared/real-server/fake_llm.py``: every user message of the conversation is scanned, later
values win, server-wide defaults fill the rest), and ``[fake-start ...]`` directives, which
only this fake understands: they make a V1 start task fail or hang (read from the initial
message only, since that is all a start task sees), and a V0 runtime never come up (read
like ``[fake-llm ...]``, from every user message so far, at each start or restart).

Not responsible for: what a directive does to a conversation (``v0/agent.py`` and
``v0/store.py`` for V0, ``v1/store.py`` for V1).

``[fake-llm ...]``: ``steps=N``, ``error`` / ``error=STATUS``, ``noerror``, ``delay=SEC``
(before each agent step) — shared with the real fake LLM, so one scenario runs against both
servers — plus ``ask`` / ``noask`` (the agent answers with plain text instead of a tool call;
the project's own copy of the fake LLM, ``tests/integration/realserver/fake_llm.py``, knows it
too, the kit's does not).

``[fake-start ...]``: ``error`` (the task ends in ``ERROR`` where a failing agent-server
create fails, at ``STARTING_CONVERSATION``), ``stuck`` / ``stuck=STATUS`` (the task stops in
``STATUS``, default ``WAITING_FOR_SANDBOX``, forever), ``noerror`` / ``nostuck``. On V0,
``error`` and ``stuck`` look alike, as on 1.6.0, where a runtime whose start failed and one
still starting both leave the conversation STARTING with nothing after ``loading``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

DIRECTIVE_RE = re.compile(r"\[fake-llm\s+([^\]]*)\]")
START_DIRECTIVE_RE = re.compile(r"\[fake-start\s+([^\]]*)\]")

START_STATUSES = (
    "WORKING",
    "WAITING_FOR_SANDBOX",
    "PREPARING_REPOSITORY",
    "RUNNING_SETUP_SCRIPT",
    "SETTING_UP_GIT_HOOKS",
    "SETTING_UP_SKILLS",
    "STARTING_CONVERSATION",
)
"""The start-task statuses before ``READY``, in order (``AppConversationStartTaskStatus``)."""

DEFAULT_STUCK_STATUS = "WAITING_FOR_SANDBOX"
"""Where ``[fake-start stuck]`` hangs: the sandbox never comes up (the usual Cloud report)."""


@dataclass(frozen=True)
class Directives:
    steps: int = 0
    error: int | None = None
    delay: float = 0.0
    ask: bool = False


def parse_directives(messages: Iterable[str], defaults: Directives) -> Directives:
    """Fold the directives of ``messages`` (oldest first) over ``defaults``; later wins.

    Malformed values are ignored (the real fake LLM would fail on them instead).
    """
    found = defaults
    for text in messages:
        for body in DIRECTIVE_RE.findall(text):
            for token in body.split():
                key, _, value = token.partition("=")
                key = key.strip().lower()
                try:
                    if key == "steps":
                        found = replace(found, steps=max(0, int(value or 0)))
                    elif key == "error":
                        found = replace(found, error=int(value) if value else 500)
                    elif key == "noerror":
                        found = replace(found, error=None)
                    elif key == "delay":
                        found = replace(found, delay=max(0.0, float(value or 0)))
                    elif key == "ask":
                        found = replace(found, ask=True)
                    elif key == "noask":
                        found = replace(found, ask=False)
                except ValueError:
                    continue
    return found


@dataclass(frozen=True)
class StartDirectives:
    """How a start should go: normally, into ``ERROR``, or stuck (in one status, for V1)."""

    error: bool = False
    stuck: str | None = None
    """A status of ``START_STATUSES`` the task never leaves, or None."""


def parse_start_directives(text: str, defaults: StartDirectives) -> StartDirectives:
    """Fold the ``[fake-start ...]`` directives of ``text`` over ``defaults``; unknown values are ignored."""
    found = defaults
    for body in START_DIRECTIVE_RE.findall(text):
        for token in body.split():
            key, _, value = token.partition("=")
            key = key.strip().lower()
            if key == "error":
                found = replace(found, error=True)
            elif key == "noerror":
                found = replace(found, error=False)
            elif key == "stuck":
                status = value.strip().upper() or DEFAULT_STUCK_STATUS
                if status in START_STATUSES:
                    found = replace(found, stuck=status)
            elif key == "nostuck":
                found = replace(found, stuck=None)
    return found
