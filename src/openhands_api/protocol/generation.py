"""The Generation interface: what every OpenHands API generation can do, as operations.

A client speaks to a server through one :class:`Generation` — :class:`~.v0_ops.V0Generation`
(``/api/conversations…``) or :class:`~.v1_ops.V1Generation` (``/api/v1/…``) — chosen once when
the version is known (:mod:`.detect`). Each method returns an operation (a generator of steps,
see ``http.py``) that a driver runs; nothing here performs I/O. Outside the generation
modules, detection and the wire models, no code asks which version it is talking to: adding
an operation means adding an abstract method here, and the type checker names the generation
that lacks it.

Also here, because both generations need them: the context a generation works in, the
generation-neutral create request, the exactly-once helpers (is a failed create possibly
carried out? how is an undecidable lookup reported?), and :class:`OwnedByOtherGeneration`,
with which a generation hands an id over to the generation that owns it.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ..errors import (
    APIStatusError,
    NotFoundError,
    OpenHandsError,
    ProtocolError,
    TransportError,
    WaitTimeoutError,
)
from ..models import Conversation, ConversationResult, SentMessage
from .http import Op
from .listing import ListQuery
from .polling import PollPolicy
from .streaming import EventSource, Since, follow

T = TypeVar("T")


class ReadMemory:
    """What a client has learned from reading recently read conversations, so that the next
    read of one asks only for what is new (V0: :class:`~.v0_ops.V0Knowledge`).

    Bounded (the ``capacity`` most recently used conversations) and safe to share: a sync
    client used from several threads takes the lock; async tasks interleave only between
    requests, and an update runs between two. An update merges (``combine``) rather than
    overwrites, so two reads that ran at once leave the newer knowledge."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conversation_id: str, kind: type[T]) -> T | None:
        with self._lock:
            item = self._items.get(conversation_id)
            if not isinstance(item, kind):
                return None
            self._items.move_to_end(conversation_id)
            return item

    def update(self, conversation_id: str, new: T, combine: Callable[[T, T], T]) -> T:
        """Store ``new``, combined with what is known (``combine(known, new)``); the result."""
        with self._lock:
            known = self._items.get(conversation_id)
            merged = combine(known, new) if isinstance(known, type(new)) else new
            self._items[conversation_id] = merged
            self._items.move_to_end(conversation_id)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
            return merged

    def forget(self, conversation_id: str) -> None:
        with self._lock:
            self._items.pop(conversation_id, None)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class GenerationContext:
    """What a generation's operations need to know about the client that runs them."""

    base_url: str
    poll: PollPolicy
    start_timeout: float  # starting compute: a V1 start task, a V0 restart
    max_resends: int  # how often a create that provably never arrived may be sent again
    # Conversations this client created: a lookup after a lost create must not mistake one
    # of them for the conversation it is looking for.
    created: set[str] = field(default_factory=set)
    # The whole-answer budget of one request (seconds): how long a request whose answer was
    # lost may still be on its way.
    request_timeout: float = 30.0
    # The creates of this client now in flight: a lookup must not claim what another may own.
    in_flight: list[Any] = field(default_factory=list)
    # What reads of each recent conversation learned (V0: the event cursor, the agent state).
    reads: ReadMemory = field(default_factory=ReadMemory)


@dataclass(frozen=True)
class NewConversation:
    """A create request in the unified vocabulary; each generation builds its own body."""

    prompt: str | None
    repository: str | None = None
    branch: str | None = None
    git_provider: str | None = None
    title: str | None = None
    conversation_instructions: str | None = None
    image_urls: Sequence[str] | None = None
    options: dict[str, Any] = field(default_factory=dict)


class OwnedByOtherGeneration(Exception):
    """Internal: the id belongs to the other generation of the same server (1.0–1.6.0 serve
    both, and their V0 routes show V1 conversations); the client runs the operation there.

    Deliberately not an OpenHandsError, so that no error handling on the way swallows it.
    """

    def __init__(self, version: str, conversation_id: str) -> None:
        super().__init__(f"conversation {conversation_id} belongs to the {version} API")
        self.version = version
        self.conversation_id = conversation_id


class Generation(ABC):
    """One API generation's operations (each returns an operation for a driver to run)."""

    version: ClassVar[str]
    history_format: ClassVar[str]
    """What :meth:`download_history` writes: ``"zip"`` or ``"json"`` (a file's honest suffix)."""
    chooses_conversation_id: ClassVar[bool]
    """Whether a create takes a ``conversation_id`` the client chose (V1): a batch records it
    before the send, so that a later run finds the conversation by it."""
    self_hosted_running_limit: ClassVar[int | None]
    """How many conversations a self-hosted server runs at once by default before it makes
    room by itself (V0: 3 agent loops, the oldest closed), None when it has no such limit."""

    def __init__(self, context: GenerationContext) -> None:
        self.context = context

    @abstractmethod
    def create(self, request: NewConversation, *, start_timeout: float | None = None) -> Op[Conversation]:
        """Start a conversation exactly once; return when the server has accepted it.

        Where starting is part of creating (a V1 start task, followed to READY), it takes at
        most ``start_timeout`` seconds (None: the client's), and each look at the start that
        found it still going is a Progress snapshot (outcome ``in_progress``)."""

    @abstractmethod
    def find_created(
        self,
        request: NewConversation,
        *,
        since: float,
        conversation_id: str | None,
        exclude: frozenset[str],
    ) -> Op[Conversation | None]:
        """The conversation an earlier create of ``request`` made — one sent at ``since`` (wall
        clock) by a client that may no longer exist, so none of this client's memory of its own
        creates helps — or None when provably there is none. ``conversation_id``: the id that
        create chose (V1). ``exclude``: ids that are known not to be it (the caller's other
        conversations). CreateUndecided when it cannot tell within the start timeout."""

    @abstractmethod
    def observe(self, conversation_id: str) -> Op[ConversationResult]:
        """One look: the conversation and its outcome now (NotFoundError if unknown)."""

    @abstractmethod
    def result(self, conversation_id: str) -> Op[ConversationResult]:
        """Like :meth:`observe`, looking further for the final message when it must."""

    @abstractmethod
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
        """Poll until the turn (the one ``after`` started, if given) has an outcome, for
        ``timeout`` seconds from ``started`` (monotonic; None: now). With ``live`` (the
        driver can open WebSockets), a generation that has a pushed event stream waits on
        it instead, looking only when its events call for it; the others poll."""

    @abstractmethod
    def send_message(self, conversation_id: str, message: str, *, resume: bool) -> Op[SentMessage]:
        """Send a follow-up, first bringing stopped compute back if needed and allowed."""

    @abstractmethod
    def iter_conversations(
        self, *, page_size: int, filters: dict[str, Any], query: ListQuery | None = None
    ) -> Op[None]:
        """Emit every conversation (unified ``Conversation``), newest first: those ``query``
        keeps (:mod:`.listing`), with their outcome when it asks for it. ``filters`` are the
        generation's own server filters, sent as given."""

    @abstractmethod
    def iter_events(self, conversation_id: str, *, reverse: bool, page_size: int) -> Op[None]:
        """Emit every event (unified ``Event``); NotFoundError for an unknown conversation."""

    @abstractmethod
    def event_source(self, conversation_id: str, *, since: Since) -> EventSource:
        """The conversation's events after ``since``, read by polling (``streaming.py``);
        NotFoundError for an unknown conversation, on the first read."""

    @abstractmethod
    def stop(self, conversation_id: str) -> Op[None]:
        """Stop the compute (V0 runtime; V1 pauses the sandbox)."""

    @abstractmethod
    def resume(self, conversation_id: str) -> Op[None]:
        """Start the compute again."""

    @abstractmethod
    def delete(self, conversation_id: str) -> Op[bool]:
        """Delete it and its compute; False if there was no such conversation."""

    @abstractmethod
    def set_title(self, conversation_id: str, title: str) -> Op[None]:
        """Rename it."""

    @abstractmethod
    def count_running(self) -> Op[int]:
        """How many of the user's conversations the server counts against its limit of
        running ones now (the whole listing is read)."""

    @abstractmethod
    def download_history(self, conversation_id: str, destination: Path) -> Op[Path]:
        """Save the full history to ``destination``."""

    @abstractmethod
    def download_workspace(self, conversation_id: str, destination: Path) -> Op[Path]:
        """Save the workspace's files as a zip to ``destination``; NotSupportedError where
        the server offers no such download."""

    def get(self, conversation_id: str) -> Op[Conversation]:
        result = yield from self.observe(conversation_id)
        return result.conversation

    def events_since(self, conversation_id: str, *, since: Since) -> Op[None]:
        """Emit the events after ``since`` (unified ``Event``), oldest first, to the newest now."""
        yield from self.event_source(conversation_id, since=since).read()

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
        """Emit the events after ``since``, then each new one as it comes, until the turn has
        the outcome ``wait`` would return (for ``timeout`` seconds from ``started``); return it.
        The source is this generation's polled one (``streaming.follow`` takes any source);
        a generation with a pushed stream uses it when ``live`` allows."""
        source = self.event_source(conversation_id, since=since)
        turn = self.wait(conversation_id, timeout=timeout, after=None, poll=poll, started=started)
        return follow(source, turn, deadline=started + timeout)

    def send_and_wait(
        self, conversation_id: str, message: str, *, timeout: float, live: bool = False
    ) -> Op[ConversationResult]:
        sent = yield from self.send_message(conversation_id, message, resume=True)
        result = yield from self.wait(
            sent.conversation_id, timeout=timeout, after=sent, poll=self.context.poll, live=live
        )
        return result


# ---------------------------------------------------------------------------- exactly-once create

# How far back a lookup looks for a conversation made by a request whose answer was lost,
# by the client's clock; generous, because the server's clock and ours may differ. (V0 uses
# it only when the server's answers carry no Date: see CLOCK_MARGIN.)
LOOKUP_WINDOW = 600.0

# A V0 lookup reads the server's own clock instead, from the Date of its list answers: a
# conversation the lost create made was stamped (created_at) after the create was sent, so
# no earlier than that Date less the time the client measured since the send (its
# monotonic clock). This margin is subtracted on top, for a Date stamped by another clock
# than created_at (a proxy on another machine that writes its own) and for a server clock
# stepped back meanwhile: up to this much either way cannot hide the conversation.
CLOCK_MARGIN = 60.0

# A lost create is believed absent only after the lookup has looked this long (or one request
# timeout, if longer): a request whose answer timed out may still reach the server.
ABSENCE_SETTLE = 5.0

# A lookup whose own reads have all failed for this long stops: the server is not answering
# as the API (a web page for every route, say), and the caller is better told now than after
# the start timeout. Long enough that no run of transient faults gets there by chance.
SILENT_LOOKUP_LIMIT = 10.0


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


def absence_settle(exc: OpenHandsError, request_timeout: float) -> float:
    """How long a lookup must have looked before it may believe a failed create absent.

    When no answer came (a timeout, a reset), or a gateway answered for an upstream that may
    still be working on it (502/503/504), the request may yet reach the server or complete
    there: at least one request timeout, and ``ABSENCE_SETTLE``. When the server itself
    answered (an error, or a garbled or foreign answer), it is done with the request: one
    look decides."""
    if isinstance(exc, TransportError) or (
        isinstance(exc, APIStatusError) and exc.status_code in (502, 503, 504)
    ):
        return max(request_timeout, ABSENCE_SETTLE)
    return 0.0


class CreateUndecided(OpenHandsError):
    """Internal: a lookup could not tell whether a lost create happened."""


def undecided(exc: OpenHandsError, how_to_look: str) -> OpenHandsError:
    """The create's own error, saying that the conversation may exist and how to look."""
    exc.add_sentence(
        f"The conversation may have been created: {how_to_look} before trying again "
        "(openhands-api could not tell)."
    )
    return exc


def not_found(conversation_id: str, method: str, path: str) -> NotFoundError:
    """The error for an id the server does not know, naming the route that was asked."""
    return NotFoundError(
        f"Conversation {conversation_id} does not exist (unknown id, or deleted)",
        status_code=404,
        method=method,
        path=path,
    )


def wait_timed_out(
    conversation_id: str, timeout: float, last: ConversationResult | None, error: OpenHandsError | None
) -> WaitTimeoutError:
    """The error of a wait that ran out of time, with what it saw last."""
    state = f"last seen: {last.outcome.value}" if last else "no answer yet"
    if error is not None:
        state += f"; last error: {error}"
    return WaitTimeoutError(
        f"Conversation {conversation_id} did not reach an outcome within {timeout:g}s "
        f"({state}). It may still be running: wait again, or stop it.",
        conversation_id=conversation_id,
        timeout=timeout,
        last=last,
    )
