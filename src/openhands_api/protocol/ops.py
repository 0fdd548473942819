"""Multi-step operations, written once as generators and driven by the sync and async clients.

An operation yields steps (``Call``, ``Sleep``, ``Now``, ``Emit`` from ``http.py``) and
receives each step's result; a failed ``Call`` is thrown into it as the typed exception, so an
operation can decide that a failure is transient (keep polling) or final (stop). The drivers
are the only places that touch the network or the clock.

Operations here: paging iterators, ``wait`` (poll until the outcome is terminal), sending a
message to a conversation that may need restarting first, and reading the result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from ..errors import (
    APIStatusError,
    NotFoundError,
    OpenHandsError,
    ProtocolError,
    RateLimitError,
    ServerError,
    TransportError,
    WaitTimeoutError,
)
from ..models import ConversationInfo, ConversationResult, Outcome, SentMessage, V0Event
from . import v0
from .http import Emit, Now, Op, Sleep
from .lifecycle import AgentStateChange, Assessment, classify_v0, newest_agent_state

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


def iter_v0_conversations(*, page_size: int = 20, **filters: Any) -> Op[None]:
    """Every V0 conversation, following ``next_page_id`` to the end.

    Pages may be short or empty while ``next_page_id`` is set, and the merged V0/V1 paging
    of 1.x servers can repeat an item at a page boundary (CONTRACT §2.2): so only a null
    ``next_page_id`` ends the loop, and items are de-duplicated by id.
    """
    seen: set[str] = set()
    page_id: str | None = None
    pages_seen: set[str] = set()
    while True:
        page = yield v0.list_conversations(page_id=page_id, limit=page_size, **filters)
        for info in page.results:
            if info.conversation_id not in seen:
                seen.add(info.conversation_id)
                yield Emit(info)
        if page.next_page_id is None:
            return
        if page.next_page_id in pages_seen:
            raise ProtocolError(
                f"GET {v0.BASE} returned page id {page.next_page_id!r} twice; stopping to avoid a loop"
            )
        pages_seen.add(page.next_page_id)
        page_id = page.next_page_id


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
    while True:
        info, _ = yield from observe_v0(conversation_id, tracker, deadline)
        if info is None:
            raise not_found(conversation_id)
        if info.status == "RUNNING" and tracker.agent is not None:
            return info
        if info.status in ("ERROR", "ARCHIVED"):
            raise NotFoundError(
                f"Conversation {conversation_id} cannot be restarted (status {info.status})",
                status_code=404,
                method="POST",
                path=f"{v0.BASE}/{conversation_id}/start",
            )
        now = yield Now()
        if now >= deadline:
            raise WaitTimeoutError(
                f"Conversation {conversation_id} did not start running within {timeout:g}s",
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
    the delete is tried once more (CONTRACT §2.2, §7.3)."""
    try:
        deleted = yield v0.delete_conversation(conversation_id)
    except ServerError:
        deleted = yield v0.delete_conversation(conversation_id)
    return bool(deleted)
