"""Following a conversation's events: the history not yet seen, then each new event as it
comes, each exactly once and in order, until the turn ends.

Theory of operation
-------------------
Two questions, answered apart:

- *Where do the events come from?* An :class:`EventSource`: a cursor over one conversation's
  events whose :meth:`~EventSource.read` emits every event past the cursor, oldest first, and
  moves the cursor past each before it is emitted (so a read cut short by an error resumes
  right after the last event emitted: no gap, no duplicate). Each generation has its own:
  V0 reads the ids after the newest id read (``start_id``), V1 the timestamp search from the
  newest timestamp read, de-duplicated by event id (``v0_ops.V0PolledEvents``,
  ``v1_ops.V1PolledEvents``).
- *When does it end?* Exactly when ``wait()`` would return: :func:`follow` runs the
  generation's own wait operation (so the "is it done?" decision stays in ``lifecycle.py``)
  and reads the source at each of its polls that found the turn still going (its
  ``Progress`` steps); once the wait has its outcome, the source is read one last time (the
  events that ended the turn) and the outcome is the operation's return value, which the
  client's stream keeps as its ``result``.

The transport is a strategy: :func:`follow` knows only the :class:`EventSource` interface,
and these sources poll the REST routes. Where the server pushes events (V1's agent server,
``/sockets/events``, CONTRACT §6.6), ``v1_live.live_turn`` follows instead, behind the same
``stream_events`` method: this REST source reads the history, the socket takes over (its
whole log, ``resend_mode=all``, each id emitted once), and if the socket is lost for good,
:func:`follow` continues with the same source from where the socket left off.

Also here, because both the library and the CLI need them: what ``since`` may be
(:data:`Since`) and the event *families* (``message``, ``action``, ``observation``,
``state``) that group the two generations' kinds.

No I/O: the operations yield requests and sleeps; a driver performs them.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from datetime import datetime, timezone
from typing import TypeVar

from ..errors import InvalidInputError, OpenHandsError
from ..models import ConversationResult, Event
from .http import Emit, Op, Progress
from .polling import TRANSIENT_ERRORS, bounded, each_emitted

T = TypeVar("T")

Since = int | str | datetime | None
"""Where a stream or listing starts: after an event (V0: its integer id, or the unified
``Event.id`` text of it; V1: the ``Event.id`` UUID), or at a time (a datetime; naive means
UTC): only events at or after it."""


class EventSource(ABC):
    """A cursor over one conversation's events (see the module docstring)."""

    @abstractmethod
    def read(self) -> Op[None]:
        """Emit every event past the cursor, oldest first, moving the cursor past each."""


def between_polls(wait: Op[T], read: Callable[[], Op[None]]) -> Op[T]:
    """``wait`` with each of its ``Progress`` steps (a poll that found the turn still going)
    replaced by the operation ``read()`` makes; every other step goes to the driver as it
    is, and ``wait``'s return value is this operation's."""
    value: object = None
    error: BaseException | None = None
    while True:
        try:
            step = wait.throw(error) if error is not None else wait.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        if isinstance(step, Progress):
            yield from read()
            continue
        try:
            value = yield step
        except OpenHandsError as exc:
            error = exc


def follow(
    source: EventSource, turn: Op[ConversationResult], *, deadline: float | None = None
) -> Op[ConversationResult]:
    """Emit the events of ``source`` until the operation ``turn`` (a generation's wait)
    returns the turn's outcome; return that outcome.

    The history is read first (its errors end the stream: nothing could be shown). While the
    turn goes on, a read that meets a transient failure is given up until the next poll (the
    cursor is where it stopped, so nothing is lost); its requests are bounded by
    ``deadline`` (monotonic seconds), so a hanging read cannot hold the stream past its
    timeout. The last read, after the outcome, has the driver's retries like any request."""

    def read_between_polls() -> Op[None]:
        with contextlib.suppress(*TRANSIENT_ERRORS):
            yield from (source.read() if deadline is None else bounded(source.read(), deadline))

    yield from source.read()
    result = yield from between_polls(turn, read_between_polls)
    yield from source.read()
    return result


def newest_first(op: Op[None]) -> Op[None]:
    """The items ``op`` emits, in the opposite order (held in memory until ``op`` ends)."""
    held: list[object] = []

    def hold(item: object) -> Op[None]:
        held.append(item)
        yield from ()

    yield from each_emitted(op, hold)
    for item in reversed(held):
        yield Emit(item)


def since_time(since: datetime) -> datetime:
    """``since`` as an aware datetime (naive means UTC, as the servers' own timestamps)."""
    return since if since.tzinfo is not None else since.replace(tzinfo=timezone.utc)


def at_or_after(event: Event, since: datetime | None) -> bool:
    """Whether ``event`` passes a time filter (an event without a timestamp always does)."""
    return since is None or event.timestamp is None or event.timestamp >= since


def v0_since(since: Since) -> tuple[int, datetime | None]:
    """A V0 stream's start: (the id after which events count, -1 for all; the time filter)."""
    if isinstance(since, datetime):
        return -1, since_time(since)
    if since is None:
        return -1, None
    if isinstance(since, int) and not isinstance(since, bool) and since >= 0:
        return since, None
    if isinstance(since, str) and since.strip().isdigit():
        return int(since), None
    raise InvalidInputError(
        f"since={since!r}: a V0 event is named by its integer id (Event.seq, or Event.id), "
        "or give a time (a datetime)"
    )


def v1_since(since: Since) -> tuple[str | None, datetime | None]:
    """A V1 stream's start: (the id of the event after which events count; the time filter)."""
    if isinstance(since, datetime):
        return None, since_time(since)
    if since is None:
        return None, None
    if isinstance(since, str) and since.strip():
        return since.strip(), None
    raise InvalidInputError(
        f"since={since!r}: a V1 event is named by its id (a UUID: Event.id), or give a time (a datetime)"
    )


# ---------------------------------------------------------------------------- event families

EVENT_FAMILIES: dict[str, str] = {
    "message": "what the user and the agent say: V0 action:message, V1 MessageEvent",
    "action": "what the agent does: V0 action:* (but message and change_agent_state), "
    "V1 ActionEvent and SystemPromptEvent",
    "observation": "what comes back: V0 observation:* (but agent_state_changed), "
    "V1 ObservationEvent, AgentErrorEvent and UserRejectObservation",
    "state": "the agent's state: V0 observation:agent_state_changed and action:change_agent_state, "
    "V1 ConversationStateUpdateEvent",
}
"""The families of event kinds, each with what it holds on each generation."""

_V1_FAMILY = {
    "MessageEvent": "message",
    "ActionEvent": "action",
    "SystemPromptEvent": "action",
    "ObservationEvent": "observation",
    "AgentErrorEvent": "observation",
    "UserRejectObservation": "observation",
    "ConversationStateUpdateEvent": "state",
}
_V0_STATE = frozenset({"observation:agent_state_changed", "action:change_agent_state"})


def event_family(kind: str) -> str | None:
    """The family of an ``Event.kind`` (:data:`EVENT_FAMILIES`), None for a kind in none
    (a V1 ``Condensation``, ``PauseEvent`` …, or a kind unknown today)."""
    if kind in _V0_STATE:
        return "state"
    if kind == "action:message":
        return "message"
    prefix, colon, _ = kind.partition(":")
    if colon and prefix in ("action", "observation"):
        return prefix
    return _V1_FAMILY.get(kind)


def kind_matches(kind: str, wanted: Collection[str]) -> bool:
    """Whether ``kind`` is one of ``wanted``: an exact kind, or a family of it."""
    return kind in wanted or event_family(kind) in wanted
