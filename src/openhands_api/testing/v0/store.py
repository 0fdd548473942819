"""The V0 conversation manager of the fake server: lifecycle, scripted runs and queries.

Responsible for: what a self-hosted ``openhands-ai`` 1.6.0 server does with V0
conversations, minus the HTTP layer — create (status ``STARTING``, only a ``loading``
event), the runtime coming up (``RUNNING``/``STATUS$READY``; status stays ``RUNNING`` after
the agent finishes), the scripted agent's events (ids consecutive from 0), the title
replaced by ``Fake title`` after the first user message, follow-up messages, stop (appends
``stopped`` when an agent was running; reports the status *before* stopping), start of a
stopped conversation (``loading`` → ``awaiting_user_input``), eviction of the least recently
updated conversation when a 4th would run, deletion, event search and the list with its
combined base64 page ids (reproduced from the real source, quirks included).

Not responsible for: request parsing, status codes and bodies of errors (``v0/routes.py``,
``core/error_bodies.py``); locking and advancing time (callers hold ``FakeState.lock`` and have
called ``FakeState.advance()``).

Every timed behaviour is a scheduler process (see ``core/scheduler.py``) owned by the
conversation id and named ``"agent"`` (startup and agent turns) or ``"title"``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ..core.config import FakeServerConfig
from ..core.directives import StartDirectives, parse_start_directives
from ..core.scheduler import Process, Scheduler
from ..faults.crash import ServerCrash
from . import events as ev
from .agent import Directives, parse_directives, plan_outcome
from .conversation import (
    RUNNING,
    STARTING,
    STATUS_READY,
    STATUS_STARTING_RUNTIME,
    STOPPED,
    V0Conversation,
)

V1Page = tuple[list[dict[str, Any]], str | None]
V1Source = Callable[[str | None, int, bool], V1Page]
"""``(v1_page_id, limit, include_sub_conversations) -> (ConversationInfo dicts, next page id)``."""


def empty_v1_source(page_id: str | None, limit: int, include_sub_conversations: bool) -> V1Page:
    """The V1 half of the list on a server without V1 conversations (1.6.0's SQL paging).

    The real service fetches ``limit + 1`` rows at ``offset = int(page_id)`` and reports a
    next page when it got more than ``limit`` rows — which, with no rows, happens exactly
    when ``limit`` is negative (``limit=-1`` gives ``"v1": "-1"``, observed).
    """
    offset = 0
    if page_id is not None:
        try:
            offset = int(page_id)
        except ValueError:
            offset = 0
    return [], (str(offset + limit) if limit < 0 else None)


def _offset_from_page_id(page_id: Any) -> int:
    """``page_id_to_offset`` of 1.6.0: base64 of a decimal offset; anything else crashes."""
    if not page_id:
        return 0
    try:
        return int(base64.b64decode(page_id).decode())
    except Exception as exc:
        raise ServerCrash from exc


def _created_at(info: dict[str, Any]) -> datetime:
    text = info.get("created_at")
    if not isinstance(text, str):
        return datetime.min.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _page_id_from_offset(offset: int, has_next: bool) -> str | None:
    return base64.b64encode(str(offset).encode()).decode() if has_next else None


class V0Store:
    """All V0 conversations of one fake server."""

    def __init__(self, config: FakeServerConfig, scheduler: Scheduler) -> None:
        self.config = config
        self.scheduler = scheduler
        self.conversations: dict[str, V0Conversation] = {}
        self.create_calls = 0
        """Successful ``POST /api/conversations`` calls since the last reset."""
        self.evicted: list[str] = []
        """Conversations stopped to make room for another (over ``max_concurrent_conversations``),
        oldest eviction first, since the last reset."""
        self.v1_source: V1Source = empty_v1_source
        """Where the list's V1 half comes from (a V1 store plugs itself in here)."""
        self._store_exists = False
        # The real file store has no conversations directory until the first create, and
        # then returns an empty page before even looking at page_id (so a bad page_id only
        # crashes once a conversation was ever created).

    # ---------------------------------------------------------------- lifecycle
    def reset(self) -> None:
        for conversation_id in list(self.conversations):
            self.scheduler.cancel(conversation_id)
        self.conversations.clear()
        self.create_calls = 0
        self.evicted.clear()
        self._store_exists = False

    def get(self, conversation_id: str) -> V0Conversation | None:
        return self.conversations.get(conversation_id)

    def create(self, request: dict[str, Any], *, trigger: str) -> V0Conversation:
        """A new conversation in ``STARTING`` with its ``loading`` event; the runtime comes up later."""
        self._make_room()
        now = self.scheduler.now()
        conversation_id = uuid.uuid4().hex
        conversation = V0Conversation(
            conversation_id=conversation_id,
            created_at=now,
            last_updated_at=now,
            title="",
            trigger=trigger,
            selected_repository=request.get("repository"),
            selected_branch=request.get("selected_branch"),
            git_provider=request.get("git_provider"),
            request=request,
            initial_user_msg=request.get("initial_user_msg"),
            image_urls=list(request.get("image_urls") or []),
            conversation_instructions=request.get("conversation_instructions") or "",
        )
        conversation.title = conversation.default_title
        self.conversations[conversation_id] = conversation
        self.create_calls += 1
        self._store_exists = True
        self._boot(conversation)
        return conversation

    def start(self, conversation: V0Conversation) -> str:
        """``POST …/start``: the status to report (``RUNNING``/``STARTING`` if already up)."""
        if conversation.is_running:
            return conversation.status
        self._make_room(keep=conversation)
        self._boot(conversation)
        return conversation.status

    def stop(self, conversation: V0Conversation) -> str:
        """Close the agent loop; returns the status *before* stopping."""
        before = conversation.status
        if not conversation.is_running:
            return before
        self.scheduler.cancel(conversation.conversation_id, "agent")
        if conversation.agent_ready:
            # The conversation's update callback is already gone when this event lands,
            # so last_updated_at keeps its value (observed).
            self._append(conversation, ev.agent_state_changed("stopped"), touch=False)
        conversation.status = STOPPED
        conversation.runtime_status = None
        conversation.agent_ready = False
        conversation.queued_messages.clear()
        return before

    def delete(self, conversation_id: str) -> bool:
        conversation = self.conversations.pop(conversation_id, None)
        if conversation is None:
            return False
        self.scheduler.cancel(conversation_id)
        return True

    def rename(self, conversation: V0Conversation, title: str) -> None:
        conversation.title = title.strip()
        conversation.last_updated_at = max(conversation.last_updated_at, self.scheduler.now())

    def send_message(self, conversation: V0Conversation, content: str, image_urls: list[str] | None) -> None:
        """A user message into a live conversation (callers check it is running).

        While STARTING it is only recorded (the first turn reads it). Otherwise it starts a
        new turn; a turn in progress is abandoned, as the real agent's next LLM call sees
        the new message and the fake LLM starts counting steps afresh.
        """
        self._append(conversation, ev.user_message(content, image_urls))
        if conversation.status == STARTING:
            conversation.queued_messages.append(content)
            return
        interrupted = self.scheduler.cancel(conversation.conversation_id, "agent") > 0
        self._begin_turn(conversation, content, interrupted)
        self._spawn_agent(conversation, self._agent_turn(conversation))

    def add_raw_event(self, conversation: V0Conversation, data: dict[str, Any]) -> None:
        """``POST …/events``: messages and agent-state changes act, anything else is just stored."""
        action = data.get("action")
        raw_args = data.get("args")
        args: dict[str, Any] = raw_args if isinstance(raw_args, dict) else {}
        if action == "message":
            image_urls = args.get("image_urls")
            self.send_message(
                conversation,
                str(args.get("content") or ""),
                list(image_urls) if isinstance(image_urls, list) else None,
            )
        elif action == "change_agent_state" and isinstance(args.get("agent_state"), str):
            state = str(args["agent_state"])
            if state in ("stopped", "paused"):
                self.scheduler.cancel(conversation.conversation_id, "agent")
            self._append(conversation, ev.change_agent_state(state))
            self._append(conversation, ev.agent_state_changed(state))
        else:
            self._append(conversation, ev.raw_action(data))

    # ---------------------------------------------------------------- queries
    def search_events(
        self, conversation: V0Conversation, start_id: int, end_id: int | None, reverse: bool, limit: int
    ) -> tuple[list[ev.Event], bool]:
        """``EventStore.search_events`` of 1.6.0 with ``limit + 1`` to compute ``has_more``.

        ``start_id``/``end_id`` are inclusive bounds; reversed, the walk starts at
        ``end_id`` (or the newest event) and goes down to ``start_id``.
        """
        count = len(conversation.events)
        if not reverse:
            stop = count if end_id is None else min(end_id + 1, count)
            ids = range(max(start_id, 0), stop)
        else:
            first = (count if end_id is None else end_id + 1) - 1
            ids = range(min(first, count - 1), max(start_id - 1, -1), -1)
        wanted = limit + 1
        found = [conversation.events[i] for i in ids[:wanted]]
        has_more = len(found) > limit
        return found[:limit], has_more

    def list_page(
        self,
        page_id: str | None,
        limit: int,
        selected_repository: str | None,
        conversation_trigger: str | None,
        include_sub_conversations: bool,
    ) -> dict[str, Any]:
        """``GET /api/conversations`` of 1.6.0, reproduced step by step.

        Each source (V0 store, V1 service) pages on its own with ``limit``; filters are
        applied *after* paging; the merged list is sorted by ``created_at`` (newest first)
        and cut to ``limit``. The next page id is base64 of ``{"v0": …, "v1": …}`` when a
        source has more — so pages can be short or empty while more follow, and an exactly
        full last page ends the listing (``next_page_id: null``).
        """
        v0_page_id: Any = None
        v1_page_id: Any = None
        if page_id:
            try:
                data = json.loads(base64.b64decode(page_id))
            except (json.JSONDecodeError, TypeError):
                v0_page_id = page_id  # the real code's "legacy V0 page id" fallback
            except (binascii.Error, ValueError) as exc:
                raise ServerCrash from exc
            else:
                if not isinstance(data, dict):
                    raise ServerCrash  # data.get(...) on a non-dict
                v0_page_id = data.get("v0")
                v1_page_id = data.get("v1")

        v0_results, v0_next = self._v0_page(v0_page_id, limit)
        try:
            v1_results, v1_next = self.v1_source(v1_page_id, limit, include_sub_conversations)
        except TypeError as exc:
            raise ServerCrash from exc

        def keep(info: dict[str, Any]) -> bool:
            if selected_repository is not None and info["selected_repository"] != selected_repository:
                return False
            return conversation_trigger is None or info["trigger"] == conversation_trigger

        merged = [i for i in v0_results if keep(i)] + [i for i in v1_results if keep(i)]
        merged.sort(key=_created_at, reverse=True)
        next_page_id = None
        if v0_next or v1_next:
            next_page_id = base64.b64encode(json.dumps({"v0": v0_next, "v1": v1_next}).encode()).decode()
        return {"results": merged[:limit], "next_page_id": next_page_id}

    def _v0_page(self, page_id: Any, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        if not self._store_exists:
            return [], None
        ordered = sorted(self.conversations.values(), key=lambda c: c.created_at, reverse=True)
        total = len(ordered)
        start = _offset_from_page_id(page_id)
        end = min(limit + start, total)
        # Python slicing with the real arithmetic: negative limits and offsets behave as
        # oddly here as they do there (limit=-1 drops the last item, observed).
        page = ordered[start:end]
        oldest = self.scheduler.now() - self.config.conversation_max_age_seconds
        results = [c.info() for c in page if c.created_at >= oldest]
        return results, _page_id_from_offset(end, end < total)

    # ---------------------------------------------------------------- internals
    def _append(self, conversation: V0Conversation, body: ev.Event, *, touch: bool = True) -> int:
        event_id = conversation.append(body, self.scheduler.now(), touch=touch)
        if body.get("action") == "message" and body.get("source") == "user":
            self._schedule_title(conversation)
        return event_id

    def _schedule_title(self, conversation: V0Conversation) -> None:
        """The LLM title replaces the default one shortly after the first user message."""
        if conversation.title not in ("", conversation.default_title):
            return
        if self.scheduler.pending(conversation.conversation_id, "title"):
            return

        def retitle() -> None:
            if conversation.title in ("", conversation.default_title):
                conversation.title = ev.TITLE_TEXT

        self.scheduler.call_later(
            retitle, owner=conversation.conversation_id, name="title", delay=self.config.title_delay
        )

    def _make_room(self, keep: V0Conversation | None = None) -> None:
        """At most ``max_concurrent_conversations`` loops: stop the least recently updated."""
        running = [c for c in self.conversations.values() if c.is_running and c is not keep]
        limit = self.config.max_concurrent_conversations
        if len(running) < limit:
            return
        running.sort(key=lambda c: c.last_updated_at, reverse=True)
        while len(running) >= limit:
            evicted = running.pop()
            self.evicted.append(evicted.conversation_id)
            self.stop(evicted)

    def _boot(self, conversation: V0Conversation) -> None:
        """Start (or restart) the runtime: ``STARTING`` + ``loading`` now, ``RUNNING`` later."""
        conversation.status = STARTING
        conversation.runtime_status = STATUS_STARTING_RUNTIME
        # Like the real local runtime: an app port on the host mapped to one in the sandbox.
        conversation.runtime_hosts = {
            f"http://localhost:{random.randint(30000, 49999)}": random.randint(50000, 59999)
        }
        self._append(conversation, ev.agent_state_changed("loading"))
        if self._runtime_never_comes_up(conversation):
            return
        first_boot = not any(e.get("action") == "system" for e in conversation.events)
        self._spawn_agent(
            conversation, self._runtime_ready(conversation, first_boot), self.config.startup_delay
        )

    @staticmethod
    def _runtime_never_comes_up(conversation: V0Conversation) -> bool:
        """``[fake-start stuck]`` or ``[fake-start error]``, newest in the user messages (the
        initial one before the first boot): 1.6.0 shows a runtime that never comes up, and
        one whose start failed, alike: STARTING for good, no event after ``loading``, no
        error in ``runtime_status`` (its session start gives up after 120 s, seen in CI)."""
        found = StartDirectives()
        for text in conversation.user_messages or [conversation.initial_user_msg or ""]:
            found = parse_start_directives(text, found)
        return found.error or found.stuck is not None

    def _spawn_agent(self, conversation: V0Conversation, process: Process, delay: float = 0.0) -> None:
        self.scheduler.spawn(process, owner=conversation.conversation_id, name="agent", delay=delay)

    def _runtime_ready(self, conversation: V0Conversation, first_boot: bool) -> Process:
        """The runtime is up: ``RUNNING``, the agent initialises and starts its first turn.

        The events before the first LLM call arrive within ~15 ms on the real server, so
        they are appended together; each LLM call then takes ``step_delay``.
        """
        conversation.status = RUNNING
        conversation.runtime_status = STATUS_READY
        conversation.agent_ready = True
        if first_boot:
            self._append(conversation, ev.system_action())
            message = conversation.initial_user_msg
            if message:
                self._append(conversation, ev.user_message(message, list(conversation.image_urls)))
                self._append(conversation, ev.change_agent_state("running"))
                recall_id = self._append(conversation, ev.recall_action("workspace_context", message))
                self._append(conversation, ev.agent_state_changed("running"))
                self._append(conversation, self._workspace_context(conversation, recall_id))
                conversation.queued_messages.clear()
                yield from self._agent_turn(conversation)
                return
        if conversation.queued_messages:
            # Messages sent while the runtime was starting are answered once it is up.
            content = conversation.queued_messages[-1]
            conversation.queued_messages.clear()
            self._begin_turn(conversation, content, interrupted=False)
            yield from self._agent_turn(conversation)
            return
        self._append(conversation, ev.change_agent_state("awaiting_user_input"))
        self._append(conversation, ev.agent_state_changed("awaiting_user_input"))

    def _begin_turn(self, conversation: V0Conversation, content: str, interrupted: bool) -> None:
        """What the real server appends within milliseconds of a user message."""
        first_message = len(conversation.user_messages) == 1
        recall_type = "workspace_context" if first_message else "knowledge"
        recall_id = self._append(conversation, ev.recall_action(recall_type, content))
        if not interrupted:
            self._append(conversation, ev.agent_state_changed("running"))
        if first_message:
            self._append(conversation, self._workspace_context(conversation, recall_id))
        else:
            self._append(conversation, ev.null_observation(recall_id))

    def _agent_turn(self, conversation: V0Conversation) -> Process:
        """The LLM-driven part of a turn: N ``think`` steps, then finish / ask / error.

        Each LLM call takes ``step_delay`` plus the ``delay`` directive; the action's
        observation and the final state change follow it at once, as they do for real.
        """
        config = self.config
        defaults = Directives(
            steps=config.llm_steps, error=config.llm_error, delay=config.llm_delay, ask=config.llm_ask
        )
        directives = parse_directives(conversation.user_messages, defaults)
        wait = directives.delay + config.step_delay
        for number in range(1, directives.steps + 1):
            yield wait
            thought = f"Fake step {number} of {directives.steps}."
            metadata = self._llm_call(conversation, "think", {"thought": thought})
            action_id = self._append(
                conversation, ev.think_action(thought, metadata, self._metrics(conversation))
            )
            conversation.tool_results += 1
            self._append(conversation, ev.think_observation(action_id, copy.deepcopy(metadata)))
        outcome = plan_outcome(directives)
        yield wait
        if outcome.kind == "ask":
            self._count_tokens(conversation)
            self._append(conversation, ev.agent_message(ev.ASK_TEXT, self._metrics(conversation)))
        elif outcome.kind == "finish":
            metadata = self._llm_call(conversation, "finish", {"message": ev.FINISH_TEXT})
            self._append(
                conversation, ev.finish_action(ev.FINISH_TEXT, metadata, self._metrics(conversation))
            )
        self._append(conversation, ev.agent_state_changed(outcome.agent_state, outcome.reason))

    def _llm_call(self, conversation: V0Conversation, function: str, arguments: dict[str, Any]) -> ev.Event:
        self._count_tokens(conversation)
        # Prompt-based tool calls are numbered by the tool results already in the history.
        return ev.tool_call_metadata(function, arguments, conversation.tool_results + 1, self.scheduler.now())

    @staticmethod
    def _count_tokens(conversation: V0Conversation) -> None:
        conversation.prompt_tokens += 20
        conversation.completion_tokens += 10

    @staticmethod
    def _metrics(conversation: V0Conversation) -> dict[str, Any]:
        return ev.llm_metrics(conversation.prompt_tokens, conversation.completion_tokens)

    def _workspace_context(self, conversation: V0Conversation, recall_id: int) -> ev.Event:
        date = datetime.fromtimestamp(self.scheduler.now(), timezone.utc).strftime("%Y-%m-%d")
        return ev.workspace_context(
            recall_id,
            runtime_hosts=conversation.runtime_hosts,
            date=date,
            conversation_instructions=conversation.conversation_instructions,
            repo_name=conversation.selected_repository or "",
            repo_branch=conversation.selected_branch or "",
        )
