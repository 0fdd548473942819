"""Events pushed by the server: the agent server's WebSocket (CONTRACT §6.6), as decisions.

Theory of operation
-------------------
A V1 conversation runs in a sandbox whose agent server pushes each event as it happens on
``/sockets/events/{id}``. Following it live (``stream_events``) or waiting on it (``wait``)
over that socket is a loop of a few decisions, all made here, without I/O:

- *Where to connect* (:func:`socket_address`): the conversation's ``conversation_url`` is
  ``{agent server}/api/conversations/{hex}``; the socket is the same host's
  ``/sockets/events/{hex}``, ``ws://`` for ``http://`` and ``wss://`` for ``https://``.
- *How to authenticate* (:func:`auth_frame`): the session key goes in the first frame
  (``{"type": "auth", "session_api_key": …}``), never in the URL, where proxies and access
  logs would keep it.
- *From where* (:func:`subscribe_url`): when following, the agent server's whole log
  (``resend_mode=all``) at every connect, each id emitted once: its log is in the order
  events were kept, and a step's stats update is kept after the step but stamped before
  it, so no timestamp is a safe point to resume from. After the outcome the app server's
  list is read once more, for what the agent server publishes but does not keep (the
  whole-state updates) when a drop hid it. A wait, which emits nothing, resumes from the
  newest timestamp seen, or asks for nothing but what comes next.
- *What a close means* (:func:`close_error`): 4001 the key was refused, 4004 the agent server
  has no such conversation (typed errors, the stream ends); 1013 too many subscribers and any
  other close is a drop: reconnect with backoff (:class:`Reconnect`), and after too many
  failures in a row follow by polling instead.
- *What is not an event*: every connection opens with the state at that moment (a
  ConversationStateUpdateEvent not in the log: a new id and the time of the connection);
  it tells the status but is neither emitted nor a point to resume from.
- *When to ask whether the turn ended* (:func:`execution_change`): a state update (the
  execution status, or the whole state) or a conversation error. The stream never decides
  the outcome itself: it asks the generation's own look (``lifecycle.py`` decides), once per
  such event; only when that look cannot decide yet (the settle window, the answer not yet
  copied) does it look again, soon (:data:`RELOOK`) then at the poll pace, until it can. A
  silent socket costs no request at all: the end of a turn comes as an event, and a peer
  that went away (a paused or deleted sandbox) is found by the WebSocket's own pings
  (frames, not requests), which drop the socket; reopening it looks first.

The generation (``v1_ops``) runs this loop; the drivers perform its socket steps
(``http.OpenSocket`` …) with the ``websockets`` library, when installed (the ``stream``
extra). Without it, or when the socket cannot be opened (a proxy that refuses WebSockets, a
paused sandbox, an old server), the same operations poll, and say so once at debug level.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..errors import AuthenticationError, NotFoundError, OpenHandsError

SOCKET_PATH = "/sockets/events/"
CONVERSATIONS_PATH = "/api/conversations/"

# A look that could not decide yet (the answer not yet copied to the app server, the settle
# window after a message) is made again this soon, then at the poll pace: the end is near.
RELOOK = 0.25

# After the outcome is known, the events already on their way (the final full state after
# the status) are taken for this long at most, when following.
DRAIN = 0.2

# Close codes of the agent server (CONTRACT §6.6).
AUTH_FAILED = 4001
NOT_FOUND = 4004
TRY_AGAIN_LATER = 1013


@dataclass(frozen=True)
class SocketTarget:
    """Where one conversation's events are pushed, and the key that opens it (never shown)."""

    url: str
    session_key: str = field(repr=False)


def socket_address(conversation_url: str | None, base_url: str) -> str | None:
    """The WebSocket URL (without query) of the conversation at ``conversation_url``
    (``{agent server}/api/conversations/{hex}``; a path alone is on ``base_url``'s host),
    None when it is unknown (a sandbox that is not running) or not of that shape."""
    if not conversation_url:
        return None
    parts = urlsplit(conversation_url)
    if not parts.scheme:
        base = urlsplit(base_url)
        parts = parts._replace(scheme=base.scheme, netloc=base.netloc)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme.lower())
    prefix, found, conversation = parts.path.rpartition(CONVERSATIONS_PATH)
    conversation = conversation.strip("/")
    if scheme is None or not parts.netloc or not found or not conversation or "/" in conversation:
        return None
    return urlunsplit((scheme, parts.netloc, f"{prefix}{SOCKET_PATH}{conversation}", "", ""))


def subscribe_url(address: str, *, resume_from: str | None, replay: bool) -> str:
    """``address`` with the resend parameters: from the timestamp ``resume_from`` on (those
    events again included), else everything (``replay``), else only what comes next."""
    if resume_from is not None:
        params = {"resend_mode": "since", "after_timestamp": resume_from}
    elif replay:
        params = {"resend_mode": "all"}
    else:
        return address
    return f"{address}?{urlencode(params)}"


def auth_frame(session_key: str) -> str:
    """The first frame, which authenticates the socket (the key never goes in the URL)."""
    return json.dumps({"type": "auth", "session_api_key": session_key})


def close_error(code: int, reason: str, conversation_id: str, address: str) -> OpenHandsError | None:
    """The error a close code means (the stream ends with it), None for a drop to recover
    from by reconnecting: 1013 (too many subscribers) says "try again later", and when the
    attempts fail the turn is followed by polling, which needs no subscription."""
    path = urlsplit(address).path
    if code == AUTH_FAILED:
        return AuthenticationError(
            f"The agent server refused the session key of conversation {conversation_id} "
            "on its event stream (close code 4001)",
            status_code=401,
            method="WEBSOCKET",
            path=path,
            remedy="Check that the conversation's sandbox is the one running; openhands-api "
            "reads the key from the conversation, so a new look usually has the current one",
        )
    if code == NOT_FOUND:
        return NotFoundError(
            f"The agent server has no conversation {conversation_id} (event stream close code 4004)",
            status_code=404,
            method="WEBSOCKET",
            path=path,
        )
    return None


@dataclass(frozen=True)
class Reconnect:
    """The backoff between attempts to reopen a dropped stream; after ``len(delays)``
    failures in a row the caller follows by polling instead."""

    delays: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)

    def delay(self, failures: int) -> float | None:
        """Seconds before attempt ``failures`` (1: the first after a drop); None: give up."""
        if failures < 1 or failures > len(self.delays):
            return None
        return self.delays[failures - 1]


RECONNECT = Reconnect()


class SeenEvents:
    """What a stream has emitted: every event id (so a replayed event is dropped), and the
    newest timestamp (where a reconnection resumes). Timestamps are the server's own text
    (local time, no zone), compared as text: one server writes them all alike."""

    def __init__(self, resume_from: str | None = None) -> None:
        self.ids: set[str] = set()
        self.resume_from = resume_from

    def accept(self, event_id: str, timestamp: str | None) -> bool:
        """Whether the event is new (and remember it)."""
        if event_id in self.ids:
            return False
        self.ids.add(event_id)
        if timestamp is not None and (self.resume_from is None or timestamp > self.resume_from):
            self.resume_from = timestamp
        return True


def decode_frame(frame: str) -> dict[str, Any] | None:
    """A frame's event (a JSON object with an ``id``), None for anything else."""
    try:
        data = json.loads(frame)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return None
    return data


def execution_change(event: dict[str, Any]) -> str | None:
    """The execution status an event announces (a state update of ``execution_status`` or
    of the ``full_state``; a ConversationErrorEvent announces ``error``), else None. It is a
    reason to look, not an outcome: the look decides."""
    kind = event.get("kind")
    if kind == "ConversationErrorEvent":
        return "error"
    if kind != "ConversationStateUpdateEvent":
        return None
    value = event.get("value")
    if event.get("key") == "execution_status" and isinstance(value, str):
        return value
    if event.get("key") == "full_state" and isinstance(value, dict):
        status = value.get("execution_status")
        return status if isinstance(status, str) else None
    return None


def is_subscription_state(first: dict[str, Any]) -> bool:
    """Whether a connection's first frame is the agent server's greeting: the state at that
    moment (a ConversationStateUpdateEvent it sends every new subscriber, before the resent
    events), which is not an event of the conversation's log. A server without the greeting
    whose first resent event is the log's opening full state would lose that one event from
    a stream that had no history to read (``resend_mode=all``); agent servers since 1.x greet."""
    return first.get("kind") == "ConversationStateUpdateEvent"


def calls_for_look(status: str) -> bool:
    """Whether an announced status is worth a look: all but ``running``, which only says the
    turn goes on (its snapshot comes from the next look)."""
    return status != "running"
