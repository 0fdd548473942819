"""The V0 generation (``/api/conversations…``, openhands-ai ≤ 1.6.0): every operation of the
:class:`~.generation.Generation` interface, written as generators over the routes in ``v0.py``.

How V0 is read: ``status`` describes the runtime and stays RUNNING after the agent finished,
so each look reads the conversation *and* the events newer than what this client has read of
it before (``reverse=true``, a small page; the client remembers a cursor per conversation,
:class:`V0Knowledge`); a page that cannot decide alone leads to older pages
(:func:`.lifecycle.v0_page_state`), and :mod:`.lifecycle` decides. A follow-up
records the newest event id first (the *marker*), so that the wait after it ignores the
previous turn's state. A STOPPED runtime is restarted before a message (it refuses them).

Exactly-once create: V0 has no idempotency key. After a lost answer the newest conversations
are searched for one this client did not create whose first user message is ours; only a
provable absence allows a resend.

On 1.0–1.6.0 the V0 routes also show V1 conversations (``conversation_version: "V1"``); the
operations that read one hand it over to the V1 generation (``OwnedByOtherGeneration``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import (
    ConflictError,
    ConversationStartError,
    NotFoundError,
    OpenHandsError,
    ServerError,
    WaitTimeoutError,
)
from ..models import Conversation, ConversationInfo, ConversationResult, Outcome, SentMessage, V0Event
from . import v0
from .generation import (
    CLOCK_MARGIN,
    LOOKUP_WINDOW,
    SILENT_LOOKUP_LIMIT,
    CreateUndecided,
    Generation,
    NewConversation,
    OwnedByOtherGeneration,
    ReadMemory,
    absence_settle,
    is_ambiguous,
    not_found,
    undecided,
    wait_timed_out,
)
from .http import Emit, Now, Op, Progress, Sleep, web_url
from .lifecycle import (
    AgentStateChange,
    Assessment,
    RestartProgress,
    classify_v0,
    restart_progress,
    v0_page_state,
)
from .listing import ListQuery, filtered
from .parsing import dated
from .polling import TRANSIENT_ERRORS, PollPolicy, count_emitted, unique_pages, until
from .streaming import EventSource, Since, at_or_after, v0_since
from .validation import validate_id, validate_title

_POLL_PAGE = 20
_OCCUPYING = frozenset({"STARTING", "RUNNING"})  # what holds one of the server's running slots
_HOW_TO_LOOK = "look for it (openhands-api list, or list_conversations())"

logger = logging.getLogger("openhands_api")


# ---------------------------------------------------------------------------- paging


def iter_v0_conversations(*, page_size: int = 20, **filters: Any) -> Op[None]:
    """Every V0 conversation (``ConversationInfo``), newest first, to the end."""
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
    unified: bool = False,
) -> Op[None]:
    """Every V0 event from ``start_id`` (oldest first), or from the newest down (``reverse``):
    the ``V0Event``, or with ``unified`` the :class:`~openhands_api.models.Event`
    (:func:`.v0.page_events`)."""
    lower, upper = start_id, end_id
    while True:
        page = yield v0.get_events(
            conversation_id, start_id=lower, end_id=upper, reverse=reverse, limit=page_size
        )
        for event in v0.page_events(page) if unified else page.events:
            yield Emit(event)
        if not page.events or not page.has_more:
            return
        if reverse:
            upper = min(e.id for e in page.events) - 1
            if upper < start_id:
                return
        else:
            lower = max(e.id for e in page.events) + 1


class V0PolledEvents(EventSource):
    """A V0 conversation's events after a cursor: the newest id read (ids only grow, so every
    event past it is new and none is read twice). ``since`` sets the cursor (an id) or a time
    filter (the route has none: the events before it are read and skipped once).

    A V1 conversation seen through 1.x's V0 routes has no V0 events: the first read's 404
    asks the conversation (``existing``), which hands it over to the V1 generation."""

    def __init__(self, conversation_id: str, since: Since, existing: Callable[[], Op[Any]]) -> None:
        self.conversation_id = conversation_id
        self.cursor, self.not_before = v0_since(since)
        self._existing = existing
        self._read_once = False

    def read(self) -> Op[None]:
        while True:
            try:
                page = yield v0.get_events(
                    self.conversation_id, start_id=self.cursor + 1, limit=v0.MAX_EVENTS_LIMIT
                )
            except NotFoundError:
                if not self._read_once:
                    yield from self._existing()
                raise
            self._read_once = True
            for event in v0.page_events(page):
                if event.seq is None or event.seq <= self.cursor:
                    continue
                self.cursor = event.seq
                if at_or_after(event, self.not_before):
                    yield Emit(event)
            if not page.events or not page.has_more:
                return


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class V0Knowledge:
    """What reads of one conversation's events have proved, whatever the caller's marker:
    ``agent`` is the newest deciding agent state among the events with ids in
    (``floor``, ``cursor``] (None: there is none), possibly inferred from an agent action
    (:func:`~.lifecycle.v0_page_state`). A deciding state holds for any marker (it is the
    newest of all); "none" only for markers at or above ``floor``. ``kept``: what a result
    is made from, of the events read in that range (:func:`worth_keeping`).

    Kept per conversation in the client's :class:`~.generation.ReadMemory`, so that a later
    read asks only for events newer than ``cursor``."""

    floor: int
    cursor: int
    agent: AgentStateChange | None = None
    kept: tuple[V0Event, ...] = ()

    def covers(self, marker: int) -> bool:
        """Whether the newest deciding state newer than ``marker`` follows from this."""
        return self.agent is not None or self.floor <= marker

    def since(self, marker: int) -> AgentStateChange | None:
        """The newest deciding agent state newer than ``marker`` (given :meth:`covers`)."""
        return self.agent if self.agent is not None and self.agent.event_id > marker else None


def worth_keeping(events: Iterable[V0Event]) -> tuple[V0Event, ...]:
    """Of ``events``, the ones a result is made from: the newest that carries the agent's
    text (what :func:`.v0.final_message` picks) and the newest that carries ``llm_metrics``
    (what :func:`.v0.accumulated_cost` reads). At most two events per conversation, however
    long the turn, and exact however far back in what was read they lie (a window of recent
    events would lose a final message followed by a long tail)."""
    newest_first = sorted(events, key=lambda e: e.id, reverse=True)
    answer = next((e for e in newest_first if v0.final_message([e]) is not None), None)
    metered = next((e for e in newest_first if e.llm_metrics), None)
    return tuple(sorted({e.id: e for e in (answer, metered) if e is not None}.values(), key=lambda e: e.id))


def combine(known: V0Knowledge, new: V0Knowledge) -> V0Knowledge:
    """Merge two reads' knowledge, monotonically: the newer cursor wins, and what ``new``
    read is joined to ``known`` when the two ranges meet (otherwise ``new`` alone holds)."""
    if new.cursor < known.cursor:
        return known  # an older read that finished late: it adds nothing newer
    if new.floor > known.cursor:
        return new  # a gap between the two: nothing known below it is usable
    agent = new.agent if new.agent is not None else known.agent
    return V0Knowledge(
        min(known.floor, new.floor), new.cursor, agent, worth_keeping((*known.kept, *new.kept))
    )


@dataclass
class V0Tracker:
    """One call's view of a conversation's events (a look, or the polls of one wait).

    ``marker``: only agent states newer than it count (a wait after a message). ``knowledge``
    starts from what the client's ``memory`` holds (when it can answer for this marker) and
    grows with each read, which also teaches ``memory``. ``paged_back``: how many older pages
    the last read had to read because the newest page could not decide."""

    marker: int = -1
    knowledge: V0Knowledge | None = None
    memory: ReadMemory | None = None
    paged_back: int = 0

    @classmethod
    def recall(cls, memory: ReadMemory, conversation_id: str, marker: int = -1) -> V0Tracker:
        known = memory.get(conversation_id, V0Knowledge)
        usable = known if known is not None and known.covers(marker) else None
        return cls(marker=marker, knowledge=usable, memory=memory)

    @property
    def cursor(self) -> int:
        """The newest event id examined (the marker before any read)."""
        return self.knowledge.cursor if self.knowledge is not None else self.marker

    @property
    def agent(self) -> AgentStateChange | None:
        """The newest deciding agent state newer than ``marker``."""
        return self.knowledge.since(self.marker) if self.knowledge is not None else None

    @property
    def kept(self) -> list[V0Event]:
        """The events a result is made from (:func:`worth_keeping`), newer than ``marker``
        (a wait after a message must not show the previous turn's answer as its own)."""
        if self.knowledge is None:
            return []
        return [e for e in self.knowledge.kept if e.id > self.marker]

    def learn(self, conversation_id: str, new: V0Knowledge) -> None:
        self.knowledge = new if self.knowledge is None else combine(self.knowledge, new)
        if self.memory is not None:
            self.memory.update(conversation_id, new, combine)


def read_new_events(conversation_id: str, tracker: V0Tracker) -> Op[None]:
    """One cheap look at the events newer than the tracker's cursor (CONTRACT §4.3).

    ``reverse=true`` from the newest down to ``cursor + 1`` (``start_id`` bounds a reversed
    search on 1.6.0 too), a small page first: nothing new costs an empty page. A page that
    does not reach the cursor still decides when :func:`~.lifecycle.v0_page_state` says it
    does (a deciding state, or an agent action: the agent is working); only a page that
    cannot decide leads to older pages, and ``tracker.paged_back`` (and a debug line) says so.
    """
    floor = tracker.cursor
    collected: list[V0Event] = []
    upper: int | None = None
    limit = _POLL_PAGE
    tracker.paged_back = 0
    while True:
        page = yield v0.get_events(
            conversation_id, start_id=floor + 1, end_id=upper, reverse=True, limit=limit
        )
        collected.extend(e for e in page.events if e.id > floor)
        if not page.events or not page.has_more or min(e.id for e in page.events) <= floor + 1:
            complete = True
            break
        if v0_page_state(collected) is not None:
            complete = False
            break
        upper = min(e.id for e in page.events) - 1
        limit = v0.MAX_EVENTS_LIMIT
        tracker.paged_back += 1
    if tracker.paged_back:
        logger.debug(
            "conversation %s: the newest %d events do not show the agent's state; read %d older page(s)",
            conversation_id,
            _POLL_PAGE,
            tracker.paged_back,
        )
    if not collected:
        if tracker.knowledge is None:
            tracker.learn(conversation_id, V0Knowledge(floor, floor))
        return
    ordered = sorted(collected, key=lambda e: e.id)
    tracker.learn(
        conversation_id,
        V0Knowledge(
            floor=floor if complete else ordered[0].id - 1,
            cursor=ordered[-1].id,
            agent=v0_page_state(ordered),
            kept=worth_keeping(ordered),
        ),
    )


def owned_here(conversation_id: str, info: ConversationInfo | None) -> ConversationInfo | None:
    """``info`` if it is a V0 conversation; a V1 one (seen through 1.x's V0 routes) is handed
    over to the V1 generation."""
    if info is not None and info.conversation_version == "V1":
        raise OwnedByOtherGeneration("v1", conversation_id)
    return info


def look(conversation_id: str, tracker: V0Tracker) -> Op[tuple[ConversationInfo | None, Assessment]]:
    """Read the newest events, then the conversation, once; classify.

    Events first: the status read second is then at least as new as the events, so a runtime
    that came up between the two reads (and announced ``awaiting_user_input``) is not shown
    as still starting. An unknown or deleted id 404s on the events route; the conversation
    read then says null (or that the id is a V1 conversation, which is handed over)."""
    with contextlib.suppress(NotFoundError):
        yield from read_new_events(conversation_id, tracker)
    info = owned_here(conversation_id, (yield v0.get_conversation(conversation_id)))
    if info is None and tracker.memory is not None:
        tracker.memory.forget(conversation_id)
    return info, assess_read(info, tracker)


def assess_read(info: ConversationInfo | None, tracker: V0Tracker) -> Assessment:
    """The outcome of a conversation read (``info``) and its events read (``tracker``)."""
    assessment = classify_v0(info, tracker.agent)
    if tracker.paged_back and info is not None and assessment.detail is None:
        assessment = replace(
            assessment,
            detail=f"the newest {_POLL_PAGE} events did not show the agent's state: "
            f"{tracker.paged_back} older page(s) of events were read to find it",
        )
    return assessment


def newest_event_id(conversation_id: str) -> Op[int]:
    page = yield v0.get_events(conversation_id, reverse=True, limit=1)
    return max((e.id for e in page.events), default=-1)


def to_result(
    conversation_id: str,
    info: ConversationInfo | None,
    assessment: Assessment,
    events: Sequence[V0Event],
    base_url: str,
) -> ConversationResult:
    """The unified result of one look (``info`` None: the conversation is gone)."""
    if info is None:
        conversation = Conversation(
            id=conversation_id,
            api_version="v0",
            web_url=web_url(base_url, conversation_id),
            runtime="gone",
            outcome=Outcome.GONE,
            outcome_detail=assessment.detail,
        )
        final = None
    else:
        conversation = v0.to_conversation(info, base_url=base_url, assessment=assessment, events=events)
        final = v0.final_message(events) if assessment.outcome.succeeded else None
    return ConversationResult(
        conversation_id=conversation_id,
        outcome=assessment.outcome,
        detail=assessment.detail,
        final_message=final,
        pr_numbers=list(info.pr_number) if info else [],
        web_url=conversation.web_url,
        conversation=conversation,
    )


# ---------------------------------------------------------------------------- exactly-once helpers


def fingerprint(body: dict[str, Any]) -> tuple[Any, ...]:
    """What the server keeps of a create: two creates alike in these cannot be told apart."""
    return (
        body["initial_user_msg"],
        body.get("repository"),
        body.get("selected_branch"),
        body.get("git_provider"),
    )


def could_be(info: ConversationInfo, body: dict[str, Any]) -> bool:
    """Whether the conversation's stored fields allow it to be the one ``body`` created."""
    if info.selected_repository != body.get("repository"):
        return False
    if info.selected_branch != body.get("selected_branch"):
        return False
    wanted = body.get("git_provider")
    return wanted is None or info.git_provider in (None, wanted)


@dataclass(eq=False)
class _Claim:
    """One create of this client in flight (compared by identity)."""

    fingerprint: tuple[Any, ...]


@dataclass
class _Lookup:
    """One search for the conversation a lost create may have made, across its looks.

    ``sent_wall`` and ``sent_mono`` are the client's clocks just before the create was sent.
    ``first_messages`` keeps what each candidate's events showed: a candidate's first user
    message, once recorded, never changes, so it is read once per lookup, not once per look
    (one still without it is read again each look)."""

    body: dict[str, Any]
    claim: _Claim
    sent_wall: float
    sent_mono: float
    first_messages: dict[str, Any] = field(default_factory=dict)
    # Conversations the caller knows are not the one looked for (another task's, say).
    exclude: frozenset[str] = frozenset()

    def oldest_possible(self, server_now: float | None, arrived: float) -> float:
        """The earliest ``created_at`` (epoch seconds) the conversation could have: the server's
        clock at the send, less ``CLOCK_MARGIN``, from a list answer that the server dated
        ``server_now`` and that had arrived by ``arrived`` (monotonic); without a Date, the
        client's clock at the send less ``LOOKUP_WINDOW``."""
        if server_now is None:
            return self.sent_wall - LOOKUP_WINDOW
        return server_now - (arrived - self.sent_mono) - CLOCK_MARGIN


@dataclass
class _EarlierLookup(_Lookup):
    """A lookup for a create sent by another process (a batch run that was killed): its
    monotonic clock means nothing here, so the window is the sent time by the client's wall
    clock less ``LOOKUP_WINDOW``, whatever the server's Date says."""

    def oldest_possible(self, server_now: float | None, arrived: float) -> float:
        return self.sent_wall - LOOKUP_WINDOW


# ---------------------------------------------------------------------------- the generation


class V0Generation(Generation):
    version = "v0"
    history_format = "json"  # the trajectory: V0 has no zip of the history
    chooses_conversation_id = False  # the server names the conversation
    # openhands-ai 1.6.0's ``max_concurrent_conversations``: agent loops per user, the oldest
    # closed to start one more. The server publishes neither the setting nor a refusal.
    self_hosted_running_limit = 3

    # ------------------------------------------------------------------ create

    def create(self, request: NewConversation, *, start_timeout: float | None = None) -> Op[Conversation]:
        # A V0 create returns before the runtime starts: there is no start to bound or follow.
        body = self._create_body(request)
        conversation_id, found = yield from self._create_exactly_once(body)
        if request.title is not None:
            # V0 create has no title field: rename right after (the nearest equivalent).
            yield v0.update_title(conversation_id, request.title)
        if found is not None:
            # Found by the lookup: what the server keeps, not what was asked.
            return v0.to_conversation(found, base_url=self.context.base_url).model_copy(
                update={"title": request.title or found.title, "outcome": Outcome.IN_PROGRESS}
            )
        return Conversation(
            id=conversation_id,
            api_version="v0",
            web_url=web_url(self.context.base_url, conversation_id),
            title=request.title,
            runtime="starting",
            outcome=Outcome.IN_PROGRESS,
            repository=body.get("repository"),
            branch=body.get("selected_branch"),
            git_provider=body.get("git_provider"),
            raw={"conversation_id": conversation_id},
        )

    @staticmethod
    def _create_body(request: NewConversation) -> dict[str, Any]:
        if request.title is not None:
            validate_title(request.title)
        return v0.create_body(
            request.prompt,
            repository=request.repository,
            selected_branch=request.branch,
            git_provider=request.git_provider,
            image_urls=request.image_urls,
            conversation_instructions=request.conversation_instructions,
            **request.options,
        )

    def _create_exactly_once(self, body: dict[str, Any]) -> Op[tuple[str, ConversationInfo | None]]:
        """``POST /api/conversations`` exactly once: the new conversation's id, and its info
        when a lookup found it.

        When the answer is lost after the request may have arrived, the request is not simply
        sent again: :meth:`_find_created` searches for it. Found: that is the answer. Provably
        absent: send again (at most ``max_resends`` times). Undecidable (a candidate that could
        be ours has not shown its first message; another create of this client with the same
        fields is still in flight; the server does not answer the lookup): raise the original
        error, which says the conversation may exist — never risk a second one.
        """
        claim = _Claim(fingerprint(body))
        self.context.in_flight.append(claim)
        try:
            tries = 0
            while True:
                sent_wall = yield Now(wall=True)
                sent_mono = yield Now()
                try:
                    response = yield v0.create_conversation(body)
                except OpenHandsError as exc:
                    if not is_ambiguous(exc):
                        raise
                    tries += 1
                    lookup = _Lookup(body, claim, sent_wall=sent_wall, sent_mono=sent_mono)
                    try:
                        found = yield from self._find_created(
                            lookup, settle=absence_settle(exc, self.context.request_timeout)
                        )
                    except CreateUndecided:
                        raise undecided(exc, _HOW_TO_LOOK) from None
                    if found is not None:
                        self.context.created.add(found.conversation_id)
                        return str(found.conversation_id), found
                    if tries > self.context.max_resends:
                        raise
                    continue
                self.context.created.add(response.conversation_id)
                return str(response.conversation_id), None
        finally:
            self.context.in_flight.remove(claim)

    def find_created(
        self,
        request: NewConversation,
        *,
        since: float,
        conversation_id: str | None,
        exclude: frozenset[str],
    ) -> Op[Conversation | None]:
        """The lost-create lookup of :meth:`_create_exactly_once`, for a create sent at ``since``
        by another process: a conversation created since then (less ``LOOKUP_WINDOW``), unknown
        to the caller, with our repository, branch and provider and our prompt as its first user
        message. V0 has no client-chosen id: ``conversation_id`` is not used."""
        body = self._create_body(request)
        claim = _Claim(fingerprint(body))
        lookup = _EarlierLookup(body, claim, sent_wall=since, sent_mono=0.0, exclude=exclude)
        now = yield Now(wall=True)
        # The create may have reached the server just before its sender died: absence is
        # believed only once a request sent at ``since`` would have been answered.
        settle = max(0.0, since + self.context.request_timeout - now)
        found = yield from self._find_created(lookup, settle=settle)
        if found is None:
            return None
        self.context.created.add(found.conversation_id)
        if request.title is not None and found.title != request.title:
            yield v0.update_title(found.conversation_id, request.title)
        return v0.to_conversation(found, base_url=self.context.base_url).model_copy(
            update={"title": request.title or found.title, "outcome": Outcome.IN_PROGRESS}
        )

    def _find_created(self, lookup: _Lookup, *, settle: float) -> Op[ConversationInfo | None]:
        """The recent conversation, unknown to this client, that the lost create made: None when
        provably there is none; CreateUndecided when it cannot tell within the start timeout,
        or when the server has not answered the lookup for ``SILENT_LOOKUP_LIMIT`` seconds.

        "Provably none" needs two things: no candidate that could be ours is left undecided,
        and the lookup has looked for ``settle`` seconds since the failure
        (:func:`~.generation.absence_settle`) — a request whose answer timed out may still be
        on its way to the server (held by a proxy, queued behind a busy worker). The residual
        risk: a request held back longer than that, then delivered, makes a second
        conversation when the resend arrives too; V0 has no idempotency key to prevent it. The
        lookup's own reads may hit the same trouble that lost the create's answer: transient
        failures are ridden out."""
        poll = self.context.poll
        started = yield Now()
        answered_at = started
        interval = poll.interval
        while True:
            now = yield Now()
            try:
                found, pending = yield from self._look_for_created(lookup)
            except TRANSIENT_ERRORS:
                if now - answered_at >= SILENT_LOOKUP_LIMIT:
                    raise CreateUndecided("the server does not answer the lookup") from None
                found, pending = None, True
            else:
                answered_at = now
            if found is not None:
                return found
            if not pending and now - started >= settle:
                return None
            if now - started >= self.context.start_timeout:
                raise CreateUndecided("a conversation that may be ours is still undecided")
            yield Sleep(interval)
            interval = poll.next(interval)

    def _look_for_created(self, lookup: _Lookup) -> Op[tuple[ConversationInfo | None, bool]]:
        """One look: (ours, or None; whether something could not be decided yet).

        Pages through every conversation that could have been created since the send — not
        just the first page: many creates in flight at once can push ours past it. How far
        back is decided here, by :meth:`_Lookup.oldest_possible`: by the server's clock (the
        Date of each list answer), conversations stamped before the send less
        ``CLOCK_MARGIN`` are older than the create and skipped unread, and paging stops at
        the first of them (the list is newest first). A candidate is one this client does
        not know, whose repository, branch and provider are ours; it is ours when its first
        user message is ours. One without a first message yet could be ours whatever its
        status (one the server evicted before its runtime came up stays so for good): it
        leaves the look undecided. So does a match while another create of this client with
        the same fields is in flight (the match may be that one's), or more than one match.

        Cost: one list request per 100 conversations in the window, and one events read per
        candidate in it, once per lookup (``_Lookup.first_messages``); one still without its
        first message is read again each look. In the common case — the other conversations
        are older than the send by more than the margin — that is the list page and the
        events of ours: about two requests a look. The worst case is every conversation in
        the window a candidate (another client creating in the same fields within the
        margin, or a server without a Date header, where the window is ``LOOKUP_WINDOW`` of
        the client's clock): one events read for each, as before."""
        body = lookup.body
        known = self.context.created
        pending = False
        matches: list[ConversationInfo] = []
        page_id: str | None = None
        while True:
            page, server_now = yield dated(v0.list_conversations(page_id=page_id, limit=100))
            arrived = yield Now()
            oldest_possible = lookup.oldest_possible(server_now, arrived)
            for info in page.results:
                if (
                    info.conversation_id in known
                    or info.conversation_id in lookup.exclude
                    or not could_be(info, body)
                ):
                    continue
                if info.created_at is not None and info.created_at.timestamp() < oldest_possible:
                    continue
                first = lookup.first_messages.get(info.conversation_id)
                if first is None:
                    events = yield v0.get_events(info.conversation_id, limit=10)
                    message = next(
                        (e for e in events.events if e.source == "user" and e.action == "message"), None
                    )
                    if message is not None:
                        first = lookup.first_messages[info.conversation_id] = message.args.get("content")
                if first is None:
                    # The first message is recorded once the runtime is up; until then, undecided.
                    pending = True
                elif first == body["initial_user_msg"]:
                    matches.append(info)
            oldest = min(
                (i.created_at.timestamp() for i in page.results if i.created_at is not None), default=None
            )
            if (
                page.next_page_id is None
                or page.next_page_id == page_id
                or (oldest is not None and oldest < oldest_possible)
            ):
                break
            page_id = page.next_page_id
        rivals = [
            c
            for c in self.context.in_flight
            if c is not lookup.claim and c.fingerprint == lookup.claim.fingerprint
        ]
        if len(matches) == 1 and not rivals:
            return matches[0], False
        return None, pending or bool(matches)

    # ------------------------------------------------------------------ reading

    def observe(self, conversation_id: str) -> Op[ConversationResult]:
        tracker = V0Tracker.recall(self.context.reads, conversation_id)
        info, assessment = yield from look(conversation_id, tracker)
        if info is None:
            raise not_found(conversation_id, "GET", v0.conversation_path(conversation_id))
        return to_result(conversation_id, info, assessment, tracker.kept, self.context.base_url)

    def result(self, conversation_id: str) -> Op[ConversationResult]:
        result = yield from self.observe(conversation_id)
        if result.outcome.succeeded and result.final_message is None:
            # Rare: the final text is not among the events this client has read (a read that
            # had to page back to the ``finished`` state, its ``finish`` just below it; or a
            # turn that ended without a ``finish`` or agent message); look through the whole
            # history once.
            events = yield v0.get_trajectory(conversation_id)
            result = result.model_copy(update={"final_message": v0.final_message(events)})
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
        """Poll until the outcome is terminal; WaitTimeoutError when ``timeout`` runs out.
        V0 always polls (``live`` has no effect: its socket.io stream is not used yet).

        Transient failures (connection trouble, 5xx, 429, HTML pages) are ridden out within the
        timeout; authentication and permission errors end the wait at once."""
        validate_id(conversation_id)
        marker = after.marker if after is not None and after.marker is not None else -1
        tracker = V0Tracker.recall(self.context.reads, conversation_id, marker)
        seen: list[ConversationResult] = []
        base_url = self.context.base_url

        def poll_once() -> Op[ConversationResult | None]:
            info, assessment = yield from look(conversation_id, tracker)
            result = to_result(conversation_id, info, assessment, tracker.kept, base_url)
            seen[:] = [result]
            if result.outcome.is_terminal:
                return result
            yield Progress(result)
            return None

        if started is None:
            started = yield Now()
        result = yield from until(
            poll_once,
            deadline=started + timeout,
            poll=poll,
            timed_out=lambda error: wait_timed_out(
                conversation_id, timeout, seen[-1] if seen else None, error
            ),
        )
        return result

    def iter_conversations(
        self, *, page_size: int, filters: dict[str, Any], query: ListQuery | None = None
    ) -> Op[None]:
        """The V0 listing. The server filters the repository (exactly); the rest is checked
        here. A V0 list item has no agent state: with ``query.with_outcome`` each kept row
        costs the events read of a look (one request, more only when the newest events do
        not show the agent's state; less when this client read them before). A V1
        conversation seen through 1.x's V0 routes has no V0 events: its outcome stays None."""
        query = query or ListQuery()
        base_url = self.context.base_url
        memory = self.context.reads
        server_filters = dict(filters)
        if query.repository is not None:
            server_filters.setdefault("selected_repository", query.repository)

        def unified(info: ConversationInfo) -> Conversation:
            return v0.to_conversation(info, base_url=base_url)

        def decide(info: ConversationInfo) -> Op[Conversation]:
            if info.conversation_version == "V1":
                return unified(info)
            tracker = V0Tracker.recall(memory, info.conversation_id)
            with contextlib.suppress(NotFoundError):
                yield from read_new_events(info.conversation_id, tracker)
            assessment = assess_read(info, tracker)
            return v0.to_conversation(info, base_url=base_url, assessment=assessment, events=tracker.kept)

        yield from filtered(
            iter_v0_conversations(page_size=page_size, **server_filters), query, unified, decide
        )

    def iter_events(self, conversation_id: str, *, reverse: bool, page_size: int) -> Op[None]:
        page_size = min(page_size, v0.MAX_EVENTS_LIMIT)  # every page, not just the first
        try:
            first = yield v0.get_events(conversation_id, reverse=reverse, limit=page_size)
        except NotFoundError:
            # A V1 conversation seen through 1.x's V0 routes has no V0 events: hand it over.
            yield from self._existing(conversation_id)
            raise
        for event in v0.page_events(first):
            yield Emit(event)
        if not first.events or not first.has_more:
            return
        if reverse:
            yield from iter_v0_events(
                conversation_id,
                end_id=min(e.id for e in first.events) - 1,
                reverse=True,
                page_size=page_size,
                unified=True,
            )
        else:
            yield from iter_v0_events(
                conversation_id,
                start_id=max(e.id for e in first.events) + 1,
                page_size=page_size,
                unified=True,
            )

    def event_source(self, conversation_id: str, *, since: Since) -> EventSource:
        validate_id(conversation_id)
        return V0PolledEvents(conversation_id, since, lambda: self._existing(conversation_id))

    def _existing(self, conversation_id: str) -> Op[ConversationInfo]:
        """The conversation, if it exists and is V0's; NotFoundError if the server says null."""
        info = owned_here(conversation_id, (yield v0.get_conversation(conversation_id)))
        if info is None:
            raise not_found(conversation_id, "GET", v0.conversation_path(conversation_id))
        return info

    # ------------------------------------------------------------------ messages

    def send_message(self, conversation_id: str, message: str, *, resume: bool) -> Op[SentMessage]:
        """Send a follow-up, restarting a stopped runtime first; return the wait marker.

        With ``resume=False`` a runtime that is not running is not restarted: ConflictError,
        as V1's paused sandbox answers, before the message is sent (a STOPPED V0 runtime
        would refuse it with a bare 500)."""
        call = v0.send_message(conversation_id, message)  # validates before any request
        if not resume:
            info = yield from self._existing(conversation_id)
            if info.status != "RUNNING":
                state = (info.status or "not running").lower()
                raise ConflictError(
                    f"Conversation {conversation_id}'s runtime is {state}, and resume=False "
                    "forbids restarting it",
                    status_code=409,
                    method=call.request.method,
                    path=call.request.path,
                    remedy="Start it first with resume(), or send with resume=True",
                )
        yield from self._ensure_running(conversation_id)
        marker = yield from newest_event_id(conversation_id)
        yield call
        return SentMessage(conversation_id=conversation_id, marker=marker)

    def _ensure_running(self, conversation_id: str) -> Op[ConversationInfo]:
        """Make sure the runtime runs (a STOPPED conversation refuses messages with 500), and
        wait until the restart is complete (:func:`lifecycle.restart_progress`)."""
        timeout = self.context.start_timeout
        started = yield Now()
        info = yield from self._existing(conversation_id)
        if info.status == "RUNNING":
            return info
        before = yield from newest_event_id(conversation_id)
        if info.status != "STARTING":
            yield v0.start_conversation(conversation_id)
        tracker = V0Tracker.recall(self.context.reads, conversation_id, before)
        path = v0.conversation_path(conversation_id, "/start")

        def check() -> Op[ConversationInfo | None]:
            # A server busy starting a runtime may answer slowly or not at all for a while:
            # ``until`` rides that out like a wait does.
            info, _ = yield from look(conversation_id, tracker)
            progress = restart_progress(info, tracker.agent)
            if progress is RestartProgress.READY:
                return info
            if progress is RestartProgress.GONE:
                raise not_found(conversation_id, "POST", path)
            if progress is RestartProgress.STOPPED_AGAIN:
                raise ConversationStartError(
                    f"Conversation {conversation_id} stopped again while its runtime was starting; "
                    "the server may be running too many conversations. Start it again later.",
                    conversation_id=conversation_id,
                )
            if progress is RestartProgress.CANNOT_RESTART:
                status = info.status if info else None
                raise NotFoundError(
                    f"Conversation {conversation_id} cannot be restarted (status {status})",
                    status_code=404,
                    method="POST",
                    path=path,
                )
            return None

        def timed_out(error: OpenHandsError | None) -> OpenHandsError:
            state = f" (last error: {error})" if error is not None else ""
            return WaitTimeoutError(
                f"Conversation {conversation_id} did not start running within {timeout:g}s{state}",
                conversation_id=conversation_id,
                timeout=timeout,
            )

        running = yield from until(
            check, deadline=started + timeout, poll=self.context.poll, timed_out=timed_out
        )
        return running

    # ------------------------------------------------------------------ managing

    def stop(self, conversation_id: str) -> Op[None]:
        # /stop of an unknown id answers as if it had stopped something: ask first.
        yield from self._existing(conversation_id)
        yield v0.stop_conversation(conversation_id)

    def resume(self, conversation_id: str) -> Op[None]:
        yield from self._existing(conversation_id)
        yield v0.start_conversation(conversation_id)

    def delete(self, conversation_id: str) -> Op[bool]:
        """A conversation still STARTING answers one 500 (after ~10 s) and then stops, so the
        delete is tried once more (CONTRACT §2.2, §7.3). A ready runtime races too: on 1.6.0
        the DELETE closes the session, whose runtime close already dropped the runtime from the
        local registry, so the runtime delete fails (``KeyError`` in ``LocalRuntime.delete``)
        and answers 500, with the conversation stopped but still listed (6 of 20 DELETEs in one
        CI run's server log). The second attempt finds nothing left to close and completes it."""
        try:
            deleted = yield v0.delete_conversation(conversation_id)
        except ServerError:
            deleted = yield v0.delete_conversation(conversation_id)
        return bool(deleted)

    def set_title(self, conversation_id: str, title: str) -> Op[None]:
        yield v0.update_title(conversation_id, title)

    def count_running(self) -> Op[int]:
        """The sessions with an agent loop (1.6.0 shows them STARTING until the runtime is up,
        then RUNNING). 1.x's V0 listing also shows its V1 conversations: they do not count."""
        return count_emitted(
            iter_v0_conversations(page_size=100),
            lambda info: info.status in _OCCUPYING and (info.conversation_version or "V0").upper() != "V1",
        )

    def download_history(self, conversation_id: str, destination: Path) -> Op[Path]:
        """V0 has no zip of the history; its trajectory (every event as JSON) is the nearest
        honest equivalent: the server's ``{"trajectory": [...]}``, streamed to the file as it
        comes (:func:`v0.download_trajectory`), so memory stays flat however long the history."""
        yield v0.download_trajectory(conversation_id, destination)
        return destination

    def download_workspace(self, conversation_id: str, destination: Path) -> Op[Path]:
        """The server's zip of the runtime's workspace (``zip-directory``), streamed to disk.

        The route answers only while the runtime runs: of a stopped one it says 404, as of an
        unknown id, so a 404 is told apart by reading the conversation (ConflictError for a
        conversation whose runtime is not running; NotFoundError if there is none)."""
        call = v0.download_workspace(conversation_id, destination)  # validates first
        try:
            yield call
        except NotFoundError:
            info = yield from self._existing(conversation_id)
            if info.status == "RUNNING":
                raise
            state = (info.status or "not running").lower()
            raise ConflictError(
                f"Conversation {conversation_id}'s runtime is {state}: the server gives its "
                "workspace only while it runs",
                status_code=409,
                method=call.request.method,
                path=call.request.path,
                remedy="Start it first with resume()",
            ) from None
        return destination
