"""The V1 app server of the fake: start tasks, sandboxes, app conversations, the scripted agent.

Responsible for: what an ``openhands-ai`` 1.11.0 server (and its agent servers) does, minus
the HTTP layer (CONTRACT.md §5, §6):

* Start tasks walk ``WORKING`` → ``WAITING_FOR_SANDBOX`` (sandbox created, ``STARTING``) →
  ``PREPARING_REPOSITORY`` (sandbox ``RUNNING``) → ``RUNNING_SETUP_SCRIPT`` →
  ``SETTING_UP_GIT_HOOKS`` → ``SETTING_UP_SKILLS`` → ``STARTING_CONVERSATION``
  (``agent_server_url``) → ``READY`` (``app_conversation_id``), or end in ``ERROR`` with a
  ``detail``, or hang (``[fake-start ...]``, ``start_error``, ``start_stuck``). A requested
  ``conversation_id`` is honoured and then also names the sandbox (observed).
* The scripted agent: the initial message always starts a run; each run goes ``idle`` →
  ``running`` → ``finished`` (or ``error`` with a ``ConversationErrorEvent``), emitting the
  real event kinds in the real order with the real ``parent_id`` links; a new message first
  turns ``finished``/``stuck`` into ``idle``; ``run: false`` only queues the message. A
  message reaches the agent ``send_message_delay`` after ``send-message`` returned, so the
  previous status stays visible meanwhile. An answer without a tool call (``[fake-llm ask]``)
  ends the run ``finished`` with an agent ``MessageEvent``, as the SDK agent does.
* The title (``Conversation <5 hex>``, then ``Fake title``; the ``title`` of the request is
  ignored, as on the real server), metrics from ``stats`` events, ``updated_at`` moved by
  ``stats`` and ``execution_status`` events when they reach the app server.
* Sandboxes: pause freezes the agent (its scheduler processes are suspended), resume thaws it
  with its status unchanged (an LLM call in flight has gone on meanwhile), delete kills it
  (conversations then show ``MISSING``).
* The app server's copies of the events, lagging behind the agent when
  ``webhook_flush_delay`` is set (batches of ``webhook_batch_size``, a partial batch
  ``webhook_flush_delay`` after its first event, like the agent server's webhook subscriber).
* Queries: batch gets, searches with filters and offset page ids, counts, the V0 list's V1
  half (``generations="both"``), the download zip.

Not responsible for: request parsing, status codes and error bodies (``v1/routes.py``,
``core/error_bodies.py``); locking and advancing time (callers hold ``FakeState.lock`` and have
called ``FakeState.advance()``).

Scheduler owners: a start task's id (process ``"start"``), a conversation's id (``"agent"``,
``"message"``, ``"title"``, ``"webhook"``) and a sandbox's id (``"resume"``).
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
import zipfile
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from ..core.config import FakeServerConfig
from ..core.directives import (
    START_STATUSES,
    Directives,
    StartDirectives,
    parse_directives,
    parse_start_directives,
)
from ..core.scheduler import Process, Scheduler
from ..faults.crash import ServerCrash
from . import events as ev
from .conversation import (
    ARCHIVE_WORKSPACE_PATH_TAG,
    ERROR,
    READY,
    SANDBOX_ERROR,
    SANDBOX_MISSING,
    SANDBOX_PAUSED,
    SANDBOX_RUNNING,
    SANDBOX_STARTING,
    EventLog,
    V1Conversation,
    V1Sandbox,
    V1StartTask,
    dashed,
)

SettingsSource = Callable[[], Mapping[str, Any] | None]
"""Returns the stored settings (V0 keys: ``llm_model``, ``llm_base_url``, ``llm_api_key``) or None."""

Filters = dict[str, Any]
"""Search filters by their query names (``title__contains``, ``created_at__gte`` …)."""

DEFAULT_MODEL = "gpt-5.5"
"""The SDK's default model, used when no LLM settings are stored."""

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(data: bytes) -> str:
    """``base62.encodebytes``: sandbox ids, session keys, 1.6.0's fallback titles."""
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, digit = divmod(number, 62)
        out = _BASE62[digit] + out
    return out or "0"


def _like(pattern: str) -> re.Pattern[str]:
    """SQLite ``LIKE '%pattern%'``: ``%`` and ``_`` are wildcards, ASCII case-insensitive."""
    parts = ["(?s).*"]
    for char in pattern:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    parts.append(".*")
    return re.compile("".join(parts), re.IGNORECASE | re.ASCII)


def _wall_clock(value: datetime) -> int:
    """A query datetime as SQLite compares it: its wall-clock digits, any timezone dropped
    (in microseconds, the precision the database keeps)."""
    return _micros(value.replace(tzinfo=timezone.utc).timestamp())


def _micros(ts: float) -> int:
    return round(ts * 1_000_000)


def _offset(page_id: str | None) -> int:
    """The SQL services' page ids: a decimal offset; anything else starts from the beginning."""
    if page_id is None:
        return 0
    try:
        return max(0, int(page_id))
    except ValueError:
        return 0


def _sql_page(rows: list[Any], page_id: Any, limit: int) -> tuple[list[Any], str | None]:
    """The SQL services' paging: ``OFFSET int(page_id) LIMIT limit + 1``; if more rows came
    back than ``limit``, ``next_page_id`` is ``offset + limit``.

    Odd inputs behave as in SQLite and the real arithmetic (the V0 list of ``"both"`` passes
    its own ``limit`` and page id through): a negative OFFSET counts as 0, a negative LIMIT
    means no limit, a non-integer page id starts from the beginning.
    """
    offset = 0
    if page_id is not None:
        try:
            offset = int(page_id)
        except ValueError:
            offset = 0
    start = max(0, offset)
    count = limit + 1
    fetched = rows[start:] if count < 0 else rows[start : start + count]
    has_more = len(fetched) > limit
    if has_more:
        fetched = fetched[:limit]
    return fetched, (str(offset + limit) if has_more else None)


def httpx_status_error(status: int, reason: str, url: str) -> str:
    """The text of ``httpx.HTTPStatusError`` (what an agent-server create failure says)."""
    kind = "Server error" if status >= 500 else "Client error"
    return (
        f"{kind} '{status} {reason}' for url '{url}'\n"
        f"For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/{status}"
    )


class V1Store:
    """All V1 start tasks, sandboxes and conversations of one fake server."""

    def __init__(self, config: FakeServerConfig, scheduler: Scheduler, settings: SettingsSource) -> None:
        self.config = config
        self.scheduler = scheduler
        self.settings = settings
        self.dialect = "1.6.0" if config.generations == "both" else "1.11.0"
        self.tasks: dict[str, V1StartTask] = {}
        self.sandboxes: dict[str, V1Sandbox] = {}
        self.conversations: dict[str, V1Conversation] = {}
        self.events: dict[str, EventLog] = {}
        self.start_calls = 0
        """Accepted ``POST /api/v1/app-conversations`` and ``…/stream-start`` calls since the last reset."""
        self.message_calls = 0
        """Accepted ``send-message`` calls since the last reset."""
        self.created_at = scheduler.now()
        """When the app server started (its preset sandbox spec's ``created_at``)."""

    # ================================================================ lifecycle: start tasks
    def reset(self) -> None:
        for owner in [*self.tasks, *self.conversations, *self.sandboxes, *self.events]:
            self.scheduler.cancel(owner)
        self.tasks.clear()
        self.sandboxes.clear()
        self.conversations.clear()
        self.events.clear()
        self.start_calls = 0
        self.message_calls = 0

    def active_sandboxes(self) -> int:
        """Sandboxes holding compute (starting or running), counting starts not yet given one."""
        busy = sum(1 for s in self.sandboxes.values() if s.status in (SANDBOX_STARTING, SANDBOX_RUNNING))
        return busy + sum(1 for t in self.tasks.values() if not t.done and t.sandbox_id is None)

    def start(self, request: dict[str, Any], initial_text: str | None) -> V1StartTask:
        """A new start task in ``WORKING``; the rest happens over simulated time."""
        now = self.scheduler.now()
        task = V1StartTask(task_id=uuid.uuid4().hex, created_at=now, updated_at=now, request=request)
        task.snapshot()
        self.tasks[task.task_id] = task
        self.start_calls += 1
        defaults = StartDirectives(error=self.config.start_error, stuck=self.config.start_stuck)
        directives = parse_start_directives(initial_text or "", defaults)
        working = self.config.start_task_delay * 0.6
        self.scheduler.spawn(
            self._start_process(task, directives, initial_text),
            owner=task.task_id,
            name="start",
            delay=working,
        )
        return task

    def _step_time(self) -> float:
        return self.config.start_task_delay * 0.4 / (len(START_STATUSES) - 1)

    def _advance_task(self, task: V1StartTask, status: str, **fields: Any) -> None:
        task.status = status
        for name, value in fields.items():
            setattr(task, name, value)
        task.updated_at = self.scheduler.now()
        task.snapshot()

    def _fail(self, task: V1StartTask, detail: str) -> None:
        self._advance_task(task, ERROR, detail=detail)

    def _start_process(
        self, task: V1StartTask, directives: StartDirectives, initial_text: str | None
    ) -> Process:
        """The start task after ``WORKING`` (this process first runs when ``WORKING`` is over)."""
        if directives.stuck == "WORKING":
            return
        request = task.request
        wanted_id = uuid.UUID(request["conversation_id"]).hex if request.get("conversation_id") else None
        if wanted_id is not None and wanted_id in self.conversations:
            # Not observed: the real server would overwrite the record (and reuse the sandbox
            # name); failing the start is the kinder fake.
            self._fail(task, f"Conversation {dashed(wanted_id)} already exists")
            return
        if request.get("sandbox_id"):
            sandbox = self.sandboxes.get(request["sandbox_id"])
            if sandbox is None:
                self._fail(task, f"Sandbox not found: {request['sandbox_id']}")
                return
            if sandbox.status == SANDBOX_PAUSED:
                self.resume_sandbox(sandbox.sandbox_id)
        else:
            sandbox = self._new_sandbox(wanted_id)
        self._advance_task(task, "WAITING_FOR_SANDBOX", sandbox_id=sandbox.sandbox_id)
        if directives.stuck == "WAITING_FOR_SANDBOX":
            return
        yield self._step_time()
        if self.sandboxes.get(sandbox.sandbox_id) is not sandbox:
            self._fail(task, "Agent Server Failed to start properly")
            return
        if sandbox.status == SANDBOX_STARTING:
            sandbox.status = SANDBOX_RUNNING
        for status in START_STATUSES[2:-1]:
            self._advance_task(task, status)
            if directives.stuck == status:
                return
            yield self._step_time()
        self._advance_task(task, "STARTING_CONVERSATION", agent_server_sandbox_id=sandbox.sandbox_id)
        if directives.stuck == "STARTING_CONVERSATION":
            return
        yield self._step_time()
        url = f"{sandbox.agent_server_url}/api/conversations"
        if directives.error:
            self._fail(task, httpx_status_error(500, "Internal Server Error", url))
            return
        conversation_id = wanted_id or uuid.uuid4().hex
        conversation = self._new_conversation(conversation_id, sandbox, task)
        self._emit_full_state(conversation)
        if initial_text is not None:
            self._receive_message(conversation, request["initial_message"]["content"], initial_text)
        self._advance_task(task, READY, app_conversation_id=conversation_id)
        if initial_text is not None:
            # The initial message always starts the agent, whatever its ``run`` says (observed).
            self._spawn_run(conversation, delay=self.config.run_start_delay)

    def _new_sandbox(self, sandbox_id: str | None) -> V1Sandbox:
        sandbox = V1Sandbox(
            sandbox_id=sandbox_id or base62(os.urandom(16)),
            created_at=self.scheduler.now(),
            session_api_key=base62(os.urandom(32)),
        )
        self.sandboxes[sandbox.sandbox_id] = sandbox
        return sandbox

    def create_raw_sandbox(self) -> V1Sandbox:
        """``POST /api/v1/sandboxes``: a sandbox without a conversation, returned once running."""
        sandbox = self._new_sandbox(None)
        sandbox.status = SANDBOX_RUNNING
        return sandbox

    def _new_conversation(
        self, conversation_id: str, sandbox: V1Sandbox, task: V1StartTask
    ) -> V1Conversation:
        request = task.request
        settings = self.settings()
        model = request.get("llm_model") or (settings or {}).get("llm_model") or DEFAULT_MODEL
        tags = {ARCHIVE_WORKSPACE_PATH_TAG: "."}
        for tag, key in (
            ("repo_name", "selected_repository"),
            ("git_provider", "git_provider"),
            ("selected_branch", "selected_branch"),
        ):
            if request.get(key):
                tags[tag] = str(request[key])
        now = self.scheduler.now()
        conversation = V1Conversation(
            started_at=ev.iso_z(now),
            conversation_id=conversation_id,
            sandbox_id=sandbox.sandbox_id,
            created_at=now,
            updated_at=now,
            title=f"Conversation {conversation_id[:5]}",
            llm_model=model,
            selected_repository=request.get("selected_repository"),
            selected_branch=request.get("selected_branch"),
            git_provider=request.get("git_provider"),
            trigger=request.get("trigger"),
            pr_number=list(request.get("pr_number") or []),
            parent_conversation_id=request.get("parent_conversation_id"),
            tags=tags if self.dialect != "1.6.0" else {},
            start_task_id=task.task_id,
        )
        self.conversations[conversation_id] = conversation
        self.events.setdefault(conversation_id, EventLog())
        return conversation

    # ================================================================ the agent
    def _stamp(
        self, conversation: V1Conversation, parent_id: str | None, event_id: str | None = None
    ) -> ev.Stamp:
        # Whole microseconds, strictly increasing: timestamps sort like the real ones do.
        micros = max(_micros(self.scheduler.now()), conversation.last_event_micros + 1)
        conversation.last_event_micros = micros
        return ev.Stamp(event_id or ev.new_event_id(), ev.iso_event_time(micros), parent_id)

    def _emit(
        self, conversation: V1Conversation, event: ev.Event, *, leaf: bool = False, kept: bool = True
    ) -> str:
        """Append ``event``; ``kept=False``: published to the subscribers only, not in the agent
        server's own log (``EventLog.published_only``)."""
        if leaf:
            conversation.leaf_event_id = event["id"]
        log = self.events.setdefault(conversation.conversation_id, EventLog())
        log.pending.append(event)
        if not kept:
            log.published_only.add(str(event["id"]))
        flush_delay = self.config.webhook_flush_delay
        owner = conversation.conversation_id
        if flush_delay is None or len(log.pending) >= self.config.webhook_batch_size:
            self.scheduler.cancel(owner, "webhook")
            self._deliver(conversation.conversation_id)
        elif not self.scheduler.pending(owner, "webhook"):
            self.scheduler.call_later(
                lambda: self._deliver(owner), owner=owner, name="webhook", delay=flush_delay
            )
        return str(event["id"])

    def _deliver(self, conversation_id: str) -> None:
        """The agent server's webhook post: the app server stores the events and reads a few."""
        log = self.events.get(conversation_id)
        if log is None or not log.pending:
            return
        batch, log.pending = log.pending, []
        log.delivered.extend(batch)
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return
        for event in batch:
            if event.get("kind") != "ConversationStateUpdateEvent":
                continue
            if event["key"] == "stats":
                usage = event["value"]["usage_to_metrics"]["agent"]["accumulated_token_usage"]
                conversation.prompt_tokens = usage["prompt_tokens"]
                conversation.completion_tokens = usage["completion_tokens"]
                conversation.per_turn_token = usage["per_turn_token"]
                conversation.updated_at = self.scheduler.now()
            elif event["key"] == "execution_status":
                conversation.updated_at = self.scheduler.now()

    def flush(self, conversation_id: str) -> None:
        """Post everything still pending now (an agent server shutting down does)."""
        self.scheduler.cancel(conversation_id, "webhook")
        self._deliver(conversation_id)

    def _set_status(self, conversation: V1Conversation, status: str) -> None:
        if conversation.execution_status == status:
            return
        conversation.execution_status = status
        self._emit(
            conversation,
            ev.state_update(
                self._stamp(conversation, conversation.leaf_event_id), "execution_status", status
            ),
        )

    def _emit_full_state(self, conversation: V1Conversation) -> None:
        value = self.full_state(conversation)
        self._emit(
            conversation, ev.state_update(self._stamp(conversation, None), "full_state", value), kept=False
        )

    def full_state(self, conversation: V1Conversation) -> dict[str, Any]:
        """The agent server's whole conversation state, as of now."""
        settings = self.settings() or {}
        return ev.full_state_value(
            conversation_id=conversation.conversation_id,
            model=conversation.llm_model,
            base_url=settings.get("llm_base_url"),
            execution_status=conversation.execution_status,
            llm_response_ids=conversation.llm_response_ids,
            started_at=conversation.started_at,
            last_user_message_id=conversation.last_user_message_id,
            leaf_event_id=conversation.leaf_event_id,
        )

    def state_snapshot_event(self, conversation: V1Conversation) -> ev.Event:
        """What the agent server sends a new WebSocket subscriber first: the current state as
        a ``full_state`` update, stamped now and not part of the event log."""
        stamp = self._stamp(conversation, None)
        return ev.state_update(stamp, "full_state", self.full_state(conversation))

    def live_events(self, conversation_id: str) -> list[ev.Event]:
        """The agent server's own event log: every event it kept so far, in order, whether or
        not the webhook has copied it to the app server yet (not those it only published)."""
        log = self.events.get(conversation_id)
        if log is None:
            return []
        return [e for e in (*log.delivered, *log.pending) if e["id"] not in log.published_only]

    def published_events(self, conversation_id: str) -> list[ev.Event]:
        """Every event the agent server published to its subscribers so far, in order: its log
        and what it only published (what a connected socket receives live)."""
        log = self.events.get(conversation_id)
        return [*log.delivered, *log.pending] if log is not None else []

    def _receive_message(
        self, conversation: V1Conversation, content: list[dict[str, Any]], text: str
    ) -> None:
        """The agent server appends a user message (it does not run the agent by itself)."""
        if conversation.execution_status in ("finished", "stuck"):
            self._set_status(conversation, "idle")  # a new message resets terminal states
        if not conversation.agent_initialised:
            conversation.agent_initialised = True
            current = datetime.fromtimestamp(self.scheduler.now(), timezone.utc).replace(tzinfo=None)
            self._emit(
                conversation,
                ev.system_prompt(self._stamp(conversation, None), current.isoformat() + "Z"),
                leaf=True,
            )
        message_id = self._emit(
            conversation,
            ev.message(self._stamp(conversation, conversation.leaf_event_id), "user", "user", content, None),
            leaf=True,
        )
        conversation.last_user_message_id = message_id
        self._emit(
            conversation,
            ev.state_update(self._stamp(conversation, message_id), "last_user_message_id", message_id),
        )
        conversation.user_messages.append(text)
        if len(conversation.user_messages) == 1:
            self.scheduler.call_later(
                lambda: self._set_title(conversation),
                owner=conversation.conversation_id,
                name="title",
                delay=self.config.title_delay,
            )

    def _set_title(self, conversation: V1Conversation) -> None:
        if not self._llm_usable():
            return  # the title comes from the LLM too
        # The title callback overwrites whatever is there, a PATCHed title too (observed).
        conversation.title = ev.TITLE_TEXT

    def _llm_usable(self) -> bool:
        settings = self.settings()
        return settings is not None and bool(settings.get("llm_api_key"))

    def send_message(
        self,
        conversation: V1Conversation,
        content: list[dict[str, Any]],
        text: str,
        run: bool,
        *,
        direct: bool = False,
    ) -> None:
        """``send-message`` (callers checked the sandbox runs): it arrives a little later.

        ``direct``: sent to the agent server itself (``POST …/events``, the WebSocket), so
        it is in the agent's log at once and not counted in ``message_calls``."""
        if not direct:
            self.message_calls += 1

        def arrive() -> None:
            self._receive_message(conversation, content, text)
            if not run:
                return
            if self.scheduler.pending(conversation.conversation_id, "agent"):
                # A run in progress sees the message at its next LLM call; the fake LLM then
                # counts its steps afresh, so the turn starts over.
                self.scheduler.cancel(conversation.conversation_id, "agent")
                self._spawn_run(conversation, delay=0.0)
            else:
                self._spawn_run(conversation, delay=self.config.run_start_delay)

        if direct:
            arrive()
            return
        self.scheduler.call_later(
            arrive, owner=conversation.conversation_id, name="message", delay=self.config.send_message_delay
        )

    def _spawn_run(self, conversation: V1Conversation, delay: float) -> None:
        self.scheduler.spawn(
            self._run(conversation), owner=conversation.conversation_id, name="agent", delay=delay
        )

    def _llm_call(self, conversation: V1Conversation) -> str:
        response_id = ev.llm_response_id()
        conversation.llm_response_ids.append(response_id)
        return response_id

    def _stats(self, conversation: V1Conversation, parent_id: str | None) -> ev.Event:
        """The stats update of the LLM call just made, stamped now. A step's is appended when
        the step is over (after its observation, and after the status it ends the run with),
        so the agent server's log is not in timestamp order there (observed on 1.11.0)."""
        calls = len(conversation.llm_response_ids)
        value = ev.stats_value(conversation.llm_model, 10 * calls, 5 * calls, 15)
        return ev.state_update(self._stamp(conversation, parent_id), "stats", value)

    def _title_call(self, conversation: V1Conversation) -> None:
        """The agent server asks the LLM for a title once; its usage lands in the agent's stats."""
        if conversation.title_requested or not self._llm_usable():
            return
        conversation.title_requested = True
        self._llm_call(conversation)
        self._emit(conversation, self._stats(conversation, conversation.leaf_event_id))

    def _run(self, conversation: V1Conversation) -> Process:
        """One run of the agent loop: N think steps, then finish, a plain answer, or an error."""
        config = self.config
        if conversation.execution_status in ("idle", "paused", "error", "stuck"):
            self._set_status(conversation, "running")
        defaults = Directives(
            steps=config.llm_steps, error=config.llm_error, delay=config.llm_delay, ask=config.llm_ask
        )
        directives = parse_directives(conversation.user_messages, defaults)
        wait = config.step_delay + directives.delay
        no_api_key = not self._llm_usable()
        for number in range(1, directives.steps + 1):
            if no_api_key:
                break
            yield wait
            self._title_call(conversation)
            thought = f"Fake step {number} of {directives.steps}."
            action_body = {"thought": thought, "kind": "ThinkAction"}
            arguments = {"thought": thought}
            stats = self._tool_step(
                conversation, "think", action_body, arguments, ev.THINK_OBSERVATION, "ThinkObservation"
            )
            self._emit(conversation, stats)
        error = directives.error
        retried = error is not None and ev.llm_call_retried(error)
        yield wait * 3 if retried else wait
        self._title_call(conversation)
        if no_api_key:
            self._fail_run(
                conversation,
                "LLMAuthenticationError",
                "litellm.AuthenticationError: AuthenticationError: OpenAIException - The api_key client "
                "option must be set either by passing api_key to the client or by setting the "
                "OPENAI_API_KEY environment variable",
            )
        elif error is not None:
            self._fail_run(conversation, *ev.llm_error(error))
        elif directives.ask:
            self._answer(conversation)
        else:
            action_body = {"message": ev.FINISH_TEXT, "kind": "FinishAction"}
            arguments = {"message": ev.FINISH_TEXT}
            stats = self._tool_step(
                conversation, "finish", action_body, arguments, ev.FINISH_TEXT, "FinishObservation"
            )
            self._set_status(conversation, "finished")
            self._emit(conversation, stats)
        self._emit_full_state(conversation)

    def _tool_step(
        self,
        conversation: V1Conversation,
        tool: str,
        action_body: dict[str, Any],
        arguments: dict[str, Any],
        observation_text: str,
        observation_kind: str,
    ) -> ev.Event:
        """The action and its observation; returns the step's stats update, for the caller to
        append once the step is over."""
        response_id = self._llm_call(conversation)
        action_id, observation_id, call_id = ev.new_event_id(), ev.new_event_id(), ev.tool_call_id()
        # The stats update is stamped before the action but linked to the observation that
        # follows it, as in real runs.
        stats = self._stats(conversation, observation_id)
        parent = conversation.leaf_event_id
        self._emit(
            conversation,
            ev.action(
                self._stamp(conversation, parent, action_id),
                tool,
                action_body,
                arguments,
                call_id,
                response_id,
            ),
            leaf=True,
        )
        self._emit(
            conversation,
            ev.observation(
                self._stamp(conversation, action_id, observation_id),
                tool,
                call_id,
                observation_text,
                observation_kind,
                action_id,
            ),
            leaf=True,
        )
        return stats

    def _answer(self, conversation: V1Conversation) -> None:
        """The LLM answered with text and no tool call: the SDK agent ends the run ``finished``."""
        response_id = self._llm_call(conversation)
        message_id = ev.new_event_id()
        # Streamed tokens reach the subscribers but not the agent server's log.
        self._emit(conversation, ev.streaming_delta(self._stamp(conversation, None), ev.ASK_TEXT), kept=False)
        stats = self._stats(conversation, message_id)
        self._emit(
            conversation,
            ev.message(
                self._stamp(conversation, conversation.leaf_event_id, message_id),
                "agent",
                "assistant",
                [ev.text_content(ev.ASK_TEXT)],
                response_id,
            ),
            leaf=True,
        )
        self._set_status(conversation, "finished")
        self._emit(conversation, stats)

    def _fail_run(self, conversation: V1Conversation, code: str, detail: str) -> None:
        self._set_status(conversation, "error")
        self._emit(
            conversation,
            ev.conversation_error(self._stamp(conversation, conversation.leaf_event_id), code, detail),
            leaf=True,
        )

    # ================================================================ sandboxes and deletion
    def _conversations_in(self, sandbox_id: str) -> list[V1Conversation]:
        return [c for c in self.conversations.values() if c.sandbox_id == sandbox_id]

    def pause_sandbox(self, sandbox_id: str) -> bool:
        sandbox = self.sandboxes.get(sandbox_id)
        if sandbox is None:
            return False
        self.scheduler.cancel(sandbox_id, "resume")
        sandbox.status = SANDBOX_PAUSED
        for conversation in self._conversations_in(sandbox_id):
            self.scheduler.suspend(conversation.conversation_id)
        return True

    def resume_sandbox(self, sandbox_id: str) -> bool:
        sandbox = self.sandboxes.get(sandbox_id)
        if sandbox is None:
            return False
        if sandbox.status != SANDBOX_PAUSED:
            return True

        def running() -> None:
            sandbox.status = SANDBOX_RUNNING
            for conversation in self._conversations_in(sandbox_id):
                # The LLM kept answering while the agent was frozen: a step it was waiting
                # for is over as soon as the agent thaws (observed with [fake-llm delay=3]).
                self.scheduler.resume(conversation.conversation_id, waited_outside=("agent",))

        if self.config.sandbox_resume_delay > 0:
            sandbox.status = SANDBOX_STARTING
            self.scheduler.call_later(
                running, owner=sandbox_id, name="resume", delay=self.config.sandbox_resume_delay
            )
        else:
            running()
        return True

    def delete_sandbox(self, sandbox_id: str) -> bool:
        sandbox = self.sandboxes.pop(sandbox_id, None)
        if sandbox is None:
            return False
        self.scheduler.cancel(sandbox_id)
        for conversation in self._conversations_in(sandbox_id):
            self.flush(conversation.conversation_id)
            self.scheduler.cancel(conversation.conversation_id)
        return True

    def set_sandbox_status(self, sandbox_id: str, status: str) -> bool:
        """Test control: put a sandbox into any status (``ERROR``, an archived ``MISSING`` …)."""
        sandbox = self.sandboxes.get(sandbox_id)
        if sandbox is None:
            return False
        if status == SANDBOX_PAUSED:
            return self.pause_sandbox(sandbox_id)
        if status == SANDBOX_RUNNING and sandbox.status == SANDBOX_PAUSED:
            return self.resume_sandbox(sandbox_id)
        sandbox.status = status
        for conversation in self._conversations_in(sandbox_id):
            if status in (SANDBOX_ERROR, SANDBOX_MISSING):
                self.scheduler.suspend(conversation.conversation_id)
            else:
                self.scheduler.resume(conversation.conversation_id)
        return True

    def delete_conversation(self, conversation_id: str) -> bool:
        """Delete the record; the sandbox goes too unless another conversation uses it."""
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return False
        self.flush(conversation_id)
        self.scheduler.cancel(conversation_id)
        del self.conversations[conversation_id]
        if not self._conversations_in(conversation.sandbox_id):
            self.delete_sandbox(conversation.sandbox_id)
        return True

    def update_conversation(self, conversation: V1Conversation, fields: Mapping[str, Any]) -> None:
        """``PATCH``: the fields present in the body, ``null`` included; ``updated_at`` stays."""
        repository_set = "selected_repository" in fields
        repository = fields.get("selected_repository")
        if repository_set and repository is not None:
            if "/" not in repository or repository.count("/") != 1:
                raise ServerCrash  # ValueError in the real service, unhandled by the route
            if any(c in repository for c in ";&|$`\n\r"):
                raise ServerCrash
        if repository_set and repository is None:
            for dependent in ("selected_branch", "git_provider"):
                if fields.get(dependent) is not None:
                    raise ServerCrash
        for name, value in fields.items():
            setattr(conversation, name, value)

    # ================================================================ queries
    def sub_conversation_ids(self, conversation_id: str) -> list[str]:
        return [
            c.conversation_id
            for c in self.conversations.values()
            if c.parent_conversation_id == conversation_id
        ]

    def wire(self, conversation: V1Conversation) -> dict[str, Any]:
        return conversation.wire(
            self.sandboxes.get(conversation.sandbox_id),
            self.sub_conversation_ids(conversation.conversation_id),
            self.dialect,
        )

    def _matches(self, conversation: V1Conversation, filters: Filters) -> bool:
        title = filters.get("title__contains")
        if title is not None and (
            conversation.title is None or not _like(title).fullmatch(conversation.title)
        ):
            return False
        for name, attribute, lower in (
            ("created_at__gte", "created_at", True),
            ("created_at__lt", "created_at", False),
            ("updated_at__gte", "updated_at", True),
            ("updated_at__lt", "updated_at", False),
        ):
            bound = filters.get(name)
            if bound is None:
                continue
            value = _micros(getattr(conversation, attribute))
            limit = _wall_clock(bound)
            if (lower and value < limit) or (not lower and value >= limit):
                return False
        sandbox_id = filters.get("sandbox_id__eq")
        return sandbox_id is None or conversation.sandbox_id == sandbox_id

    def _search(self, filters: Filters, include_sub_conversations: bool) -> list[V1Conversation]:
        found = [
            c
            for c in self.conversations.values()
            if (include_sub_conversations or c.parent_conversation_id is None) and self._matches(c, filters)
        ]
        return sorted(found, key=lambda c: c.created_at, reverse=True)

    def search(
        self, filters: Filters, page_id: str | None, limit: int, include_sub_conversations: bool
    ) -> dict[str, Any]:
        rows, next_page_id = _sql_page(self._search(filters, include_sub_conversations), page_id, limit)
        return {"items": [self.wire(c) for c in rows], "next_page_id": next_page_id}

    def count(self, filters: Filters) -> int:
        return len(self._search(filters, include_sub_conversations=True))

    def search_tasks(
        self,
        conversation_id: str | None,
        created_at_gte: datetime | None,
        sort_order: str,
        page_id: str | None,
        limit: int,
    ) -> dict[str, Any]:
        rows = self._tasks(conversation_id, created_at_gte)
        key = "created_at" if sort_order.startswith("CREATED_AT") else "updated_at"
        rows.sort(key=lambda t: getattr(t, key), reverse=sort_order.endswith("_DESC"))
        page, next_page_id = _sql_page(rows, page_id, limit)
        return {"items": [t.wire() for t in page], "next_page_id": next_page_id}

    def count_tasks(self, conversation_id: str | None, created_at_gte: datetime | None) -> int:
        return len(self._tasks(conversation_id, created_at_gte))

    def _tasks(self, conversation_id: str | None, created_at_gte: datetime | None) -> list[V1StartTask]:
        tasks = list(self.tasks.values())
        if conversation_id is not None:
            tasks = [t for t in tasks if t.app_conversation_id == conversation_id]
        if created_at_gte is not None:
            bound = _wall_clock(created_at_gte)
            tasks = [t for t in tasks if _micros(t.created_at) >= bound]
        return tasks

    def search_sandboxes(self, page_id: str | None, limit: int) -> dict[str, Any]:
        """The process sandbox service's paging: newest first, ``next_page_id`` = end offset."""
        ordered = sorted(self.sandboxes.values(), key=lambda s: s.created_at, reverse=True)
        start = _offset(page_id)
        end = start + limit
        return {
            "items": [s.wire() for s in ordered[start:end]],
            "next_page_id": str(end) if end < len(ordered) else None,
        }

    # ---------------------------------------------------------------- events
    def search_events(
        self,
        conversation_id: str,
        kind: str | None,
        timestamp_gte: datetime | None,
        timestamp_lt: datetime | None,
        descending: bool,
        page_id: str | None,
        limit: int,
    ) -> dict[str, Any]:
        """``EventServiceBase.search_events``: filter, sort by timestamp string, offset page ids."""
        items = self._filtered_events(conversation_id, kind, timestamp_gte, timestamp_lt)
        items.sort(key=lambda e: str(e["timestamp"]), reverse=descending)
        start = 0
        next_page_id = None
        if page_id:
            try:
                start = int(page_id)
            except ValueError as exc:
                raise ServerCrash from exc
            items = items[start:]
        if len(items) > limit:
            next_page_id = str(start + limit)
            items = items[:limit]
        return {"items": items, "next_page_id": next_page_id}

    def count_events(
        self,
        conversation_id: str,
        kind: str | None,
        timestamp_gte: datetime | None,
        timestamp_lt: datetime | None,
    ) -> int:
        return len(self._filtered_events(conversation_id, kind, timestamp_gte, timestamp_lt))

    def _filtered_events(
        self,
        conversation_id: str,
        kind: str | None,
        timestamp_gte: datetime | None,
        timestamp_lt: datetime | None,
    ) -> list[ev.Event]:
        log = self.events.get(conversation_id)
        if log is None:
            return []
        # The real service compares ISO strings, so a bound with a timezone compares oddly
        # ("+00:00" against ".123456"); isoformat() reproduces exactly that.
        gte = timestamp_gte.isoformat() if timestamp_gte else None
        lt = timestamp_lt.isoformat() if timestamp_lt else None
        found = []
        for event in log.delivered:
            stamp = str(event["timestamp"])
            if kind is not None and event["kind"] != kind:
                continue
            if gte is not None and stamp < gte:
                continue
            if lt is not None and stamp >= lt:
                continue
            found.append(event)
        return found

    def batch_events(self, conversation_id: str, event_ids: list[str]) -> list[ev.Event | None]:
        log = self.events.get(conversation_id)
        by_id = {uuid.UUID(str(e["id"])): e for e in (log.delivered if log else [])}
        return [by_id.get(uuid.UUID(event_id)) for event_id in event_ids]

    def download(self, conversation: V1Conversation) -> bytes:
        """The trajectory zip: ``meta.json``, then ``event_NNNNNN_<id>.json`` in timestamp order."""
        log = self.events.get(conversation.conversation_id) or EventLog()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            meta = conversation.meta(self.sub_conversation_ids(conversation.conversation_id), self.dialect)
            archive.writestr("meta.json", json.dumps(meta, indent=2, ensure_ascii=False))
            ordered = sorted(log.delivered, key=lambda e: str(e["timestamp"]))
            for index, event in enumerate(ordered):
                archive.writestr(f"event_{index:06d}_{event['id']}.json", json.dumps(event, indent=2))
        return buffer.getvalue()

    # ---------------------------------------------------------------- the V0 list (generations="both")
    def v0_list_source(
        self, page_id: str | None, limit: int, include_sub_conversations: bool
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The V1 half of 1.6.0's ``GET /api/conversations``: the app-conversation search (with
        the age filter) converted to V0 ``ConversationInfo`` by ``_to_conversation_info``."""
        filters: Filters = {}
        oldest = self.scheduler.now() - self.config.conversation_max_age_seconds
        rows = [c for c in self._search(filters, include_sub_conversations) if c.created_at >= oldest]
        page, next_page_id = _sql_page(rows, page_id, limit)
        return [self.v0_info(c) for c in page], next_page_id

    def v0_info(self, conversation: V1Conversation) -> dict[str, Any]:
        """1.6.0's ``_to_conversation_info``: a V1 conversation as a V0 ``ConversationInfo``."""
        wire = self.wire(conversation)
        status = {
            SANDBOX_RUNNING: "RUNNING",
            SANDBOX_STARTING: "STARTING",
            SANDBOX_PAUSED: "STOPPED",
            SANDBOX_ERROR: "ERROR",
            SANDBOX_MISSING: "ARCHIVED",
        }.get(wire["sandbox_status"], "STOPPED")
        runtime_status = None
        if status == "RUNNING":
            ready = ("idle", "running", "paused", "waiting_for_confirmation", "finished")
            runtime_status = "STATUS$READY" if wire["execution_status"] in ready else "STATUS$ERROR"
        title = conversation.title or f"Conversation {base62(uuid.UUID(conversation.conversation_id).bytes)}"
        return {
            "conversation_id": conversation.conversation_id,
            "title": title,
            "last_updated_at": wire["updated_at"],
            "status": status,
            "runtime_status": runtime_status,
            "selected_repository": conversation.selected_repository,
            "selected_branch": conversation.selected_branch,
            "git_provider": conversation.git_provider,
            "trigger": conversation.trigger,
            "num_connections": 0,
            "url": wire["conversation_url"],
            "session_api_key": wire["session_api_key"],
            "created_at": wire["created_at"],
            "pr_number": list(conversation.pr_number),
            "conversation_version": "V1",
            "sub_conversation_ids": wire["sub_conversation_ids"],
            "public": conversation.public,
            "sandbox_id": conversation.sandbox_id,
        }

    # ---------------------------------------------------------------- control surface
    def snapshot(self) -> dict[str, Any]:
        """A JSON-friendly summary for ``GET /_fake/state``."""
        return {
            "start_calls": self.start_calls,
            "message_calls": self.message_calls,
            "start_tasks": [
                {
                    "id": t.task_id,
                    "status": t.status,
                    "app_conversation_id": t.app_conversation_id,
                    "detail": t.detail,
                }
                for t in self.tasks.values()
            ],
            "conversations": [
                c.summary(
                    self.sandboxes.get(c.sandbox_id),
                    len(self.events.get(c.conversation_id, EventLog()).delivered),
                )
                for c in self.conversations.values()
            ],
            "sandboxes": [{"id": s.sandbox_id, "status": s.status} for s in self.sandboxes.values()],
        }
