"""A V1 turn followed over the agent server's WebSocket: the loop of ``live.py``'s decisions.

:func:`live_turn` serves both ``wait`` (nothing emitted: the socket only says when to look)
and ``stream_events`` (the REST history first, then every pushed event once). Its looks are
the generation's own (``v1_ops._Watch.poll_once``: ``lifecycle.py`` decides), so a wait over
the socket ends with exactly the outcome a polled one would, only sooner, and an idle one
asks nothing of the server. When the socket cannot be had, it continues by polling
(``poll_instead``), from where it stands.

No I/O: socket steps (``http.OpenSocket`` …) go to the driver like requests.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, Protocol

from ..errors import OpenHandsError
from ..models import ConversationResult, V1Event
from . import v1
from .http import (
    CloseSocket,
    Emit,
    Now,
    Op,
    OpenSocket,
    Progress,
    ReceiveFrame,
    Sleep,
    SocketClosed,
    SocketUnavailable,
)
from .live import (
    DRAIN,
    RECONNECT,
    RELOOK,
    Reconnect,
    SeenEvents,
    SocketTarget,
    auth_frame,
    calls_for_look,
    close_error,
    decode_frame,
    execution_change,
    is_subscription_state,
    subscribe_url,
)
from .polling import TRANSIENT_ERRORS, PollPolicy, bounded

logger = logging.getLogger("openhands_api.stream")

Look = Callable[[], Op[ConversationResult | None]]


class History(Protocol):
    """The REST side of a followed stream (``v1_ops.V1PolledEvents``)."""

    def read(self) -> Op[None]: ...

    def resume_point(self) -> tuple[str | None, set[str]]: ...

    def pushed(self, event_id: str) -> None: ...

    def knows(self, event_id: str, timestamp: str | None) -> bool: ...


LONGEST_RECEIVE = 600.0
"""The longest a wait for the next frame is asked for at once; when it passes, it is asked again."""


class _Fallback(Exception):
    """Internal: the socket cannot be had; poll instead (the reason, for the debug line)."""


def look_riding(look: Look, deadline: float) -> Op[ConversationResult | None]:
    """One look within ``deadline``; a transient failure is "not decided yet"."""
    try:
        return (yield from bounded(look(), deadline))
    except TRANSIENT_ERRORS:
        return None


class _Stream:
    """One live turn's state: the socket, what it has shown, when to look next."""

    def __init__(
        self,
        conversation_id: str,
        look: Look,
        target: Callable[[], SocketTarget | None],
        deadline: float,
        poll: PollPolicy,
        history: History | None,
        reconnect: Reconnect,
        snapshot: Callable[[], ConversationResult | None],
    ) -> None:
        self.snapshot = snapshot
        self.conversation_id = conversation_id
        self.look = look
        self.target = target
        self.deadline = deadline
        self.poll = poll
        self.history = history
        self.reconnect = reconnect
        self.seen = SeenEvents()
        self.socket: Any = None
        self.address = ""
        self.interval = poll.interval
        self.next_look: float | None = None  # a look that could not decide: look again then
        self.last_look = 0.0
        self.fresh = False  # the socket was just opened: its first frame may be the state now
        self.unavailable = ""  # why the socket could not be opened last

    # -------------------------------------------------------------- the socket

    def open(self) -> Op[bool]:
        """Open the socket where the last look says the conversation runs; False if it cannot be."""
        target = self.target()
        if target is None:
            raise _Fallback("the conversation has no running agent server to stream from")
        self.address = target.url
        if self.history is not None:
            # Following: the agent server's whole log, every time (first connect and after a
            # drop), each id emitted once. A timestamp is no resume point there: its log is in
            # the order events were stored, and a step's stats update is stored after the
            # step but stamped before it, so "since the newest seen" would skip it.
            url = subscribe_url(target.url, resume_from=None, replay=True)
        else:
            url = subscribe_url(target.url, resume_from=self.seen.resume_from, replay=False)
        first = auth_frame(target.session_key) if target.session_key else None
        try:
            self.socket = yield OpenSocket(url, first, deadline=self.deadline)
        except SocketUnavailable as exc:
            self.unavailable = str(exc)  # said once, with the fallback to polling
            return False
        self.fresh = True
        return True

    def close(self) -> Op[None]:
        if self.socket is not None:
            socket, self.socket = self.socket, None
            yield CloseSocket(socket)

    def reopen(self) -> Op[ConversationResult | None]:
        """After a drop: back off, look (the turn may have ended; the key may be new), open
        again; the outcome if a look found one. Too many failures in a row: poll instead."""
        yield from self.close()
        failures = 0
        while True:
            failures += 1
            delay = self.reconnect.delay(failures)
            if delay is None:
                raise _Fallback(
                    f"the event stream dropped and could not be reopened in {failures - 1} tries "
                    f"({self.unavailable or 'no running agent server'})"
                )
            yield Sleep(delay)
            result = yield from self.looked()
            if result is not None:
                return result
            if (yield from self.open()):
                if self.seen.resume_from is None and self.history is None:
                    # Nothing seen to resume from: what happened before it opened, by a look.
                    return (yield from self.looked())
                return None

    # -------------------------------------------------------------- looking

    def looked(self) -> Op[ConversationResult | None]:
        self.last_look = yield Now()
        result = yield from look_riding(self.look, self.deadline)
        return result

    def due(self) -> float:
        # A silent socket costs no request: a dead peer (a paused or deleted sandbox) ends it
        # by the WebSocket's own pings (frames, not requests), and its reopening looks.
        return self.next_look if self.next_look is not None else math.inf

    # -------------------------------------------------------------- frames

    def take(self, frame: str) -> Op[str | None]:
        """Emit the frame's event if new (when following); the status it announces, if any."""
        event = decode_frame(frame)
        if event is None:
            return None
        if self.fresh:
            self.fresh = False
            if is_subscription_state(event) and event["id"] not in self.seen.ids:
                # The state now, not an event of the log (a new id, the time of the
                # connection): it tells the status, but is neither shown nor a point to
                # resume from (it is newer than the events resent after it).
                return execution_change(event)
        wire = V1Event.model_validate(event)
        if self.seen.accept(wire.id, wire.timestamp):
            if self.history is not None:
                if self.history.knows(wire.id, wire.timestamp):
                    return execution_change(event)
                self.history.pushed(wire.id)
                yield Emit(v1.to_event(wire))
            else:
                snapshot = self.snapshot()
                if snapshot is not None:
                    # A wait's display shows what is happening now (the newest event).
                    yield Progress(snapshot.model_copy(update={"latest_event": v1.to_event(wire)}))
        return execution_change(event)

    def receive(self, timeout: float) -> Op[str | None]:
        """The next frame within ``timeout``; a close that means an error raises it."""
        try:
            frame: str | None = yield ReceiveFrame(self.socket, max(0.0, timeout))
        except SocketClosed as closed:
            self.socket = None
            error = close_error(closed.code, closed.reason, self.conversation_id, self.address)
            if error is not None:
                raise error from None
            raise
        return frame

    def drain(self) -> Op[None]:
        """The events already on their way once the outcome is known (when following)."""
        if self.history is None or self.socket is None:
            return
        ends = (yield Now()) + DRAIN
        while True:
            now = yield Now()
            if now >= ends:
                return
            try:
                frame = yield from self.receive(ends - now)
            except SocketClosed:
                return
            if frame is None:
                return
            yield from self.take(frame)

    def listen(self, timed_out: Callable[[OpenHandsError | None], OpenHandsError]) -> Op[ConversationResult]:
        """Frames until a look decides the turn."""
        while True:
            now = yield Now()
            if now >= self.deadline:
                raise timed_out(None)
            due = self.due()
            if now >= due:
                result = yield from self.looked()
                if result is not None:
                    return result
                if self.next_look is not None:
                    self.interval = self.poll.next(self.interval)
                    self.next_look = self.last_look + self.interval
                continue
            try:
                # a wait for frames is bounded (clocks take no infinity); its end costs nothing
                frame = yield from self.receive(min(due, self.deadline, now + LONGEST_RECEIVE) - now)
            except SocketClosed as dropped:
                logger.debug("event stream of %s dropped (%s); reconnecting", self.conversation_id, dropped)
                result = yield from self.reopen()
                if result is not None:
                    return result
                continue
            if frame is None:
                continue
            status = yield from self.take(frame)
            if status is None:
                continue
            if not calls_for_look(status):
                self.next_look = None  # the turn goes on: no need to look until it says otherwise
                continue
            result = yield from self.looked()
            if result is not None:
                return result
            self.interval = min(self.poll.interval, RELOOK)
            self.next_look = self.last_look + self.interval


def live_turn(
    conversation_id: str,
    *,
    look: Look,
    target: Callable[[], SocketTarget | None],
    deadline: float,
    poll: PollPolicy,
    timed_out: Callable[[OpenHandsError | None], OpenHandsError],
    poll_instead: Callable[[], Op[ConversationResult]],
    history: History | None = None,
    reconnect: Reconnect = RECONNECT,
    snapshot: Callable[[], ConversationResult | None] = lambda: None,
) -> Op[ConversationResult]:
    """The turn's outcome, from the looks the socket's events call for (see the module
    docstring); with ``history``, the REST history first and every pushed event emitted
    once. ``look`` must yield no Progress when following (an iterator has none); when
    waiting, each new event is a Progress step: ``snapshot()`` (the last look's, if any)
    with the event as its ``latest_event``."""
    stream = _Stream(conversation_id, look, target, deadline, poll, history, reconnect, snapshot)
    if history is not None:
        yield from history.read()
        stream.seen.resume_from, at_resume = history.resume_point()
        stream.seen.ids |= at_resume
    result = yield from stream.looked()
    if result is not None:
        if history is not None:
            yield from history.read()
        return result
    try:
        if not (yield from stream.open()):
            raise _Fallback(stream.unavailable)
        if history is None:
            # The socket shows what comes next; what came before it opened, a look shows.
            result = yield from stream.looked()
        if result is None:
            result = yield from stream.listen(timed_out)
        yield from stream.drain()
        yield from stream.close()
        if history is not None:
            # What the socket could not give: events sent but never kept by the agent server
            # (the whole-state updates), missed while it was down; the app server keeps them.
            yield from history.read()
        return result
    except _Fallback as reason:
        yield from stream.close()
        logger.debug("following %s by polling: %s", conversation_id, reason)
        return (yield from poll_instead())
