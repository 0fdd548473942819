"""What a person may type where a conversation id is wanted: the id, a unique prefix of it, or
the conversation's web URL (``{base_url}/conversations/{id}``, as ``Conversation.web_url``).

:func:`parse_reference` decides locally, without a request, what the text is: a full id (32
hex characters, dashes allowed: both generations' ids are UUIDs) or any other well-formed id
is used as given, so it costs nothing; a URL must be of the configured server, and gives the
id (or prefix) it ends in. Only a prefix needs the server: :func:`find_by_prefix` looks
through the conversation listing (newest first, pages of 100) and stops as soon as it can
decide, at the latest after ``scan_limit`` conversations.

A URL of another server is refused (:class:`InvalidInputError`) rather than followed or
quietly tried on the configured one: nothing goes to a server the caller did not configure,
and the message says which base URL would reach that one. OpenHands Cloud's hosts count as one
server.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from ..config import is_cloud
from ..errors import AmbiguousIdError, InvalidInputError, NotFoundError, OpenHandsError
from .http import Call, Emit, Op
from .validation import _printable, validate_id

MIN_PREFIX_LENGTH = 4
"""Shorter prefixes are refused: 3 hex characters are shared by one conversation in 4096."""
MAX_PREFIX_SCAN = 1000
"""How many of the newest conversations a prefix is looked for among (10 list requests)."""
PREFIX_PAGE_SIZE = 100  # the largest page either generation's listing serves
SHOWN_CANDIDATES = 3  # how many conversations an ambiguity error names

_FULL_ID_RE = re.compile(
    r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)
_HEX_RE = re.compile(r"[0-9a-fA-F-]+")
_WEB_PATH = "/conversations/"
_CREDENTIALS_RE = re.compile(r"//[^/?#]*@")  # user:password@ in a URL, never repeated in a message


@dataclass(frozen=True)
class Reference:
    """What a text names: a ``conversation_id`` to use as given, or a ``prefix`` (lowercase
    hex, dashes removed) to look up. ``text`` is the id part as typed (for messages)."""

    text: str
    conversation_id: str | None = None
    prefix: str | None = None


def parse_reference(text: object, base_url: str) -> Reference:
    """Read ``text`` as a full id, an id prefix or a web URL of ``base_url``'s server.

    Raises InvalidInputError for a malformed id, a prefix shorter than ``MIN_PREFIX_LENGTH``,
    or a URL that is not a conversation page of the configured server."""
    if not isinstance(text, str):
        raise InvalidInputError(f"The conversation id must be a string, got {type(text).__name__}")
    given = text.strip()
    if "://" in given:
        given = id_from_web_url(given, base_url)
    validate_id(given)
    if _FULL_ID_RE.fullmatch(given):
        return Reference(given, conversation_id=given)
    digits = given.replace("-", "").lower()
    if not _HEX_RE.fullmatch(given) or len(digits) > 32:
        return Reference(given, conversation_id=given)  # not a prefix of any id: the server decides
    if len(digits) < MIN_PREFIX_LENGTH:
        raise InvalidInputError(
            f"The id prefix {given!r} is too short: give at least {MIN_PREFIX_LENGTH} characters "
            "of the id (the first 8 are usually enough), the whole id, or its web URL"
        )
    return Reference(given, prefix=digits)


def id_from_web_url(url: str, base_url: str) -> str:
    """The id in ``{base_url}/conversations/{id}`` (a trailing slash, a sub-page, a query or
    a fragment are ignored); InvalidInputError for any other URL, or one of another server."""
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL")
        _origin(parts)  # a bad port raises ValueError
    except ValueError:
        shown = _printable(_CREDENTIALS_RE.sub("//", url))
        raise InvalidInputError(
            f"{shown!r} is not a conversation's web URL (expected {base_url}/conversations/ID)"
        ) from None
    base = urlsplit(base_url)
    where = parts.path.find(_WEB_PATH)
    server = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"  # never the URL's credentials
    if not _same_server(parts, base):
        suggested = server + (parts.path[:where].rstrip("/") if where >= 0 else "")
        raise InvalidInputError(
            f"The URL is of the server {_printable(suggested)}, not of the configured one "
            f"({base_url}), so nothing was sent: to use that server, set it as the base URL "
            f"(--base-url {_printable(suggested)}, or base_url=); to look on {base_url}, give the id alone"
        )
    head = base.path.rstrip("/") + _WEB_PATH
    if not parts.path.startswith(head) or not parts.path[len(head) :].strip("/"):
        raise InvalidInputError(
            f"{_printable(server + parts.path)!r} is not a conversation's web URL "
            f"(expected {base_url}/conversations/ID)"
        )
    return parts.path[len(head) :].split("/", 1)[0]


def _origin(parts: SplitResult) -> tuple[str, str, int]:
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def _same_server(url: SplitResult, base: SplitResult) -> bool:
    if is_cloud(url.geturl()) and is_cloud(base.geturl()):
        return url.scheme == base.scheme == "https"
    return _origin(url) == _origin(base)


def matches_prefix(conversation_id: str, prefix: str) -> bool:
    return conversation_id.replace("-", "").lower().startswith(prefix)


def scan_pages(scan_limit: int) -> int:
    """How many list requests a prefix search makes at most (besides a version detection)."""
    return math.ceil(scan_limit / min(PREFIX_PAGE_SIZE, scan_limit))


def find_by_prefix(listing: Op[None], reference: Reference, scan_limit: int) -> Op[str]:
    """The id of the one conversation of ``listing`` (an operation emitting conversations,
    newest first) whose id starts with ``reference.prefix``.

    Reads page after page until the listing ends, or, before asking for another page, until
    two matches are known (ambiguous: the rest cannot make it unique) or ``scan_limit``
    conversations or ``scan_pages(scan_limit)`` pages were read. NotFoundError when no
    conversation matches; AmbiguousIdError when several do, or when the one found was found
    before the end of the listing (an older conversation might share the prefix)."""
    prefix = reference.prefix or ""
    matches: list[Any] = []
    scanned = pages = 0
    path = ""
    complete = False
    value: Any = None
    error: OpenHandsError | None = None
    try:
        while True:
            try:
                step = listing.throw(error) if error is not None else listing.send(value)
            except StopIteration:
                complete = True
                break
            value, error = None, None
            if isinstance(step, Emit):
                scanned += 1
                if matches_prefix(step.item.id, prefix):
                    matches.append(step.item)
                continue
            if isinstance(step, Call):
                if len(matches) > 1 or scanned >= scan_limit or pages >= scan_pages(scan_limit):
                    break
                pages += 1
                path = step.request.path
            try:
                value = yield step
            except OpenHandsError as exc:
                error = exc
    finally:
        listing.close()
    if len(matches) == 1 and complete:
        return str(matches[0].id)
    if not matches:
        among = "" if complete else f" among the newest {scanned} (older ones were not searched)"
        raise NotFoundError(
            f"No conversation's id starts with {reference.text!r}{among}; "
            "'openhands-api list' shows the ids, or give the whole id or its web URL",
            status_code=404,
            method="GET",
            path=path,
        )
    raise AmbiguousIdError(
        ambiguity_message(reference.text, matches, complete, scanned),
        prefix=prefix,
        candidates=matches,
        complete=complete,
    )


def ambiguity_message(text: str, matches: list[Any], complete: bool, scanned: int) -> str:
    """One line: how many conversations start with ``text``, the newest few, what to do."""
    shown = ", ".join(_candidate(c) for c in matches[:SHOWN_CANDIDATES])
    more = len(matches) - SHOWN_CANDIDATES
    if more > 0:
        shown += f" and {more} more"
    if len(matches) == 1:  # found, but the search stopped before the end of the listing
        return (
            f"{text!r} names {shown} among the newest {scanned} conversations, but older ones "
            "were not searched: give the whole id (or its web URL)"
        )
    count = f"{len(matches)}" if complete else f"At least {len(matches)}"
    return f"{count} conversations start with {text!r}: {shown}; give more characters of the id"


def _candidate(conversation: Any) -> str:
    title = " ".join((conversation.title or "").split())
    if len(title) > 40:
        title = title[:39] + "…"
    return f"{conversation.id} ({_printable(title)!r})" if title else str(conversation.id)
