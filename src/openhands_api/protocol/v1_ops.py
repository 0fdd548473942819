"""The V1 generation (``/api/v1/…``: OpenHands Cloud, openhands-ai ≥ 1.7): every operation of
the :class:`~.generation.Generation` interface, written as generators over the routes in
``v1.py``.

How V1 is read: a create returns a *start task*, followed until READY (then the conversation
exists) or ERROR. One conversation is read through the batch route ``GET ?ids=``; its
``sandbox_status`` and ``execution_status`` go to :mod:`.lifecycle`, which also says when the
events must be asked for more (the last known status of a paused sandbox, a failure's detail,
proof that a status belongs to the caller's turn). There is no stop: stop and resume pause and
resume the sandbox, and a paused sandbox refuses messages (409) until resumed.

Exactly-once create: the client chooses the conversation id (the server honours it), so a lost
answer is resolved by asking for that id — the conversation, or a start task whose request
names it — and a resend reuses the id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

from ..errors import (
    APIStatusError,
    ConflictError,
    ConversationStartError,
    GoneError,
    NotFoundError,
    NotSupportedError,
    OpenHandsError,
    ProtocolError,
    WaitTimeoutError,
)
from ..models import AppConversation, Conversation, ConversationResult, SentMessage, StartTask, StartTaskPage
from . import v1
from .generation import (
    LOOKUP_WINDOW,
    SILENT_LOOKUP_LIMIT,
    CreateUndecided,
    Generation,
    NewConversation,
    absence_settle,
    is_ambiguous,
    not_found,
    undecided,
    wait_timed_out,
)
from .http import Call, Emit, Now, Op, Progress, Sleep, web_url
from .lifecycle import (
    Assessment,
    SettleTracker,
    classify_start_task,
    classify_v1,
    error_detail,
    events_prove_new_turn,
    last_known_execution_status,
    needs_error_detail,
    needs_last_known,
    with_answer,
)
from .listing import ListQuery, filtered
from .live import SocketTarget, socket_address
from .polling import TRANSIENT_ERRORS, PollPolicy, count_emitted, cursor_pages, unique_pages, until
from .streaming import EventSource, Since, between_polls, follow, v1_since
from .v1_live import live_turn
from .validation import validate_id, validate_title

_OCCUPYING = frozenset({"STARTING", "RUNNING"})  # sandboxes that hold compute

# ---------------------------------------------------------------------------- reads and paging


def conversation_lookup_path(conversation_id: str) -> str:
    """What is asked to read one conversation (there is no GET by path, CONTRACT §5.2)."""
    return f"{v1.CONVERSATIONS}?ids={v1.conversation_id_hex(conversation_id)}"


def get_conversation(conversation_id: str) -> Op[AppConversation | None]:
    items = yield v1.get_conversations([conversation_id])
    return cast("AppConversation | None", items[0])


def get_start_task(task_id: str) -> Op[StartTask | None]:
    items = yield v1.get_start_tasks([task_id])
    return cast("StartTask | None", items[0])


def existing_conversation(conversation_id: str) -> Op[AppConversation]:
    conversation = yield from get_conversation(conversation_id)
    if conversation is None:
        raise not_found(conversation_id, "GET", conversation_lookup_path(conversation_id))
    return conversation


def get_conversations_batched(ids: Sequence[str]) -> Op[list[AppConversation | None]]:
    """``GET ?ids=`` for any number of ids: split into calls of at most 99, order kept."""
    out: list[AppConversation | None] = []
    for start in range(0, len(ids), v1.MAX_BATCH_IDS):
        items = yield v1.get_conversations(ids[start : start + v1.MAX_BATCH_IDS])
        out.extend(items)
    return out


def get_start_tasks_batched(ids: Sequence[str]) -> Op[list[StartTask | None]]:
    """``GET …/start-tasks?ids=`` for any number of ids, at most 100 per call."""
    out: list[StartTask | None] = []
    for start in range(0, len(ids), v1.MAX_START_TASK_IDS):
        items = yield v1.get_start_tasks(ids[start : start + v1.MAX_START_TASK_IDS])
        out.extend(items)
    return out


def iter_v1_conversations(*, page_size: int = 100, **filters: Any) -> Op[None]:
    """Every V1 conversation (``AppConversation``), newest first, to the end."""
    yield from unique_pages(
        lambda page_id: v1.search_conversations(page_id=page_id, limit=page_size, **filters),
        lambda page: page.items,
        lambda item: item.id,
    )


def iter_v1_events(
    conversation_id: str,
    *,
    newest_first: bool = False,
    page_size: int = 100,
    unified: bool = False,
    **filters: Any,
) -> Op[None]:
    """Every V1 event as the server pages them: the ``V1Event``, or with ``unified`` the
    :class:`~openhands_api.models.Event` (:func:`.v1.page_events`)."""
    yield from cursor_pages(
        lambda page_id: v1.search_events(
            conversation_id, newest_first=newest_first, page_id=page_id, limit=page_size, **filters
        ),
        v1.page_events if unified else None,
    )


class V1PolledEvents(EventSource):
    """A V1 conversation's events after a cursor: the newest timestamp read. The search is in
    timestamp order and has no "after" filter, only ``timestamp__gte``: each read asks from
    the cursor's timestamp on and skips the events already emitted at that very timestamp
    (event ids are UUIDs, not ordered), so ties cost a re-read, never a gap. ``since`` is a
    time (the first read starts there) or an event id (events are skipped up to and
    including it; NotFoundError if the history does not hold it).

    The event search answers an empty page for an unknown id, and keeps a deleted
    conversation's events: the conversation itself is asked first. The app server's copy of
    the events lags the live status (webhooks, CONTRACT §5.3); a stream ends at the outcome
    the wait decides, which already gives the answer's events a moment (ANSWER_GRACE); an
    event copied later still is not waited for (a later ``iter_events`` shows it)."""

    def __init__(self, conversation_id: str, since: Since) -> None:
        self.conversation_id = conversation_id
        self.after_event, start = v1_since(since)
        self.cursor: str | datetime | None = start
        self.at_cursor: set[str] = set()  # the ids emitted (or skipped) at the cursor's timestamp
        self._checked = False
        # Events a live stream emitted meanwhile (v1_live): a read after it skips them.
        self.pushed_ids: set[str] = set()
        # Every event read here, emitted or skipped: a live stream's replay skips them.
        self.read_ids: set[str] = set()
        self.start = start

    def resume_point(self) -> tuple[str | None, set[str]]:
        """Where a live stream takes over: the newest timestamp read (as the server writes
        it), and the ids already emitted at it."""
        cursor = self.cursor
        return (v1._iso(cursor) if isinstance(cursor, datetime) else cursor), set(self.at_cursor)

    def pushed(self, event_id: str) -> None:
        self.pushed_ids.add(event_id)

    def knows(self, event_id: str, timestamp: str | None) -> bool:
        """Whether a replayed event is not to be emitted again: already read here (emitted,
        or skipped as older than ``since``), pushed before, or older than the start."""
        if event_id in self.read_ids or event_id in self.pushed_ids:
            return True
        if self.after_event is not None:
            return True  # ``since`` an event id not yet reached: everything until it is skipped
        start = self.start
        if start is None or timestamp is None:
            return False
        bound = v1._iso(start) if isinstance(start, datetime) else start
        return bound is not None and timestamp < bound

    def read(self) -> Op[None]:
        if not self._checked:
            yield from existing_conversation(self.conversation_id)
            self._checked = True
        start, page_id = self.cursor, None
        while True:
            page = yield v1.search_events(
                self.conversation_id, timestamp_gte=start, page_id=page_id, limit=v1.MAX_LIMIT
            )
            for wire, event in zip(page.items, v1.page_events(page), strict=True):
                self.read_ids.add(event.id)
                if wire.timestamp is not None and wire.timestamp != self.cursor:
                    self.cursor, self.at_cursor = wire.timestamp, set()
                if event.id in self.at_cursor:
                    continue
                self.at_cursor.add(event.id)
                if event.id in self.pushed_ids:
                    continue
                if self.after_event is not None:
                    if event.id == self.after_event:
                        self.after_event = None
                    continue
                yield Emit(event)
            if page.next_page_id is None or not page.items:
                break
            page_id = page.next_page_id
        if self.after_event is not None:
            raise NotFoundError(
                f"Conversation {self.conversation_id} has no event {self.after_event}",
                status_code=404,
                method="GET",
                path=f"{v1.API}/conversation/{v1.conversation_id_hex(self.conversation_id)}/events/search",
            )


def iter_v1_sandboxes(*, page_size: int = 100) -> Op[None]:
    yield from cursor_pages(lambda page_id: v1.search_sandboxes(page_id=page_id, limit=page_size))


def route_required(call: Call[Any], name: str) -> Op[Any]:
    """Send ``call``; a server without that route (openhands-ai 1.0–1.6.0 serve V1 without
    send-message and delete) answers 405, or 404 with FastAPI's bare "Not Found", which
    becomes a NotSupportedError that says what to do instead."""
    try:
        result = yield call
    except APIStatusError as exc:
        if exc.status_code == 405 or (exc.status_code == 404 and exc.detail == "Not Found"):
            raise NotSupportedError(
                f"This server's V1 API has no {name} route (openhands-ai 1.0–1.6.0 lack it)",
                remedy="Use its V0 API instead: {api_version:v0}",
            ) from None
        raise
    return result


def send_message_resuming(
    conversation_id: str, message: str, *, resume: bool, start_timeout: float, poll: PollPolicy
) -> Op[SentMessage]:
    """``send-message``; on 409 (sandbox paused) with ``resume``: resume, wait, send again.

    The execution status before sending is kept in the receipt, so a later wait can tell the
    previous turn's ``finished`` from this one's (see lifecycle.SettleTracker)."""
    call = v1.send_message(conversation_id, message)  # validates before any request
    before = yield from existing_conversation(conversation_id)
    previous_message = yield from newest_user_message_id(conversation_id)
    if before.sandbox_status != "RUNNING" and resume:
        before = yield from running_sandbox(before, timeout=start_timeout, poll=poll)
    try:
        yield from route_required(call, "send-message")
    except ConflictError:
        if not resume:
            raise
        # The sandbox stopped running after it was read: read it again, so that it is resumed.
        current = yield from existing_conversation(conversation_id)
        before = yield from running_sandbox(current, timeout=start_timeout, poll=poll)
        yield call
    return SentMessage(
        conversation_id=before.id,
        execution_status=before.execution_status,
        previous_message_id=previous_message,
    )


def running_sandbox(
    conversation: AppConversation, *, timeout: float, poll: PollPolicy
) -> Op[AppConversation]:
    """Resume a paused sandbox and wait until it runs (send-message never resumes it)."""
    conversation_id = conversation.id
    if conversation.sandbox_status == "RUNNING":
        return conversation
    if conversation.sandbox_status in ("MISSING", "ERROR") or not conversation.sandbox_id:
        raise GoneError(
            f"The sandbox of conversation {conversation_id} is {conversation.sandbox_status}; "
            "it cannot be resumed",
            status_code=410,
            method="POST",
            path=f"{v1.API}/sandboxes/{conversation.sandbox_id}/resume",
        )
    started = yield Now()
    if conversation.sandbox_status == "PAUSED":
        yield v1.resume_sandbox(conversation.sandbox_id)

    def check() -> Op[AppConversation | None]:
        current = yield from existing_conversation(conversation_id)
        return current if current.sandbox_status == "RUNNING" else None

    def timed_out(error: OpenHandsError | None) -> OpenHandsError:
        state = f" (last error: {error})" if error is not None else ""
        return WaitTimeoutError(
            f"The sandbox of conversation {conversation_id} did not start running within {timeout:g}s{state}",
            conversation_id=conversation_id,
            timeout=timeout,
        )

    running = yield from until(
        check, deadline=started + timeout, poll=poll, timed_out=timed_out, first_delay=poll.interval
    )
    return running


def newest_user_message_id(conversation_id: str) -> Op[str | None]:
    """The id of the newest user ``MessageEvent`` in the app server's copy of the events."""
    page = yield v1.search_events(conversation_id, kind="MessageEvent", newest_first=True, limit=10)
    for event in page.items:
        if event.source == "user":
            return str(event.id)
    return None


# ---------------------------------------------------------------------------- classifying


def assess(conversation: AppConversation, settle: SettleTracker, now: float) -> Op[Assessment]:
    """Classify one read of a conversation, fetching from the events only what
    :mod:`.lifecycle` says is needed."""
    last_known = None
    if needs_last_known(conversation):
        page = yield v1.search_events(
            conversation.id, kind="ConversationStateUpdateEvent", newest_first=True, limit=50
        )
        last_known = last_known_execution_status(page.items)
    status = conversation.execution_status
    settled = settle.observe(status, now)
    if settle.wants_proof(status, settled):
        proven = yield from proves_new_turn(conversation.id, str(status), settle.before_message_id)
        if proven:
            settle.confirm()
            settled = True
    assessment = classify_v1(conversation, last_known=last_known, settled=settled)
    if needs_error_detail(assessment, conversation, last_known):
        page = yield v1.search_events(
            conversation.id, kind="ConversationErrorEvent", newest_first=True, limit=1
        )
        detail = error_detail(page.items)
        if detail:
            assessment = classify_v1(
                conversation, last_known=last_known, settled=settled, error_detail=detail
            )
    return assessment


def look_once(conversation: AppConversation) -> Op[tuple[Assessment, str | None]]:
    """One look at a conversation just read: its outcome now and, when the turn ended well,
    the agent's answer. Events are read only when :mod:`.lifecycle` needs them: a paused or
    gone sandbox (did the run end before?), a failure (its error), a good end (the answer,
    which tells a finished turn from a question to the user: two reads)."""
    now = yield Now()
    assessment = yield from assess(conversation, SettleTracker(), now)
    final = None
    if assessment.outcome.succeeded:
        final, answered_with = yield from final_answer(conversation.id)
        assessment = with_answer(assessment, answered_with, has_answer=final is not None, ended_for=None)
    return assessment, final


# How many of the newest ``MessageEvent``s are read to find the current turn's user message
# or answer: in practice the newest one or two; a few more cover agent messages without text.
NEWEST_MESSAGES = 5


def proves_new_turn(conversation_id: str, status: str, before_message_id: str | None) -> Op[bool]:
    """Do the events prove that ``status`` was reached after the caller's message?

    Only the kinds that can prove it are read, never the newest events of every kind: those
    hold the ``full_state`` update that ends each run, which grows with every LLM call. First
    the newest user message; only once it is a new one, ``finished`` is proven by an answer
    after it (the reads of :func:`final_answer`), any other status by a state update to it
    from that message on (:func:`~.lifecycle.events_prove_new_turn`, oldest first: the run's
    own ``full_state`` comes last)."""
    messages = yield v1.search_events(
        conversation_id, kind="MessageEvent", newest_first=True, limit=NEWEST_MESSAGES
    )
    newest_user = next((e for e in messages.items if e.source == "user"), None)
    if newest_user is None or newest_user.id == before_message_id or not newest_user.timestamp:
        return False
    if status == "finished":
        actions = yield v1.search_events(conversation_id, kind="ActionEvent", newest_first=True, limit=1)
        return v1.final_answer([*messages.items, *actions.items])[0] is not None
    updates = yield v1.search_events(
        conversation_id, kind="ConversationStateUpdateEvent", timestamp_gte=newest_user.timestamp, limit=50
    )
    return events_prove_new_turn([*reversed(updates.items), newest_user], status, before_message_id)


def final_answer(conversation_id: str) -> Op[tuple[str | None, str | None]]:
    """The current turn's answer: (text, "finish" | "message"), or (None, None).

    Only the two kinds that can hold an answer are asked for, each newest first: the newest
    ``ActionEvent`` (a run ends at its finish call, so a finish is the newest action of its
    turn) and the newest few ``MessageEvent``s (an agent's text answer, or the user message
    that opened the turn). Reading the newest events of every kind instead would download the
    ``full_state`` update that ends each run, which grows with every LLM call (about 1.6 MB
    after 5,000 steps): these two reads cost the same whatever the conversation's length."""
    messages = yield v1.search_events(
        conversation_id, kind="MessageEvent", newest_first=True, limit=NEWEST_MESSAGES
    )
    actions = yield v1.search_events(conversation_id, kind="ActionEvent", newest_first=True, limit=1)
    return v1.final_answer([*messages.items, *actions.items])


def to_result(
    conversation: AppConversation,
    assessment: Assessment,
    *,
    base_url: str,
    start_task_id: str | None,
    final: str | None,
) -> ConversationResult:
    unified = v1.to_conversation(
        conversation,
        base_url=base_url,
        start_task_id=start_task_id,
        outcome=assessment.outcome,
        outcome_detail=assessment.detail,
        agent_state=assessment.agent_state,
    )
    return ConversationResult(
        conversation_id=conversation.id,
        outcome=assessment.outcome,
        detail=assessment.detail,
        final_message=final,
        pr_numbers=list(conversation.pr_number),
        web_url=unified.web_url,
        conversation=unified,
    )


def without_conversation(
    task: StartTask | None, ref: str, base_url: str, assessment: Assessment
) -> ConversationResult:
    """The result when there is no conversation to show: a start task that failed or is
    still going, or an id that is gone. Its page is the conversation's that the task starts
    (the id the client chose, or the server's once READY): a task id has no page."""
    url = web_url(base_url, page_id(task) or ref)
    conversation = Conversation(
        id=ref,
        api_version="v1",
        web_url=url,
        start_task_id=task.id if task else None,
        runtime=assessment.runtime,
        outcome=assessment.outcome,
        outcome_detail=assessment.detail,
        raw=task.model_dump(mode="json", exclude={"request"}) if task else {},
    )
    return ConversationResult(
        conversation_id=ref,
        outcome=assessment.outcome,
        detail=assessment.detail,
        web_url=url,
        conversation=conversation,
    )


def page_id(task: StartTask | None) -> str | None:
    """The id of the conversation a start task starts, when known: the server's once READY,
    before that the one the create asked for (this client always chooses one)."""
    if task is None:
        return None
    return task.app_conversation_id or requested_id(task)


def requested_id(task: StartTask) -> str | None:
    """The conversation id the create that made ``task`` asked for (its echoed request)."""
    chosen = (task.request or {}).get("conversation_id")
    return chosen if isinstance(chosen, str) and chosen else None


def ready_or_none(task: StartTask) -> StartTask | None:
    """The task if READY, None while it is still going; ConversationStartError on ERROR."""
    verdict = classify_start_task(task)
    if verdict is None:
        return task
    if verdict.outcome.is_terminal:
        raise ConversationStartError(
            f"The conversation failed to start: {task.detail or 'no detail given'}",
            start_task_id=task.id,
            detail=task.detail,
        )
    return None


class _Watch:
    """The state of one V1 wait: what ``ref`` turned out to be, and when the turn ended."""

    def __init__(self, ref: str, settle: SettleTracker, base_url: str) -> None:
        self.ref = ref
        self.settle = settle
        self.base_url = base_url
        self.conversation_id: str | None = None
        self.task_id: str | None = None
        self.ended_at: float | None = None
        self.last: ConversationResult | None = None
        self.conversation: AppConversation | None = None  # as the last look saw it

    def socket_target(self) -> SocketTarget | None:
        """Where the conversation's events are pushed, as the last look saw it (None unless
        its sandbox runs: the address and the key are null otherwise)."""
        conversation = self.conversation
        if conversation is None or conversation.sandbox_status != "RUNNING":
            return None
        address = socket_address(conversation.conversation_url, self.base_url)
        if address is None:
            return None
        key = conversation.session_api_key
        return SocketTarget(address, key.get_secret_value() if key is not None else "")

    def poll_once(self) -> Op[ConversationResult | None]:
        """One poll: the result when terminal, else None (after a Progress snapshot)."""
        conversation: AppConversation | None = None
        if self.conversation_id is None:
            conversation = yield from get_conversation(self.task_id or self.ref)
            if conversation is not None:
                self.conversation_id = conversation.id
            else:
                task = yield from get_start_task(self.task_id or self.ref)
                verdict = classify_start_task(task)
                if verdict is not None:
                    if verdict.outcome.is_terminal:
                        return without_conversation(task, self.ref, self.base_url, verdict)
                    self.task_id = task.id if task else None
                    self.last = without_conversation(task, self.ref, self.base_url, verdict)
                    yield Progress(self.last)
                    return None  # still starting
                if task is not None and task.app_conversation_id:
                    self.task_id = task.id
                    self.conversation_id = task.app_conversation_id
                    conversation = yield from get_conversation(self.conversation_id)
        else:
            conversation = yield from get_conversation(self.conversation_id)
        if self.conversation_id is None:
            return None
        now = yield Now()
        if conversation is None:
            return without_conversation(None, self.conversation_id, self.base_url, classify_v1(None))
        self.conversation = conversation
        assessment = yield from assess(conversation, self.settle, now)
        final = None
        if assessment.outcome.is_terminal and assessment.outcome.succeeded:
            final, answered_with = yield from final_answer(conversation.id)
            self.ended_at = now if self.ended_at is None else self.ended_at
            assessment = with_answer(
                assessment, answered_with, has_answer=final is not None, ended_for=now - self.ended_at
            )
        self.last = to_result(
            conversation, assessment, base_url=self.base_url, start_task_id=self.task_id, final=final
        )
        if assessment.outcome.is_terminal:
            return self.last
        yield Progress(self.last)
        return None


def nothing() -> Op[None]:
    """An operation that does nothing (a look's Progress steps dropped, when following)."""
    return
    yield


# ---------------------------------------------------------------------------- lookups


def asked_for(task: StartTask, request: NewConversation, exclude: frozenset[str]) -> bool:
    """Whether ``task``'s echoed start request is ``request``'s: the same prompt (the text
    of its initial message) and repository, and neither its conversation nor the id it asked
    for is in ``exclude``."""
    asked = task.request or {}
    own = (task.app_conversation_id, asked.get("conversation_id"))
    ids = {str(i).replace("-", "").lower() for i in own if i}
    if ids & {i.replace("-", "").lower() for i in exclude}:
        return False
    if asked.get("selected_repository") != request.repository:
        return False
    message = asked.get("initial_message") or {}
    content = message.get("content") if isinstance(message, dict) else None
    texts = [
        part.get("text") for part in content or [] if isinstance(part, dict) and part.get("type") == "text"
    ]
    return texts[:1] == [request.prompt]


# ---------------------------------------------------------------------------- the generation


class V1Generation(Generation):
    version = "v1"
    history_format = "zip"  # meta.json + one file per event
    chooses_conversation_id = True  # create takes a conversation_id (hex) the client chose
    self_hosted_running_limit = None  # no fixed limit known; Cloud refuses over its cap (429)

    # ------------------------------------------------------------------ create

    def create(self, request: NewConversation, *, start_timeout: float | None = None) -> Op[Conversation]:
        """Start a V1 conversation exactly once and follow its start task to READY (within
        ``start_timeout``, default the client's; a Progress snapshot of the task after each
        look that found it starting); the title, which the start request does not set
        (1.11.0 ignores it there), is set after."""
        if request.title is not None:
            validate_title(request.title)
        options = dict(request.options)
        # A client-chosen id makes a create whose answer was lost resolvable.
        options.setdefault("conversation_id", uuid.uuid4().hex)
        body = v1.create_body(
            request.prompt,
            title=request.title,
            repository=request.repository,
            branch=request.branch,
            git_provider=request.git_provider,
            image_urls=request.image_urls,
            conversation_instructions=request.conversation_instructions,
            **options,
        )
        timeout = self.context.start_timeout if start_timeout is None else start_timeout
        task, created = yield from self._start_exactly_once(body, timeout)
        if request.title is not None and created.title != request.title:
            created = yield v1.update_conversation(created.id, title=request.title)
        return v1.to_conversation(
            created, base_url=self.context.base_url, start_task_id=task.id if task else None
        )

    def _start_exactly_once(
        self, body: dict[str, Any], timeout: float
    ) -> Op[tuple[StartTask | None, AppConversation]]:
        """``body`` carries the client-chosen ``conversation_id``: after a lost answer the
        conversation, or a start task whose request names that id, either exists or provably
        does not. Only then is the request sent again — with the same id, so a late first
        request and the resend cannot make two conversations."""
        conversation_id = str(body["conversation_id"])
        started = yield Now()
        deadline = started + timeout
        tries = 0
        while True:
            sent_at = yield Now(wall=True)
            try:
                task: StartTask = yield v1.start_conversation(body)
            except OpenHandsError as exc:
                if not is_ambiguous(exc):
                    raise
                tries += 1
                try:
                    found_task, found = yield from self._find_started(
                        conversation_id,
                        since=sent_at - LOOKUP_WINDOW,
                        settle=absence_settle(exc, self.context.request_timeout),
                    )
                except CreateUndecided:
                    how = f"look for it (openhands-api get {conversation_id}, or get_conversation())"
                    raise undecided(exc, how) from None
                if found is not None:
                    return found_task, found
                if found_task is None:
                    if tries > self.context.max_resends:
                        raise
                    continue
                task = found_task
            try:
                ready = yield from self._follow_start_task(task, deadline=deadline, timeout=timeout)
            except ConversationStartError:
                # A resend that collided with a late first request fails to start; the first one
                # is then the conversation.
                existing = yield from get_conversation(conversation_id)
                if existing is None or tries == 0:
                    raise
                return task, existing

            conversation = yield from self._conversation_of(ready, conversation_id, deadline=deadline)
            return ready, conversation

    def _conversation_of(
        self, ready: StartTask, conversation_id: str, *, deadline: float
    ) -> Op[AppConversation]:
        """The conversation of a READY start task (the batch read may lag the task a moment)."""
        wanted = ready.app_conversation_id or conversation_id

        def appeared() -> Op[AppConversation | None]:
            conversation = yield from get_conversation(wanted)
            return conversation

        def missing(error: OpenHandsError | None) -> OpenHandsError:
            return ProtocolError(f"Start task {ready.id} is READY but conversation {wanted} is not found")

        conversation = yield from until(
            appeared, deadline=deadline, poll=self.context.poll, timed_out=missing
        )
        return conversation

    def _follow_start_task(self, task: StartTask, *, deadline: float, timeout: float) -> Op[StartTask]:
        """Poll a start task until READY, with a Progress snapshot of it (its id, outcome
        ``in_progress``, its status as the detail) after each look that found it starting;
        ERROR raises ConversationStartError with the server's detail; running out of time
        raises WaitTimeoutError (``conversation_id`` the task's id, ``last`` the last
        snapshot: the start may still complete)."""
        base_url = self.context.base_url
        latest = [task]

        def snapshot(current: StartTask) -> ConversationResult:
            return without_conversation(
                current, current.id, base_url, classify_start_task(current) or classify_v1(None)
            )

        def look() -> Op[StartTask | None]:
            fresh = yield from get_start_task(task.id)
            if fresh is None:
                raise not_found(task.id, "GET", f"{v1.CONVERSATIONS}/start-tasks?ids={task.id}")
            latest[0] = fresh
            ready = ready_or_none(fresh)
            if ready is None:
                yield Progress(snapshot(fresh))
            return ready

        def timed_out(error: OpenHandsError | None) -> OpenHandsError:
            return WaitTimeoutError(
                f"Start task {task.id} is still {latest[0].status} after the start timeout "
                f"({timeout:g}s); it may still complete: look it up later",
                conversation_id=task.id,
                timeout=timeout,
                last=snapshot(latest[0]),
            )

        if ready_or_none(task) is not None:
            return task
        yield Progress(snapshot(task))
        ready = yield from until(
            look,
            deadline=deadline,
            poll=self.context.poll,
            timed_out=timed_out,
            first_delay=self.context.poll.interval,
        )
        return ready

    def find_created(
        self,
        request: NewConversation,
        *,
        since: float,
        conversation_id: str | None,
        exclude: frozenset[str],
    ) -> Op[Conversation | None]:
        """The conversation a create sent at ``since`` by another process made: by the id it
        chose (``conversation_id``: the conversation, or the start task that asked for it), or
        else the one start task since then whose request has our prompt and repository and is
        not in ``exclude``. A start task found not yet READY is followed to READY."""
        now = yield Now(wall=True)
        # A create that reached the server just before its sender died may still be in progress
        # there: absence counts only once a request sent at ``since`` would have been answered.
        settle = max(0.0, since + self.context.request_timeout - now)
        window = since - LOOKUP_WINDOW
        wanted = v1.conversation_id_hex(conversation_id) if conversation_id is not None else None
        if wanted is not None:
            task, found = yield from self._find_started(wanted, since=window, settle=settle)
        else:
            task, found = yield from self._find_started(
                None, since=window, settle=settle, matches=lambda t: asked_for(t, request, exclude)
            )
        if task is None and found is None:
            return None
        if found is None:
            assert task is not None
            started = yield Now()
            deadline = started + self.context.start_timeout
            task = yield from self._follow_start_task(
                task, deadline=deadline, timeout=self.context.start_timeout
            )
            requested = wanted or requested_id(task) or ""
            found = yield from self._conversation_of(task, requested, deadline=deadline)
        if request.title is not None and found.title != request.title:
            found = yield v1.update_conversation(found.id, title=request.title)
        return v1.to_conversation(
            found, base_url=self.context.base_url, start_task_id=task.id if task else None
        )

    def _find_started(
        self,
        conversation_id: str | None,
        *,
        since: float,
        settle: float,
        matches: Callable[[StartTask], bool] | None = None,
    ) -> Op[tuple[StartTask | None, AppConversation | None]]:
        """After a lost create: the conversation with our id, or the start task that asked for
        it (or, without an id, the one start task that ``matches``), among every task created
        since ``since`` (wall clock, paged back to it — with many creates in flight, ours can
        be far from the newest). Several start tasks that match: CreateUndecided.

        "Absent" is believed only after the lookup has looked for ``settle`` seconds since the
        failure (:func:`~.generation.absence_settle`: a request whose answer timed out may
        still reach the server, which would then take the resend's start over the first
        one's), with at least two looks when it must settle.
        A look that fails does not count; when no look has been answered for
        ``SILENT_LOOKUP_LIMIT`` seconds, CreateUndecided."""
        if conversation_id is not None:
            wanted = conversation_id

            def matches(task: StartTask) -> bool:
                requested = requested_id(task)
                return requested is not None and requested.replace("-", "").lower() == wanted

        assert matches is not None
        poll = self.context.poll
        started = yield Now()
        answered_at = started
        absent = 0
        interval = poll.interval
        while True:
            now = yield Now()
            try:
                if conversation_id is not None:
                    conversation = yield from get_conversation(conversation_id)
                    if conversation is not None:
                        return None, conversation
                tasks = yield from self._start_tasks_where(matches, since=since)
            except TRANSIENT_ERRORS:
                if now - answered_at >= SILENT_LOOKUP_LIMIT:
                    raise CreateUndecided("the server does not answer the lookup") from None
            else:
                answered_at = now
                if len(tasks) > 1 and conversation_id is None:
                    raise CreateUndecided("several start tasks could be the one looked for")
                if tasks:
                    return tasks[0], None
                absent += 1
                if now - started >= settle and (absent >= 2 or settle == 0):
                    return None, None
            if now - started >= self.context.start_timeout:
                raise CreateUndecided("the start could not be found or ruled out in time")
            yield Sleep(interval)
            interval = poll.next(interval)

    def _start_tasks_where(
        self, matches: Callable[[StartTask], bool], *, since: float
    ) -> Op[list[StartTask]]:
        """The start tasks created since ``since`` that ``matches``, newest first."""
        created_after = datetime.fromtimestamp(since, tz=timezone.utc)
        found: list[StartTask] = []
        page_id: str | None = None
        while True:
            page: StartTaskPage = yield v1.search_start_tasks(
                created_at_gte=created_after, page_id=page_id, limit=100
            )
            found.extend(task for task in page.items if matches(task))
            if page.next_page_id is None or not page.items or page.next_page_id == page_id:
                return found
            page_id = page.next_page_id

    # ------------------------------------------------------------------ reading

    def observe(self, conversation_id: str) -> Op[ConversationResult]:
        """A conversation id or a start-task id → its outcome now."""
        base_url = self.context.base_url
        task: StartTask | None = None
        conversation = yield from get_conversation(conversation_id)
        if conversation is None:
            task = yield from get_start_task(conversation_id)
            verdict = classify_start_task(task)
            if verdict is None and task is not None and task.app_conversation_id:
                conversation = yield from existing_conversation(task.app_conversation_id)
            else:
                if task is None:
                    raise not_found(conversation_id, "GET", conversation_lookup_path(conversation_id))
                return without_conversation(task, conversation_id, base_url, verdict or classify_v1(None))
        assessment, final = yield from look_once(conversation)
        return to_result(
            conversation, assessment, base_url=base_url, start_task_id=task.id if task else None, final=final
        )

    def result(self, conversation_id: str) -> Op[ConversationResult]:
        result = yield from self.observe(conversation_id)
        return result

    def wait(
        self,
        conversation_id: str,
        *,
        timeout: float,
        after: SentMessage | None,
        poll: PollPolicy,
        started: float | None = None,
        live: bool = False,
    ) -> Op[ConversationResult]:
        """Poll a V1 conversation (or its start task) until the outcome is terminal; with
        ``live``, wait on the agent server's event stream instead (``v1_live``), looking
        only when its events call for it, and polling if it cannot be opened.

        Each poll is one batch GET (plus a start-task GET while starting, and an events read
        only when :mod:`.lifecycle` needs one). Transient failures are ridden out."""
        validate_id(conversation_id)
        settle = (
            SettleTracker.after_message(after.execution_status, after.previous_message_id)
            if after is not None
            else SettleTracker()
        )
        watch = _Watch(conversation_id, settle, self.context.base_url)

        def timed_out(error: OpenHandsError | None) -> OpenHandsError:
            return wait_timed_out(watch.conversation_id or conversation_id, timeout, watch.last, error)

        if started is None:
            started = yield Now()
        deadline = started + timeout
        if not live:
            result = yield from until(watch.poll_once, deadline=deadline, poll=poll, timed_out=timed_out)
            return result
        result = yield from live_turn(
            conversation_id,
            look=watch.poll_once,
            target=watch.socket_target,
            deadline=deadline,
            poll=poll,
            timed_out=timed_out,
            poll_instead=lambda: until(
                watch.poll_once, deadline=deadline, poll=poll, timed_out=timed_out, first_delay=poll.interval
            ),
            snapshot=lambda: watch.last,
        )
        return result

    def stream_events(
        self,
        conversation_id: str,
        *,
        since: Since,
        timeout: float,
        poll: PollPolicy,
        started: float,
        live: bool = False,
    ) -> Op[ConversationResult]:
        """Over the agent server's WebSocket when ``live`` allows (``v1_live``): the REST
        history, then the pushed events from its newest timestamp on, each once; polling
        (``streaming.follow``) otherwise, or from where the socket left off."""
        if not live:
            result = yield from super().stream_events(
                conversation_id, since=since, timeout=timeout, poll=poll, started=started
            )
            return result
        validate_id(conversation_id)
        source = V1PolledEvents(conversation_id, since)
        watch = _Watch(conversation_id, SettleTracker(), self.context.base_url)
        deadline = started + timeout

        def timed_out(error: OpenHandsError | None) -> OpenHandsError:
            return wait_timed_out(watch.conversation_id or conversation_id, timeout, watch.last, error)

        def look() -> Op[ConversationResult | None]:
            return between_polls(watch.poll_once(), nothing)

        def poll_instead() -> Op[ConversationResult]:
            # ``follow`` reads the source at each Progress of the polls: the look's own steps.
            turn = until(
                watch.poll_once, deadline=deadline, poll=poll, timed_out=timed_out, first_delay=poll.interval
            )
            return follow(source, turn, deadline=deadline)

        result = yield from live_turn(
            conversation_id,
            look=look,
            target=watch.socket_target,
            deadline=deadline,
            poll=poll,
            timed_out=timed_out,
            poll_instead=poll_instead,
            history=source,
        )
        return result

    def iter_conversations(
        self, *, page_size: int, filters: dict[str, Any], query: ListQuery | None = None
    ) -> Op[None]:
        """The V1 search. The server filters the creation and update times; the rest is
        checked here. A search item carries its sandbox and execution status, so every row
        has the outcome they decide, at no cost. With ``query.with_outcome`` a row is decided
        as ``get_conversation`` decides it (:func:`look_once`): no request for a running or
        starting turn, one events read for a failure or a paused or gone sandbox, two for a
        turn that ended well (finished, or a question to the user?), three at most."""
        query = query or ListQuery()
        base_url = self.context.base_url
        server_filters = dict(filters)
        if query.created_since is not None:
            server_filters.setdefault("created_at__gte", query.created_since)
        if query.updated_since is not None:
            server_filters.setdefault("updated_at__gte", query.updated_since)

        def with_assessment(item: AppConversation, assessment: Assessment) -> Conversation:
            return v1.to_conversation(
                item,
                base_url=base_url,
                outcome=assessment.outcome,
                outcome_detail=assessment.detail,
                agent_state=assessment.agent_state,
            )

        def unified(item: AppConversation) -> Conversation:
            return with_assessment(item, classify_v1(item))

        def decide(item: AppConversation) -> Op[Conversation]:
            assessment, _final = yield from look_once(item)
            return with_assessment(item, assessment)

        yield from filtered(
            iter_v1_conversations(page_size=page_size, **server_filters), query, unified, decide
        )

    def iter_events(self, conversation_id: str, *, reverse: bool, page_size: int) -> Op[None]:
        """The event search answers an empty page for an unknown id, and keeps a deleted
        conversation's events: the conversation itself is asked first."""
        yield from existing_conversation(conversation_id)
        yield from iter_v1_events(conversation_id, newest_first=reverse, page_size=page_size, unified=True)

    def event_source(self, conversation_id: str, *, since: Since) -> EventSource:
        validate_id(conversation_id)
        return V1PolledEvents(conversation_id, since)

    # ------------------------------------------------------------------ messages

    def send_message(self, conversation_id: str, message: str, *, resume: bool) -> Op[SentMessage]:
        sent = yield from send_message_resuming(
            conversation_id,
            message,
            resume=resume,
            start_timeout=self.context.start_timeout,
            poll=self.context.poll,
        )
        return sent

    # ------------------------------------------------------------------ managing

    def _sandbox_of(self, conversation_id: str) -> Op[str]:
        conversation = yield from existing_conversation(conversation_id)
        if not conversation.sandbox_id:
            raise GoneError(
                f"Conversation {conversation_id} has no sandbox",
                status_code=410,
                method="GET",
                path=conversation_lookup_path(conversation_id),
            )
        return conversation.sandbox_id

    def stop(self, conversation_id: str) -> Op[None]:
        """V1 has no stop route: the sandbox is paused (CONTRACT §5.4)."""
        sandbox_id = yield from self._sandbox_of(conversation_id)
        yield v1.pause_sandbox(sandbox_id)

    def resume(self, conversation_id: str) -> Op[None]:
        sandbox_id = yield from self._sandbox_of(conversation_id)
        yield v1.resume_sandbox(sandbox_id)

    def delete(self, conversation_id: str) -> Op[bool]:
        """Delete; False if there was no such conversation (as V0's DELETE answers)."""
        try:
            yield from route_required(
                v1.delete_conversation(conversation_id), "DELETE /app-conversations/{id}"
            )
        except NotFoundError:
            return False
        return True

    def set_title(self, conversation_id: str, title: str) -> Op[None]:
        yield v1.update_conversation(conversation_id, title=title)

    def count_running(self) -> Op[int]:
        """The sandboxes that are up or coming up (STARTING, RUNNING): what holds compute."""
        return count_emitted(iter_v1_sandboxes(page_size=100), lambda sandbox: sandbox.status in _OCCUPYING)

    def download_history(self, conversation_id: str, destination: Path) -> Op[Path]:
        """The server's zip (``meta.json`` + one file per event), streamed to disk."""
        yield v1.download_conversation(conversation_id, destination)
        return destination

    def download_workspace(self, conversation_id: str, destination: Path) -> Op[Path]:
        """None to be had: the V1 app server (openhands-ai 1.11.0) has no route for the
        workspace's files as a whole; only the sandbox's agent server archives a directory
        (``/api/file/archive``), at its own URL and with the sandbox's session key, which this
        client does not reach. Refused before any request."""
        validate_id(conversation_id)
        raise NotSupportedError(
            "this server offers no workspace download (V1): its API has no route for the "
            "workspace's files as a whole",
        )
        yield  # an operation, like the others  # pragma: no cover
