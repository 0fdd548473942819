"""Helpers every route description uses: input validation and response parsing.

Validation refuses bad input before a request exists (ids with path characters, limits out of
range, empty prompts, malformed ``owner/repo``), with an :class:`InvalidInputError` that says
what a good value looks like. Parsing turns a :class:`Response` into a result or a typed error.
No I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..errors import InvalidInputError, ProtocolError
from .errors import error_from_response
from .http import Call, Request, Response, decode_json

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

MAX_ID_LENGTH = 100  # the V0 server refuses longer ids with 400 "Conversation ID is too long"
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_REPO_SEGMENT_RE = re.compile(r"[A-Za-z0-9_.-]+")
MAX_MESSAGE_CHARS = 1_000_000  # beyond this a prompt is almost certainly a mistake


def validate_id(value: object, what: str = "conversation id") -> str:
    """A conversation/start-task/sandbox id: letters, digits, ``-`` and ``_`` only."""
    if not isinstance(value, str):
        raise InvalidInputError(f"The {what} must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidInputError(f"The {what} is empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidInputError(
            f"The {what} is {len(value)} characters long; ids are at most {MAX_ID_LENGTH}"
        )
    if not _ID_RE.fullmatch(value):
        raise InvalidInputError(
            f"The {what} {_printable(value)!r} may contain only letters, digits, '-' and '_' "
            "(e.g. 'febc01c200bc4ddb9ef1de4af3b17f32')"
        )
    return value


def validate_limit(value: object, low: int, high: int, what: str = "limit") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"The {what} must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidInputError(f"The {what} must be between {low} and {high}, got {value}")
    return value


def validate_repository(value: object) -> str:
    """``owner/repo`` (GitLab subgroups ``group/sub/repo`` allowed)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError("The repository must be given as owner/repo")
    text = value.strip()
    segments = text.split("/")
    if len(segments) < 2 or any(not _REPO_SEGMENT_RE.fullmatch(s) or s in (".", "..") for s in segments):
        raise InvalidInputError(
            f"The repository {_printable(text)!r} is not in the form owner/repo (e.g. OpenHands/OpenHands)"
        )
    return text


def validate_message(value: object, what: str = "message") -> str:
    """A prompt or follow-up: non-empty text of a sane size."""
    if not isinstance(value, str):
        raise InvalidInputError(f"The {what} must be text, got {type(value).__name__}")
    if not value.strip():
        raise InvalidInputError(f"The {what} is empty; give the agent something to do")
    if len(value) > MAX_MESSAGE_CHARS:
        raise InvalidInputError(
            f"The {what} is {len(value):,} characters long; the limit is {MAX_MESSAGE_CHARS:,}"
        )
    if "\x00" in value:
        raise InvalidInputError(f"The {what} contains a NUL character (is it a binary file?)")
    return value


def _printable(value: str, limit: int = 60) -> str:
    cleaned = "".join(c if c.isprintable() else "?" for c in value)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def check(request: Request, response: Response) -> None:
    """Raise the typed error for an error status, or for a redirect.

    Redirects are never followed: following one to another host would hand it the API key,
    and the OpenHands API does not redirect. The error names where it pointed, so a wrong base
    URL (``http://`` for ``https://``, a missing path prefix) is easy to fix.
    """
    if 300 <= response.status_code < 400:
        location = response.headers.get("location", "")
        try:
            target = urlsplit(location)
            where = f"{target.scheme}://{target.netloc}{target.path}" if target.netloc else target.path
        except ValueError:
            where = "an address that is not a valid URL"
        raise ProtocolError(
            f"{request.describe()} was redirected (HTTP {response.status_code}) to {where or 'nowhere'}; "
            "redirects are not followed, so that the API key never goes to another address. "
            "Set the base URL to the address the server redirects to.",
            status_code=response.status_code,
            method=request.method,
            path=request.path,
        )
    if response.status_code >= 400:
        raise error_from_response(request, response)


def parse_as(request: Request, value: Any, adapter: TypeAdapter[T]) -> T:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        problems = exc.errors()
        where = ".".join(str(p) for p in problems[0]["loc"]) if problems else ""
        message = problems[0]["msg"] if problems else "invalid"
        raise ProtocolError(
            f"{request.describe()} answered with JSON of an unexpected shape ({where or 'body'}: {message})",
            method=request.method,
            path=request.path,
        ) from exc


def json_call(request: Request, convert: Callable[[Any], T]) -> Call[T]:
    """A call whose successful answer is JSON handed to ``convert``."""

    def parse(response: Response) -> T:
        check(request, response)
        return convert(decode_json(response, request))

    return Call(request, parse)


@functools.cache
def _adapter(type_: Any) -> TypeAdapter[Any]:
    # Building a TypeAdapter costs far more than validating with one: build each type's once.
    return TypeAdapter(type_)


def model_call(request: Request, type_: Any) -> Call[Any]:
    """A call whose successful answer is JSON validated as ``type_`` (a model, list, …)."""
    adapter = _adapter(type_)
    return json_call(request, lambda value: parse_as(request, value, adapter))


def expect_bool(request: Request) -> Callable[[Any], bool]:
    def convert(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, dict) and isinstance(value.get("success"), bool):
            return bool(value["success"])
        raise ProtocolError(
            f"{request.describe()} answered {str(value)[:60]!r} where true/false was expected",
            method=request.method,
            path=request.path,
        )

    return convert


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


def probe_call(path: str, collection_key: str) -> Call[bool]:
    """``GET path?limit=1``: does the server speak the API this listing belongs to?

    404/405 or a web page mean no; a JSON object with ``collection_key`` means yes. A 401/403
    or a 5xx raises: auth must be fixed first, and a failing server is not evidence of a
    missing API (CONTRACT §1.6)."""
    request = Request("GET", path, params=(("limit", "1"),))

    def parse(response: Response) -> bool:
        if response.status_code in (404, 405):
            return False
        if response.status_code < 400 and not response.is_json:
            return False
        check(request, response)
        body = decode_json(response, request)
        return isinstance(body, dict) and collection_key in body

    return Call(request, parse)
