"""Reading answers: every response becomes a result or a typed error, here and only here.

- :func:`check` raises the typed error for an error status (or a redirect, never followed);
  :func:`error_from_response` reads OpenHands' many error shapes (CONTRACT.md §2.1, §5.1):
  ``{"detail": str}``, validation ``{"detail": [{loc, msg, …}]}``, ``{"detail": {"error": …,
  "message": …}}``, ``{"error": str}``, ``{"status": "error", "message": …, "msg_id": …}``,
  ``{"message": str}``, a bare JSON string, or plain text / HTML, into one ``detail`` and
  picks the class by status.
- :func:`decode_json`, :func:`json_call`, :func:`model_call`, :func:`expect_bool` and
  :func:`probe_call` turn a successful answer into JSON, a model, a boolean; anything that is
  not what the API promises (HTML, cut or wrongly shaped JSON) is a :class:`ProtocolError`.

No I/O.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, TypeAdapter, ValidationError

from .. import errors
from .._redaction import redact, scrub
from ..errors import ProtocolError
from ..models import EventPage
from .http import Call, Request, Response
from .retry import parse_retry_after

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def decode_json(response: Response, request: Request) -> Any:
    """The JSON body of a successful response, or a ProtocolError saying what came instead."""
    if not response.is_json:
        kind = (
            "an HTML page"
            if "html" in response.content_type or response.content.lstrip()[:1] == b"<"
            else (f"a {response.content_type or 'untyped'} body")
        )
        raise ProtocolError(
            f"{request.describe()} answered {response.status_code} with {kind} where JSON was "
            f"expected ({response.text_preview(80)!r}). Is the base URL an OpenHands API server, "
            "and is the server healthy?",
            status_code=response.status_code,
            method=request.method,
            path=request.path,
        )
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise ProtocolError(
            f"{request.describe()} answered {response.status_code} with invalid JSON "
            f"({response.text_preview(80)!r})",
            status_code=response.status_code,
            method=request.method,
            path=request.path,
        ) from exc


_CLASS_BY_STATUS: dict[int, type[errors.APIStatusError]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    410: errors.GoneError,
    422: errors.UnprocessableEntityError,
    429: errors.RateLimitError,
}

# Remedies (templates naming settings, see errors.OpenHandsError.remedy): no data in them.
_HINTS: dict[type[errors.APIStatusError], str] = {
    errors.AuthenticationError: (
        "Check the API key ({api_key} or OPENHANDS_API_KEY); for a self-hosted server started "
        "with SESSION_API_KEY, pass {session_api_key} or set OPENHANDS_SESSION_API_KEY."
    ),
    errors.PermissionDeniedError: "The key is valid but not allowed to do this.",
    errors.RateLimitError: "Too many requests: slow down and try again shortly.",
    errors.ServerError: "The server failed; try again later.",
}


def body_of(response: Response) -> Any:
    """The decoded JSON body if there is one, else the start of the text."""
    if response.is_json:
        try:
            return json.loads(response.content)
        except ValueError:
            pass
    return response.text_preview(300)


def detail_of(body: Any, response: Response, message: str | None) -> str:
    """The human-readable message inside any of OpenHands' error shapes: the server's own
    ``message`` (:func:`server_message_of`), else a short dump of the body, or what kind of
    body it was."""
    if message is not None:
        return message
    if isinstance(body, str):
        if _is_page(body, response):
            return "an HTML page instead of an API answer"
        return "(empty body)"
    return redact(json.dumps(body), response.secrets)[:300]


def server_message_of(body: Any, response: Response) -> str | None:
    """The server's own sentence in any of OpenHands' error shapes; None when there is none
    (a bare ``{"status": "error", …}``, a web page, an empty body)."""
    if isinstance(body, str):
        return None if _is_page(body, response) or not body else body
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list):
            return "; ".join(_validation_item(item) for item in detail) or "validation failed"
        if isinstance(detail, dict):
            inner = detail.get("message") or detail.get("error")
            if isinstance(inner, str):
                return inner
        for key in ("message", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def _is_page(body: str, response: Response) -> bool:
    return not response.is_json and ("html" in response.content_type or body.lstrip().startswith("<"))


def _validation_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = ".".join(str(part) for part in item.get("loc", []) if part not in ("body", "query"))
    msg = item.get("msg", "invalid")
    return f"{loc}: {msg}" if loc else str(msg)


def error_from_response(request: Request, response: Response) -> errors.APIStatusError:
    """The typed exception for an error status."""
    status = response.status_code
    body = body_of(response)
    message = server_message_of(body, response)
    detail = detail_of(body, response, message)
    cls = _CLASS_BY_STATUS.get(status, errors.ServerError if status >= 500 else errors.APIStatusError)
    headers = dict(response.headers)
    secrets = response.secrets
    common: dict[str, Any] = {
        "status_code": status,
        "method": request.method,
        "path": request.path,
        "body": scrub(body, secrets),
        "detail": redact(detail, secrets),
        "server_message": None if message is None else redact(message, secrets),
        "headers": scrub(headers, secrets),
    }
    prefix = f"{request.describe()} failed with HTTP {status}: {common['detail']}"
    if status == 429:
        concurrency = _concurrency_limit(body)
        if concurrency is not None:
            limit, current = concurrency
            return errors.ConcurrencyLimitError(
                _sentences(prefix),
                remedy=f"Too many conversations are running ({current} of {limit} allowed): "
                "stop, pause or delete one, then try again. Not retried automatically.",
                limit=limit,
                current=current,
                retry_after=None,
                **common,
            )
        return errors.RateLimitError(
            _sentences(prefix),
            remedy=_HINTS[errors.RateLimitError],
            retry_after=parse_retry_after(headers.get("retry-after"), wall_now=response.received_at),
            **common,
        )
    hint = _HINTS.get(cls) or _HINTS.get(errors.ServerError if status >= 500 else cls, "")
    return cls(_sentences(prefix), remedy=hint or None, **common)


def _sentences(*parts: str) -> str:
    return " ".join(part.rstrip(". ") + "." for part in parts if part)


def _concurrency_limit(body: Any) -> tuple[int | None, int | None] | None:
    if not isinstance(body, dict):
        return None
    detail = body.get("detail")
    if isinstance(detail, dict) and detail.get("error") == "CONCURRENCY_LIMIT_REACHED":
        limit, current = detail.get("limit"), detail.get("current")
        return (limit if isinstance(limit, int) else None, current if isinstance(current, int) else None)
    return None


def is_concurrency_limit(response: Response) -> bool:
    return response.status_code == 429 and _concurrency_limit(body_of(response)) is not None


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


P = TypeVar("P", bound=EventPage)


def checked_page_call(request: Request, page_type: type[P]) -> Call[P]:
    """A page of events, told whether its answer's bytes could hold a secret at all (the
    unified events of a page that could not are not walked for secrets)."""
    inner = model_call(request, page_type)

    def parse(response: Response) -> P:
        page: P = inner.parse(response)
        page.checked_for_secrets(response.content)
        return page

    return Call(request, parse)


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


def server_clock(response: Response) -> float | None:
    """The server's wall clock when it answered (epoch seconds), read from its ``Date`` header;
    None when there is none or it is garbled. Whole seconds, cut down, and a server may stamp
    a date cached up to a second earlier (uvicorn does): never later than its clock was."""
    value = response.headers.get("date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)  # HTTP dates are GMT
    return when.timestamp()


def dated(call: Call[T]) -> Call[tuple[T, float | None]]:
    """``call``, its result paired with the server's clock of its answer (:func:`server_clock`)."""
    return Call(call.request, lambda response: (call.parse(response), server_clock(response)))


def download_call(request: Request) -> Call[int]:
    def parse(response: Response) -> int:
        check(request, response)
        if response.downloaded is None:
            decode_json(response, request)  # raises the protocol error that says what came
            raise ProtocolError(f"{request.describe()} answered JSON where a file was expected")
        return response.downloaded

    return Call(request, parse)
