"""The vocabulary shared by the protocol layer and the drivers: requests, responses, steps.

A route function returns a :class:`Call`: the :class:`Request` to send plus the function that
turns the :class:`Response` into a result or a typed error. A multi-step operation (a
generation's method) is a generator that yields :class:`Call`, :class:`Sleep`, :class:`Now`,
:class:`Emit`, :class:`Progress` and :class:`Shared` steps (and, for a live stream, the
socket steps :class:`OpenSocket`, :class:`ReceiveFrame`, :class:`CloseSocket`); a driver (``client.py`` /
``aio.py``) performs each step and sends the result back.

Nothing here performs I/O, reads a clock or knows about httpx.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from .._redaction import preview
from ..errors import OpenHandsError

T = TypeVar("T")


class _NoBody:
    def __repr__(self) -> str:
        return "NO_BODY"


NO_BODY: Any = _NoBody()


# How much larger than an ordinary answer a ``bulk`` one may be.
BULK_FACTOR = 16


@dataclass(frozen=True)
class JsonDocument:
    """What a JSON answer streamed to a file must look like to be the file, checked as it
    streams and never parsed whole: it opens with ``opening`` and ends with ``closing``
    (regular expressions over the decoded bytes; ``closing`` is matched at the very end).

    The opening is decided on the first ``HEAD`` bytes: an answer that does not open so (an
    error sent with 200, some other JSON) is not the file, and is read as an ordinary answer
    for the parser to say what came. One that opens so but does not close so was cut short
    (a proxy that ends the body by closing the connection leaves no other trace) and is an
    error; neither leaves a file.
    """

    opening: bytes
    closing: bytes

    HEAD: ClassVar[int] = 64
    TAIL: ClassVar[int] = 64

    def opens(self, head: bytes) -> bool:
        return re.match(self.opening, head) is not None

    def closes(self, tail: bytes) -> bool:
        return re.search(self.closing + rb"\Z", tail) is not None


@dataclass(frozen=True)
class Request:
    """One HTTP request, described without sending it.

    ``idempotent`` says whether sending it twice is harmless; the retry policy only resends
    a non-idempotent request (a create, a message) when it provably never reached the
    server. ``deadline`` (monotonic seconds) bounds the request and its retries. ``bulk``
    marks an answer that is a whole history (the V0 trajectory): it may be larger than the
    client's cap on ordinary answers (``BULK_FACTOR`` times it). A successful ``stream_to``
    answer goes to that file as it comes (through a temporary file, renamed once complete);
    without ``bulk`` it has neither cap nor whole-answer deadline (a workspace zip may be
    large), with it both hold as for a bulk answer read into memory. ``stream_json`` says
    that the file is a JSON answer, and what it looks like (:class:`JsonDocument`); without
    it, a JSON or text answer is an error or a page, never the file. ``content`` is a body of
    bytes sent as given (a raw request's ``--input``), instead of ``json``.
    """

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    json: Any = NO_BODY
    idempotent: bool = True
    stream_to: Path | None = None
    deadline: float | None = None
    headers: tuple[tuple[str, str], ...] = ()
    bulk: bool = False
    stream_json: JsonDocument | None = None
    content: bytes | None = None

    @property
    def has_body(self) -> bool:
        return self.json is not NO_BODY

    def describe(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Response:
    """What a driver hands back: status, lower-cased headers, and the body bytes.

    For a streamed download the body went to ``request.stream_to`` and ``content`` is empty;
    ``downloaded`` then holds the number of bytes written. ``received_at`` is the driver's
    wall clock (epoch seconds) when the answer came, for hints given as dates (``Retry-After``);
    ``secrets`` are the keys the request was sent with (the driver's), masked in every text
    made from the answer.
    """

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    downloaded: int | None = None
    received_at: float | None = None
    # The client's own keys, so that previews and errors made from this answer never show them.
    secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def is_json(self) -> bool:
        ctype = self.content_type
        return ctype == "application/json" or ctype.endswith("+json")

    def text_preview(self, limit: int = 200) -> str:
        """At most ``limit`` characters of the body on one line, the client's secrets masked
        before it is cut (so no cut leaves part of a key behind)."""
        return preview(self.content, self.secrets, limit)


@dataclass(frozen=True)
class Call(Generic[T]):
    """A request plus the parser of its response."""

    request: Request
    parse: Callable[[Response], T]

    def with_deadline(self, deadline: float | None) -> Call[T]:
        if deadline is None:
            return self
        return Call(replace(self.request, deadline=deadline), self.parse)


@dataclass(frozen=True)
class Sleep:
    """Wait this many seconds before the operation continues."""

    seconds: float


@dataclass(frozen=True)
class Now:
    """Ask the driver for the time in seconds: the monotonic clock, or with ``wall`` the
    wall clock (epoch seconds, to compare with server timestamps)."""

    wall: bool = False


@dataclass(frozen=True)
class Emit:
    """Hand one item to the caller of an iterator; the operation resumes when asked for more."""

    item: Any


@dataclass(frozen=True)
class Progress:
    """A snapshot of a wait that has not ended yet, for a caller who asked to follow it
    (``wait(on_progress=…)``); drivers drop it when nobody asked."""

    item: Any


@dataclass(frozen=True)
class Shared:
    """Run the operation ``start()`` makes once for all the client's operations that ask for
    the same ``key`` while it runs (the version detection of many concurrent first calls):
    each gets its result, or its error. A failure is not kept: the next ask runs it again.

    ``deadline`` (monotonic seconds) bounds how long this asker waits for it; a waiter that
    gives up (its deadline, its cancellation) does not stop the run the others wait on.
    """

    key: str
    start: Callable[[], Generator[Any, Any, Any]]
    deadline: float | None = None


@dataclass(frozen=True)
class OpenSocket:
    """Open a WebSocket to ``url`` (``ws://`` or ``wss://``) and send ``first_frame`` (if any) as
    its first text message; the result is the socket, for :class:`ReceiveFrame` and
    :class:`CloseSocket`. The connection must be made by ``deadline`` (monotonic seconds).
    A socket that cannot be opened (no WebSocket library, refused upgrade, unreachable host)
    is a :class:`SocketUnavailable` error. ``first_frame`` may hold a key: never shown."""

    url: str
    first_frame: str | None = field(repr=False)
    deadline: float | None = None


@dataclass(frozen=True)
class ReceiveFrame:
    """The next text frame of ``socket``, or None if none came within ``timeout`` seconds;
    a closed socket is a :class:`SocketClosed` error."""

    socket: Any
    timeout: float


@dataclass(frozen=True)
class CloseSocket:
    """Close ``socket`` (no error if it is closed already)."""

    socket: Any


class SocketUnavailable(OpenHandsError):
    """Internal: the WebSocket could not be opened; the caller follows by polling instead."""


class SocketClosed(OpenHandsError):
    """Internal: the WebSocket was closed, with the close ``code`` (1006: no close frame)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"the event stream closed (code {code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


SocketStep = OpenSocket | ReceiveFrame | CloseSocket
Step = Call[Any] | Sleep | Now | Emit | Progress | Shared | SocketStep
# An operation yields steps and receives each step's result (None for Sleep, Emit, Progress).
Op = Generator[Step, Any, T]


def query(**params: Any) -> tuple[tuple[str, str], ...]:
    """Query parameters without the ``None`` ones; booleans as ``true``/``false``."""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            out.extend((key, _text(v)) for v in value)
        else:
            out.append((key, _text(value)))
    return tuple(out)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def web_url(base_url: str, conversation_id: str) -> str:
    """The conversation's page in the web app (CONTRACT §1.2)."""
    return f"{base_url.rstrip('/')}/conversations/{conversation_id}"
