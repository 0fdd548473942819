"""Multi-step operations, written once as generators and driven by the sync and async clients.

An operation yields steps (``Call``, ``Sleep``, ``Now``, ``Emit`` from ``http.py``) and
receives each step's result; a failed ``Call`` is thrown into it as the typed exception, so an
operation can decide that a failure is transient (keep polling) or final (stop). The drivers
are the only places that touch the network or the clock.

Operations here, for each generation: paging iterators, ``wait`` (poll until the outcome is
terminal), sending a message to a conversation that may need restarting or resuming first,
reading the result; and detecting which generation a server speaks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

from ..errors import (
    APIStatusError,
    ConflictError,
    ConversationStartError,
    GoneError,
    NotFoundError,
    NotSupportedError,
    OpenHandsError,
    ProtocolError,
    RateLimitError,
    ServerError,
    TransportError,
    WaitTimeoutError,
)
from ..models import (
    AppConversation,
    ConversationInfo,
    ConversationResponse,
    ConversationResult,
    Outcome,
    SentMessage,
    StartTask,
    V0Event,
)
from . import v0, v1
from .http import Call, Emit, Now, Op, Progress, Sleep
from .lifecycle import (
    AgentStateChange,
    Assessment,
    SettleTracker,
    classify_start_task,
    classify_v0,
    classify_v1,
    newest_agent_state,
    refine_v1_finished,
)

T = TypeVar("T")

# Errors a wait rides out: the server may be busy, restarting or behind a flaky proxy.
# Authentication, permission and "no such thing" errors end a wait at once.
TRANSIENT_ERRORS: tuple[type[OpenHandsError], ...] = (
    TransportError,
    ServerError,
    RateLimitError,
    ProtocolError,
)

# How many recent events a V0 wait keeps to find the final message and the cost.
_RECENT_EVENTS = 200
_POLL_PAGE = 20


@dataclass(frozen=True)
class PollPolicy:
    """Polling pace: start at ``interval`` seconds, grow by ``factor`` up to ``max_interval``.

    The defaults keep a wait at two requests per poll and well under the self-hosted
    server's 10 requests/s budget (CONTRACT §1.4, §4.3).
    """

    interval: float = 1.0
    max_interval: float = 5.0
    factor: float = 1.5

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.max_interval < self.interval or self.factor < 1:
            raise ValueError("poll intervals must be positive, max_interval >= interval, factor >= 1")

    def next(self, current: float) -> float:
        return min(self.max_interval, current * self.factor)


CLOUD_POLL = PollPolicy(interval=3.0, max_interval=15.0)
SELF_HOSTED_POLL = PollPolicy(interval=1.0, max_interval=5.0)


# ---------------------------------------------------------------------------- paging


def unique_pages(
    fetch: Callable[[str | None], Call[Any]],
    items: Callable[[Any], list[Any]],
    key: Callable[[Any], str],
) -> Op[None]:
    """Every item of a cursor-paged listing, each once.

    Pages may be short or empty while ``next_page_id`` is set, and the merged V0/V1 paging of
    1.x servers can repeat an item at a page boundary (CONTRACT §2.2, §8): so only a null
    ``next_page_id`` ends the loop, items are de-duplicated by ``key``, and a page id seen
    twice stops the loop with an error instead of spinning forever.
    """
    seen: set[str] = set()
    pages_seen: set[str] = set()
    page_id: str | None = None
    while True:
        call = fetch(page_id)
        page = yield call
        for item in items(page):
            if key(item) not in seen:
                seen.add(key(item))
                yield Emit(item)
        if page.next_page_id is None:
            return
        if page.next_page_id in pages_seen:
            raise ProtocolError(
                f"{call.request.describe()} returned page id {page.next_page_id!r} twice; "
                "stopping to avoid a loop"
            )
        pages_seen.add(page.next_page_id)
        page_id = page.next_page_id


def iter_v0_conversations(*, page_size: int = 20, **filters: Any) -> Op[None]:
    """Every V0 conversation, newest first, following ``next_page_id`` to the end."""
    yield from unique_pages(
        lambda page_id: v0.list_conversations(page_id=page_id, limit=page_size, **filters),
        lambda page: page.results,
        lambda info: info.conversation_id,
    )


def iter_v0_events(
    conversation_id: str,
    *,
    start_id: int = 0,
    end_id: int | None = None,
    reverse: bool = False,
    page_size: int = 100,
) -> Op[None]:
    """Every V0 event from ``start_id`` (oldest first), or from the newest down (``reverse``)."""
    if reverse:
        upper = end_id
        while True:
            page = yield v0.get_events(
                conversation_id, start_id=start_id, end_id=upper, reverse=True, limit=page_size
            )
            for event in page.events:
                yield Emit(event)
            if not page.events or not page.has_more:
                return
            upper = min(e.id for e in page.events) - 1
            if upper < start_id:
                return
    else:
        lower = start_id
        while True:
            page = yield v0.get_events(conversation_id, start_id=lower, end_id=end_id, limit=page_size)
            for event in page.events:
                yield Emit(event)
            if not page.events or not page.has_more:
                return
            lower = max(e.id for e in page.events) + 1


# ---------------------------------------------------------------------------- V0 wait


@dataclass
class V0Tracker:
    """What a V0 wait has learned from the event stream so far.

    ``cursor`` is the newest event id examined; each poll reads only what is newer, newest
    first, paging back until it meets the cursor. ``agent`` is the newest deciding agent state
    newer than ``marker``.
    """

    marker: int = -1
    cursor: int = -1
    agent: AgentStateChange | None = None
    recent: list[V0Event] = field(default_factory=list)

    def absorb(self, events: Sequence[V0Event]) -> None:
        fresh = [e for e in events if e.id > self.cursor]
        if not fresh:
            return
        found = newest_agent_state(fresh, self.marker)
        if found is not None and (self.agent is None or found.event_id > self.agent.event_id):
            self.agent = found
        self.cursor = max(e.id for e in fresh)
        self.recent = sorted([*self.recent, *fresh], key=lambda e: e.id)[-_RECENT_EVENTS:]


def read_new_v0_events(conversation_id: str, tracker: V0Tracker, deadline: float | None) -> Op[None]:
    """One cheap look at the newest events (CONTRACT §4.3): ``reverse=true`` with a small page,
    paging back only until it meets what an earlier poll examined, or finds a deciding state."""
    floor = tracker.cursor
    collected: list[V0Event] = []
    upper: int | None = None
    limit = _POLL_PAGE
    while True:
        page = yield v0.get_events(conversation_id, end_id=upper, reverse=True, limit=limit).with_deadline(
            deadline
        )
        collected.extend(e for e in page.events if e.id > floor)
        if not page.events or not page.has_more:
            break
        oldest = min(e.id for e in page.events)
        if oldest <= floor + 1 or newest_agent_state(collected, tracker.marker) is not None:
            break
        upper = oldest - 1
        limit = v0.MAX_EVENTS_LIMIT
    tracker.absorb(collected)


def observe_v0(
    conversation_id: str, tracker: V0Tracker, deadline: float | None = None
) -> Op[tuple[ConversationInfo | None, Assessment]]:
    """Read the conversation and its newest events once; classify."""
    info = yield v0.get_conversation(conversation_id).with_deadline(deadline)
    if info is not None:
        try:
            yield from read_new_v0_events(conversation_id, tracker, deadline)
        except NotFoundError:
            # Deleted between the two requests: the events route 404s, GET says null.
            info = None
    return info, classify_v0(info, tracker.agent)


def wait_v0(
    conversation_id: str,
    *,
    base_url: str,
    timeout: float,
    poll: PollPolicy,
    marker: int = -1,
) -> Op[ConversationResult]:
    """Poll until the outcome is terminal; raise WaitTimeoutError when ``timeout`` runs out.

    Transient failures (connection trouble, 5xx, 429, HTML pages) are ridden out within the
    timeout; authentication and permission errors end the wait at once.
    """
    started = yield Now()
    deadline = started + timeout
    tracker = V0Tracker(marker=marker, cursor=marker)
    interval = poll.interval
    last: ConversationResult | None = None
    last_error: OpenHandsError | None = None
    while True:
        try:
            info, assessment = yield from observe_v0(conversation_id, tracker, deadline)
        except TRANSIENT_ERRORS as exc:
            if isinstance(exc, APIStatusError) and exc.status_code in (401, 403):
                raise
            last_error = exc
        else:
            last_error = None
            if info is None:
                return gone_result(conversation_id, base_url, assessment)
            last = v0_result(info, assessment, tracker.recent, base_url)
            if assessment.outcome.is_terminal:
                return last
            yield Progress(last)
        now = yield Now()
        remaining = deadline - now
        if remaining <= 0:
            state = f"last seen: {last.outcome.value}" if last else "no answer yet"
            if last_error is not None:
                state += f"; last error: {last_error}"
            raise WaitTimeoutError(
                f"Conversation {conversation_id} did not reach an outcome within {timeout:g}s "
                f"({state}). It may still be running: wait again, or stop it.",
                conversation_id=conversation_id,
                timeout=timeout,
                last=last,
            )
        yield Sleep(min(interval, remaining))
        interval = poll.next(interval)


def v0_result(
    info: ConversationInfo, assessment: Assessment, events: Sequence[V0Event], base_url: str
) -> ConversationResult:
    conversation = v0.to_conversation(info, base_url=base_url, assessment=assessment, events=events)
    final = v0.final_message(events) if assessment.outcome.succeeded else None
    return ConversationResult(
        conversation_id=info.conversation_id,
        outcome=assessment.outcome,
        detail=assessment.detail,
        final_message=final,
        pr_numbers=list(info.pr_number),
        web_url=conversation.web_url,
        conversation=conversation,
    )


def gone_result(conversation_id: str, base_url: str, assessment: Assessment) -> ConversationResult:
    from ..models import Conversation  # local: only this rare path needs it

    url = v0.web_url(base_url, conversation_id)
    conversation = Conversation(
        id=conversation_id,
        api_version="v0",
        web_url=url,
        runtime="gone",
        outcome=Outcome.GONE,
        outcome_detail=assessment.detail,
    )
    return ConversationResult(
        conversation_id=conversation_id,
        outcome=Outcome.GONE,
        detail=assessment.detail,
        web_url=url,
        conversation=conversation,
    )


def get_v0(conversation_id: str, *, base_url: str) -> Op[ConversationResult]:
    """One observation of a conversation with its outcome (no waiting)."""
    tracker = V0Tracker()
    info, assessment = yield from observe_v0(conversation_id, tracker)
    if info is None:
        return gone_result(conversation_id, base_url, assessment)
    return v0_result(info, assessment, tracker.recent, base_url)


# ---------------------------------------------------------------------------- V0 messages


def newest_event_id(conversation_id: str) -> Op[int]:
    page = yield v0.get_events(conversation_id, reverse=True, limit=1)
    return max((e.id for e in page.events), default=-1)


def ensure_running_v0(conversation_id: str, *, timeout: float, poll: PollPolicy) -> Op[ConversationInfo]:
    """Make sure the runtime runs (a STOPPED conversation refuses messages with 500).

    After ``/start`` the server appends ``awaiting_user_input`` a moment after the status turns
    RUNNING; waiting for that state keeps it from being mistaken for the answer to the next
    message.
    """
    started = yield Now()
    deadline = started + timeout
    info: ConversationInfo | None = yield v0.get_conversation(conversation_id)
    if info is None:
        raise not_found(conversation_id)
    if info.status == "RUNNING":
        return info
    before = yield from newest_event_id(conversation_id)
    if info.status != "STARTING":
        yield v0.start_conversation(conversation_id)
    tracker = V0Tracker(marker=before, cursor=before)
    interval = poll.interval
    last_error: OpenHandsError | None = None
    while True:
        # A server busy starting a runtime may answer slowly or not at all for a while, and
        # the requests' own timeouts shrink to the deadline: ride that out like a wait does.
        try:
            info, _ = yield from observe_v0(conversation_id, tracker, deadline)
        except TRANSIENT_ERRORS as exc:
            last_error = exc
        else:
            last_error = None
            if info is None:
                raise not_found(conversation_id)
            if info.status == "RUNNING" and tracker.agent is not None:
                return info
            if info.status == "STOPPED":
                # The new session is registered before /start answers, so STOPPED now means
                # the server closed it again (on 1.6.0: a newer conversation took the slot of
                # the three it runs, or the runtime failed); waiting longer would never end.
                raise ConversationStartError(
                    f"Conversation {conversation_id} stopped again while its runtime was starting; "
                    "the server may be running too many conversations. Start it again later.",
                    conversation_id=conversation_id,
                )
            if info.status in ("ERROR", "ARCHIVED"):
                raise NotFoundError(
                    f"Conversation {conversation_id} cannot be restarted (status {info.status})",
                    status_code=404,
                    method="POST",
                    path=f"{v0.BASE}/{conversation_id}/start",
                )
        now = yield Now()
        if now >= deadline:
            state = f" (last error: {last_error})" if last_error is not None else ""
            raise WaitTimeoutError(
                f"Conversation {conversation_id} did not start running within {timeout:g}s{state}",
                conversation_id=conversation_id,
                timeout=timeout,
            )
        yield Sleep(min(interval, deadline - now))
        interval = poll.next(interval)


def send_message_v0(
    conversation_id: str, message: str, *, start_timeout: float, poll: PollPolicy
) -> Op[SentMessage]:
    """Send a follow-up, restarting a stopped runtime first; return the wait marker."""
    call = v0.send_message(conversation_id, message)  # validates before any request
    yield from ensure_running_v0(conversation_id, timeout=start_timeout, poll=poll)
    marker = yield from newest_event_id(conversation_id)
    yield call
    return SentMessage(conversation_id=conversation_id, marker=marker)


def not_found(conversation_id: str) -> NotFoundError:
    return NotFoundError(
        f"Conversation {conversation_id} does not exist (unknown id, or deleted)",
        status_code=404,
        method="GET",
        path=f"{v0.BASE}/{conversation_id}",
    )


# ---------------------------------------------------------------------------- small combinators


def map_emitted(op: Op[T], convert: Callable[[Any], Any]) -> Op[T]:
    """The same operation with every emitted item passed through ``convert``."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = op.throw(error) if error is not None else op.send(value)
        except StopIteration as stop:
            return cast(T, stop.value)
        value, error = None, None
        if isinstance(step, Emit):
            yield Emit(convert(step.item))
            continue
        try:
            value = yield step
        except OpenHandsError as exc:
            error = exc


def delete_v0(conversation_id: str) -> Op[bool]:
    """Delete; a conversation still STARTING answers one 500 (after ~10 s) and then stops, so
    the delete is tried once more (CONTRACT §2.2, §7.3). A ready runtime races too: on 1.6.0
    the DELETE closes the session, whose runtime close already dropped the runtime from the
    local registry, so the runtime delete fails (``KeyError`` in ``LocalRuntime.delete``) and
    answers 500, with the conversation stopped but still listed (6 of 20 DELETEs in one CI
    run's server log). The second attempt finds nothing left to close and completes it."""
    try:
        deleted = yield v0.delete_conversation(conversation_id)
    except ServerError:
        deleted = yield v0.delete_conversation(conversation_id)
    return bool(deleted)


# ---------------------------------------------------------------------------- version detection


def detect_version(*, is_cloud: bool) -> Op[str]:
    """Which generation the server speaks: ``"v0"`` or ``"v1"`` (CONTRACT §1.6).

    Cloud speaks only V1 (no probe). Elsewhere two cheap GETs: a server that answers both is a
    1.0–1.6.0 server, whose V1 surface lacks send-message and delete, so V0 is chosen there.
    """
    if is_cloud:
        return "v1"
    has_v1 = yield v1.probe()
    has_v0 = yield v0.probe()
    if has_v0:
        return "v0"
    if has_v1:
        return "v1"
    raise NotSupportedError(
        "This server speaks neither OpenHands API: GET /api/v1/app-conversations/search and "
        "GET /api/conversations both answered 404, 405 or a web page. Is the base URL the "
        "OpenHands server (e.g. http://localhost:3000 or https://app.all-hands.dev)?"
    )


# ---------------------------------------------------------------------------- V1


def get_v1_conversation(conversation_id: str) -> Op[AppConversation | None]:
    items = yield v1.get_conversations([conversation_id])
    return cast("AppConversation | None", items[0])


def get_v1_start_task(task_id: str) -> Op[StartTask | None]:
    items = yield v1.get_start_tasks([task_id])
    return cast("StartTask | None", items[0])


def resolve_v1(ref: str) -> Op[tuple[AppConversation | None, StartTask | None]]:
    """A conversation id or a start-task id → the conversation, or else the start task."""
    conversation = yield from get_v1_conversation(ref)
    if conversation is not None:
        return conversation, None
    task = yield from get_v1_start_task(ref)
    return None, task


def follow_start_task(task: StartTask, *, deadline: float, poll: PollPolicy) -> Op[StartTask]:
    """Poll a start task until READY; ERROR raises ConversationStartError with the server's
    detail; running out of time raises WaitTimeoutError (the start may still complete)."""
    interval = poll.interval
    current: StartTask | None = task
    while True:
        if current is None:
            raise not_found(task.id)
        verdict = classify_start_task(current)
        if verdict is None:
            return current
        if verdict.outcome is Outcome.FAILED:
            raise ConversationStartError(
                f"The conversation failed to start: {current.detail or 'no detail given'}",
                start_task_id=current.id,
                detail=current.detail,
            )
        now = yield Now()
        if now >= deadline:
            raise WaitTimeoutError(
                f"Start task {task.id} is still {current.status} after the start timeout; it may "
                "still complete: wait for it again, or look it up later",
                conversation_id=task.id,
                timeout=0.0,
            )
        yield Sleep(min(interval, max(0.0, deadline - now)))
        interval = poll.next(interval)
        current = yield from patiently(
            get_v1_start_task(task.id), deadline=deadline, poll=poll, fallback=current
        )


def patiently(read: Op[T], *, deadline: float, poll: PollPolicy, fallback: T) -> Op[T]:
    """Run a read; when it fails transiently, return ``fallback`` so that the caller's polling
    loop simply tries again next round (until its own deadline). Used while following
    something that is known to exist, where one garbled answer must not end the operation."""
    now = yield Now()
    try:
        return (yield from read)
    except TRANSIENT_ERRORS:
        if now >= deadline:
            raise
        return fallback


def create_v1(
    body: dict[str, Any], *, attempts: int, start_timeout: float, poll: PollPolicy
) -> Op[tuple[StartTask | None, AppConversation]]:
    """Start a V1 conversation exactly once and follow its start task to READY.

    ``body`` carries a client-chosen ``conversation_id`` (the server honours it), which makes
    a lost answer easy to resolve: the conversation, or a start task whose request names that
    id, either exists or provably does not. Only then is the request sent again — with the same
    id, so a late first request and the resend cannot make two conversations.
    """
    conversation_id = str(body["conversation_id"])
    started = yield Now()
    deadline = started + start_timeout
    tries = 0
    while True:
        try:
            task: StartTask = yield v1.start_conversation(body)
        except OpenHandsError as exc:
            if not is_ambiguous(exc):
                raise
            tries += 1
            try:
                found_task, found = yield from find_v1_start(conversation_id, poll=poll)
            except CreateUndecided:
                exc.message = (
                    f"{exc.message} The conversation may have been created (id {conversation_id}): "
                    "look it up before trying again."
                )
                exc.args = (exc.message,)
                raise exc from None
            if found is not None:
                return found_task, found
            if found_task is None:
                if tries > attempts:
                    raise
                continue
            task = found_task
        try:
            ready = yield from follow_start_task(task, deadline=deadline, poll=poll)
        except ConversationStartError:
            # A resend that collided with a late first request fails to start; the first one
            # is then the conversation.
            existing = yield from get_v1_conversation(conversation_id)
            if existing is None or tries == 0:
                raise
            return task, existing
        conversation = None
        while conversation is None:
            conversation = yield from patiently(
                get_v1_conversation(ready.app_conversation_id or conversation_id),
                deadline=deadline,
                poll=poll,
                fallback=None,
            )
            if conversation is None:
                now = yield Now()
                if now >= deadline:
                    break
                yield Sleep(poll.interval)
        if conversation is None:
            raise ProtocolError(
                f"Start task {ready.id} is READY but conversation {ready.app_conversation_id} is not found"
            )
        return ready, conversation


def find_v1_start(
    conversation_id: str, *, poll: PollPolicy, looks: int = 3
) -> Op[tuple[StartTask | None, AppConversation | None]]:
    """After a lost create: the conversation with our id, or the start task that asked for it.

    Looked for a few times a poll interval apart, because the server may still be writing the
    start task down when the answer was lost; a look that fails transiently does not count as
    "absent" — if no look succeeds, CreateUndecided."""
    answered = False
    for look in range(looks * 3):
        try:
            conversation = yield from get_v1_conversation(conversation_id)
            if conversation is not None:
                return None, conversation
            page = yield v1.search_start_tasks(limit=20)
        except TRANSIENT_ERRORS:
            page = None
        if page is not None:
            answered = True
            for task in page.items:
                requested = (task.request or {}).get("conversation_id")
                if isinstance(requested, str) and requested.replace("-", "").lower() == conversation_id:
                    return task, None
            looks -= 1
            if looks <= 0:
                break
        yield Sleep(poll.interval * (1 + look))
    if not answered:
        raise CreateUndecided("the server did not answer the lookup")
    return None, None


def last_known_execution_status(conversation_id: str) -> Op[str | None]:
    """L: the newest execution status in the events, for when the live value is null."""
    page = yield v1.search_events(
        conversation_id, kind="ConversationStateUpdateEvent", newest_first=True, limit=50
    )
    for event in page.items:
        data = event.model_extra or {}
        if data.get("key") == "execution_status" and isinstance(data.get("value"), str):
            return str(data["value"])
        if data.get("key") == "full_state" and isinstance(data.get("value"), dict):
            status = data["value"].get("execution_status")
            if isinstance(status, str):
                return status
    return None


def newest_error_detail(conversation_id: str) -> Op[str | None]:
    page = yield v1.search_events(conversation_id, kind="ConversationErrorEvent", newest_first=True, limit=1)
    for event in page.items:
        data = event.model_extra or {}
        detail = data.get("detail") or data.get("code")
        if isinstance(detail, str) and detail:
            return detail
    return None


def final_answer_v1(conversation_id: str) -> Op[tuple[str | None, str | None]]:
    """The current turn's answer from the newest events: (text, "finish" | "message")."""
    page = yield v1.search_events(conversation_id, newest_first=True, limit=50)
    return v1.final_answer(page.items)


# How long a wait that saw a successful end keeps looking for the agent's answer in the app
# server's copy of the events, which lags the live status (agent-server webhooks).
ANSWER_GRACE = 5.0


# Live statuses that may be the previous turn's right after an action (see SettleTracker).
SETTLE_CANDIDATES = frozenset({"finished", "idle", "error", "stuck", "waiting_for_confirmation", "paused"})


def newest_user_message_id(conversation_id: str) -> Op[str | None]:
    """The id of the newest user ``MessageEvent`` in the app server's copy of the events."""
    page = yield v1.search_events(conversation_id, kind="MessageEvent", newest_first=True, limit=10)
    for event in page.items:
        if event.source == "user":
            return str(event.id)
    return None


def new_turn_confirmed(conversation_id: str, status: str, settle: SettleTracker) -> Op[bool]:
    """Do the events prove that ``status`` was reached after the caller's message?

    Newest first, an ``execution_status`` update to ``status`` must come before (i.e. after in
    time) a user message that is not the one that was newest before the action. The app
    server's events lag the live status, so "no" often just means "not yet".
    """
    page = yield v1.search_events(conversation_id, newest_first=True, limit=50)
    status_seen = False
    for event in page.items:
        data = event.model_extra or {}
        if event.kind == "ConversationStateUpdateEvent" and data.get("key") == "execution_status":
            status_seen = status_seen or data.get("value") == status
        elif event.kind == "MessageEvent" and event.source == "user":
            return status_seen and event.id != settle.before_message_id
    return False


def observe_v1(conversation: AppConversation, settle: SettleTracker, now: float) -> Op[Assessment]:
    """Classify one read of a conversation, fetching L or the error detail only when needed."""
    last_known = None
    if conversation.execution_status is None and conversation.sandbox_status in ("PAUSED", "MISSING"):
        last_known = yield from last_known_execution_status(conversation.id)
    settled = settle.observe(conversation.execution_status, now)
    status = conversation.execution_status
    if (
        not settled
        and settle.acted
        and status in SETTLE_CANDIDATES
        and (yield from new_turn_confirmed(conversation.id, status, settle))
    ):
        settle.confirm()
        settled = True
    assessment = classify_v1(conversation, last_known=last_known, settled=settled)
    if assessment.outcome is Outcome.FAILED and (
        conversation.execution_status in ("error", "stuck") or last_known in ("error", "stuck")
    ):
        detail = yield from newest_error_detail(conversation.id)
        if detail:
            assessment = classify_v1(
                conversation, last_known=last_known, settled=settled, error_detail=detail
            )
    return assessment


def v1_result(
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


def start_failed_result(
    task: StartTask | None, ref: str, base_url: str, assessment: Assessment
) -> ConversationResult:
    from ..models import Conversation

    url = v0.web_url(base_url, ref)
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


def wait_v1(
    ref: str,
    *,
    base_url: str,
    timeout: float,
    poll: PollPolicy,
    settle: SettleTracker,
) -> Op[ConversationResult]:
    """Poll a V1 conversation (or its start task) until the outcome is terminal.

    Each poll is one batch GET (plus a start-task GET while starting, and an events read only
    when the live status is null or the run failed). Transient failures are ridden out.
    """
    started = yield Now()
    deadline = started + timeout
    interval = poll.interval
    conversation_id: str | None = None
    task_id: str | None = None
    ended_at: float | None = None
    last: ConversationResult | None = None
    last_error: OpenHandsError | None = None
    while True:
        try:
            if conversation_id is None:
                conversation, task = yield from resolve_v1(task_id or ref)
                if conversation is None:
                    verdict = classify_start_task(task)
                    if verdict is not None:
                        if verdict.outcome.is_terminal:
                            return start_failed_result(task, ref, base_url, verdict)
                        task_id = task.id if task else None
                        conversation = None
                    elif task is not None and task.app_conversation_id:
                        task_id = task.id
                        conversation_id = task.app_conversation_id
                        conversation = yield from get_v1_conversation(conversation_id)
                else:
                    conversation_id = conversation.id
            else:
                conversation = yield from get_v1_conversation(conversation_id)
            if conversation_id is not None:
                now = yield Now()
                if conversation is None:
                    gone = classify_v1(None)
                    return start_failed_result(None, conversation_id, base_url, gone)
                assessment = yield from observe_v1(conversation, settle, now)
                final = None
                if assessment.outcome.is_terminal and assessment.outcome.succeeded:
                    final, answered_with = yield from final_answer_v1(conversation.id)
                    assessment = refine_v1_finished(assessment, answered_with)
                    ended_at = now if ended_at is None else ended_at
                    if final is None and now - ended_at < ANSWER_GRACE:
                        assessment = replace(assessment, outcome=Outcome.IN_PROGRESS)
                last = v1_result(
                    conversation, assessment, base_url=base_url, start_task_id=task_id, final=final
                )
                if assessment.outcome.is_terminal:
                    return last
                yield Progress(last)
            last_error = None
        except TRANSIENT_ERRORS as exc:
            last_error = exc
        now = yield Now()
        remaining = deadline - now
        if remaining <= 0:
            state = f"last seen: {last.outcome.value}" if last else "still starting"
            if last_error is not None:
                state += f"; last error: {last_error}"
            raise WaitTimeoutError(
                f"Conversation {conversation_id or ref} did not reach an outcome within {timeout:g}s "
                f"({state}). It may still be running: wait again, or stop it.",
                conversation_id=conversation_id or ref,
                timeout=timeout,
                last=last,
            )
        yield Sleep(min(interval, remaining))
        interval = poll.next(interval)


def get_v1(ref: str, *, base_url: str) -> Op[ConversationResult]:
    """One observation of a V1 conversation (or start task) with its outcome."""
    conversation, task = yield from resolve_v1(ref)
    if conversation is None:
        verdict = classify_start_task(task)
        if verdict is None and task is not None and task.app_conversation_id:
            conversation = yield from get_v1_conversation(task.app_conversation_id)
            if conversation is None:
                raise not_found(ref)
        else:
            if task is None:
                raise not_found(ref)
            return start_failed_result(task, ref, base_url, verdict or classify_v1(None))
    now = yield Now()
    assessment = yield from observe_v1(conversation, SettleTracker(), now)
    final = None
    if assessment.outcome.succeeded:
        final, answered_with = yield from final_answer_v1(conversation.id)
        assessment = refine_v1_finished(assessment, answered_with)
    return v1_result(
        conversation, assessment, base_url=base_url, start_task_id=task.id if task else None, final=final
    )


def running_sandbox(conversation_id: str, *, timeout: float, poll: PollPolicy) -> Op[AppConversation]:
    """Resume a paused sandbox and wait until it runs (send-message never resumes it)."""
    started = yield Now()
    conversation = yield from get_v1_conversation(conversation_id)
    if conversation is None:
        raise not_found(conversation_id)
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
    if conversation.sandbox_status == "PAUSED":
        yield v1.resume_sandbox(conversation.sandbox_id)
    interval = poll.interval
    while True:
        now = yield Now()
        if now - started >= timeout:
            raise WaitTimeoutError(
                f"The sandbox of conversation {conversation_id} did not start running within {timeout:g}s",
                conversation_id=conversation_id,
                timeout=timeout,
            )
        yield Sleep(interval)
        interval = poll.next(interval)
        conversation = yield from get_v1_conversation(conversation_id)
        if conversation is None:
            raise not_found(conversation_id)
        if conversation.sandbox_status == "RUNNING":
            return conversation


def send_message_v1(
    conversation_id: str, message: str, *, resume: bool, start_timeout: float, poll: PollPolicy
) -> Op[SentMessage]:
    """``send-message``; on 409 (sandbox paused) with ``resume``: resume, wait, send again.

    The execution status before sending is kept in the receipt, so a later wait can tell the
    previous turn's ``finished`` from this one's (see lifecycle.SettleTracker)."""
    call = v1.send_message(conversation_id, message)  # validates before any request
    before = yield from get_v1_conversation(conversation_id)
    if before is None:
        raise not_found(conversation_id)
    previous_message = yield from newest_user_message_id(conversation_id)
    if before.sandbox_status != "RUNNING" and resume:
        before = yield from running_sandbox(conversation_id, timeout=start_timeout, poll=poll)
    try:
        yield from route_required(call, "send-message")
    except ConflictError:
        if not resume:
            raise
        before = yield from running_sandbox(conversation_id, timeout=start_timeout, poll=poll)
        yield call
    return SentMessage(
        conversation_id=before.id,
        execution_status=before.execution_status,
        previous_message_id=previous_message,
    )


def iter_v1_conversations(*, page_size: int = 100, **filters: Any) -> Op[None]:
    """Every V1 conversation, newest first, following ``next_page_id`` to the end."""
    yield from unique_pages(
        lambda page_id: v1.search_conversations(page_id=page_id, limit=page_size, **filters),
        lambda page: page.items,
        lambda item: item.id,
    )


def iter_v1_events(
    conversation_id: str, *, newest_first: bool = False, page_size: int = 100, **filters: Any
) -> Op[None]:
    page_id: str | None = None
    while True:
        page = yield v1.search_events(
            conversation_id, newest_first=newest_first, page_id=page_id, limit=page_size, **filters
        )
        for event in page.items:
            yield Emit(event)
        if page.next_page_id is None or not page.items:
            return
        page_id = page.next_page_id


def delete_v1(conversation_id: str) -> Op[bool]:
    """Delete; False if there was no such conversation (as V0's DELETE answers)."""
    try:
        yield from route_required(v1.delete_conversation(conversation_id), "DELETE /app-conversations/{id}")
    except NotFoundError:
        return False
    return True


def route_required(call: Call[Any], name: str) -> Op[Any]:
    """Send ``call``; a server without that route (openhands-ai 1.0–1.6.0 serve V1 without
    send-message and delete) answers 405, or 404 with FastAPI's bare "Not Found", which
    becomes a NotSupportedError that says what to do instead."""
    try:
        result = yield call
    except APIStatusError as exc:
        if exc.status_code == 405 or (exc.status_code == 404 and exc.detail == "Not Found"):
            raise NotSupportedError(
                f"This server's V1 API has no {name} route (openhands-ai 1.0–1.6.0 lack it); "
                "use its V0 API instead: api_version='v0' (CLI: --api-version v0)"
            ) from None
        raise
    return result


def pause_v1(conversation_id: str, *, resume: bool) -> Op[None]:
    """V1 has no stop route: stop = pause the sandbox, resume = resume it (CONTRACT §5.4)."""
    conversation = yield from get_v1_conversation(conversation_id)
    if conversation is None:
        raise not_found(conversation_id)
    if not conversation.sandbox_id:
        raise GoneError(
            f"Conversation {conversation_id} has no sandbox",
            status_code=410,
            method="POST",
            path=f"{v1.API}/sandboxes",
        )
    if resume:
        yield v1.resume_sandbox(conversation.sandbox_id)
    else:
        yield v1.pause_sandbox(conversation.sandbox_id)


# ---------------------------------------------------------------------------- exactly-once create

# How far back a lookup looks for a conversation made by a request whose answer was lost;
# generous, because the server's clock and ours may differ.
LOOKUP_WINDOW = 600.0


def is_ambiguous(exc: OpenHandsError) -> bool:
    """True when a failed create may nevertheless have been carried out by the server, so that
    it must be looked up before it is sent again: the connection broke or timed out after
    sending, the server failed (5xx: a gateway may have passed it on, an app may have failed
    after writing), or the answer was garbled (HTML, cut or wrongly shaped JSON)."""
    if isinstance(exc, TransportError):
        return exc.request_sent
    if isinstance(exc, ProtocolError):
        return True
    return isinstance(exc, APIStatusError) and exc.status_code >= 500


class CreateUndecided(OpenHandsError):
    """Internal: a lookup could not tell yet whether a lost create happened."""


def create_v0(
    body: dict[str, Any],
    *,
    known: set[str],
    attempts: int,
    lookup_timeout: float,
    poll: PollPolicy,
) -> Op[str]:
    """``POST /api/conversations`` exactly once; the new conversation's id.

    When the answer is lost after the request may have arrived, the request is not simply
    sent again: the newest conversations are searched for one this client did not know about
    whose first user message is ours. Found: that is the answer. Provably absent: send again
    (at most ``attempts`` times). Undecidable within ``lookup_timeout`` (a candidate still
    starting, its message not recorded yet): raise the original error, which says the
    conversation may exist — never risk a second one.
    """
    message = body["initial_user_msg"]
    tries = 0
    while True:
        sent_at = yield Now(wall=True)
        try:
            response: ConversationResponse = yield v0.create_conversation(body)
        except OpenHandsError as exc:
            if not is_ambiguous(exc):
                raise
            tries += 1
            try:
                found = yield from find_v0_conversation(
                    message, since=sent_at - LOOKUP_WINDOW, known=known, timeout=lookup_timeout, poll=poll
                )
            except CreateUndecided:
                exc.message = (
                    f"{exc.message} The conversation may have been created: look for it before "
                    "trying again (openhands-api could not tell within the lookup time)."
                )
                exc.args = (exc.message,)
                raise exc from None
            if found is not None:
                known.add(found)
                return found
            if tries > attempts:
                raise
            continue
        known.add(response.conversation_id)
        return response.conversation_id


def find_v0_conversation(
    message: str, *, since: float, known: set[str], timeout: float, poll: PollPolicy
) -> Op[str | None]:
    """The id of a recent conversation, unknown to this client, whose first user message is
    ``message``; None when provably there is none; CreateUndecided when it cannot tell in time.

    The lookup's own reads may hit the same trouble that lost the create's answer: transient
    failures are ridden out until ``timeout`` like a wait does."""
    started = yield Now()
    interval = poll.interval
    while True:
        try:
            found, pending = yield from _look_for_v0_conversation(message, since=since, known=known)
        except TRANSIENT_ERRORS:
            found, pending = None, True
        if found is not None or not pending:
            return found
        now = yield Now()
        if now - started >= timeout:
            raise CreateUndecided("a conversation that may be ours is still starting")
        yield Sleep(interval)
        interval = poll.next(interval)


def _look_for_v0_conversation(message: str, *, since: float, known: set[str]) -> Op[tuple[str | None, bool]]:
    """One look: (the matching id or None, whether some candidate could not be checked yet).

    Pages through every conversation created since ``since`` — not just the first page: many
    creates in flight at once can push ours past it."""
    pending = False
    page_id: str | None = None
    while True:
        page = yield v0.list_conversations(page_id=page_id, limit=100)
        for info in page.results:
            if info.conversation_id in known:
                continue
            if info.created_at is not None and info.created_at.timestamp() < since:
                continue
            events = yield v0.get_events(info.conversation_id, limit=10)
            first = next((e for e in events.events if e.source == "user" and e.action == "message"), None)
            if first is None:
                # The first message is recorded once the runtime is up; until then, undecided.
                pending = pending or info.status in ("STARTING", "RUNNING")
                continue
            if first.args.get("content") == message:
                return str(info.conversation_id), False
        oldest = min(
            (i.created_at.timestamp() for i in page.results if i.created_at is not None), default=None
        )
        if (
            page.next_page_id is None
            or page.next_page_id == page_id
            or (oldest is not None and oldest < since)
        ):
            return None, pending
        page_id = page.next_page_id


def get_v1_conversations_batched(ids: Sequence[str]) -> Op[list[AppConversation | None]]:
    """``GET ?ids=`` for any number of ids: split into calls of at most 99, order kept."""
    out: list[AppConversation | None] = []
    for start in range(0, len(ids), v1.MAX_BATCH_IDS):
        items = yield v1.get_conversations(ids[start : start + v1.MAX_BATCH_IDS])
        out.extend(items)
    return out


def get_v1_start_tasks_batched(ids: Sequence[str]) -> Op[list[StartTask | None]]:
    """``GET …/start-tasks?ids=`` for any number of ids, at most 100 per call."""
    out: list[StartTask | None] = []
    for start in range(0, len(ids), v1.MAX_START_TASK_IDS):
        items = yield v1.get_start_tasks(ids[start : start + v1.MAX_START_TASK_IDS])
        out.extend(items)
    return out


def iter_v1_sandboxes(*, page_size: int = 100) -> Op[None]:
    page_id: str | None = None
    while True:
        page = yield v1.search_sandboxes(page_id=page_id, limit=page_size)
        for sandbox in page.items:
            yield Emit(sandbox)
        if page.next_page_id is None or not page.items:
            return
        page_id = page.next_page_id
