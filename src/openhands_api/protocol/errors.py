"""Turn an HTTP error response into the matching typed exception.

OpenHands answers errors in several shapes (CONTRACT.md §2.1, §5.1): ``{"detail": str}``,
validation ``{"detail": [{loc, msg, …}]}``, ``{"detail": {"error": …, "message": …}}``,
``{"error": str}``, ``{"status": "error", "message": …, "msg_id": …}``, ``{"message": str}``,
a bare JSON string, or plain text / HTML. This module reads them all into one ``detail``
string and picks the class by status. It does no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from .. import errors
from .http import Request, Response
from .retry import parse_retry_after

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

_HINTS: dict[type[errors.APIStatusError], str] = {
    errors.AuthenticationError: (
        "Check the API key (api_key= or OPENHANDS_API_KEY); for a self-hosted server started "
        "with SESSION_API_KEY, pass session_api_key= or set OPENHANDS_SESSION_API_KEY."
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


def detail_of(body: Any, response: Response) -> str:
    """The human-readable message inside any of OpenHands' error shapes."""
    if isinstance(body, str):
        if not response.is_json and ("html" in response.content_type or body.lstrip().startswith("<")):
            return "an HTML page instead of an API answer"
        return body or "(empty body)"
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
    return json.dumps(body)[:300]


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
    detail = detail_of(body, response)
    cls = _CLASS_BY_STATUS.get(status, errors.ServerError if status >= 500 else errors.APIStatusError)
    headers = dict(response.headers)
    common: dict[str, Any] = {
        "status_code": status,
        "method": request.method,
        "path": request.path,
        "body": body,
        "detail": detail,
        "headers": headers,
    }
    prefix = f"{request.describe()} failed with HTTP {status}: {detail}"
    if status == 429:
        concurrency = _concurrency_limit(body)
        if concurrency is not None:
            limit, current = concurrency
            return errors.ConcurrencyLimitError(
                _sentences(
                    prefix,
                    f"Too many conversations are running ({current} of {limit} allowed): "
                    "stop, pause or delete one, then try again. Not retried automatically",
                ),
                limit=limit,
                current=current,
                retry_after=None,
                **common,
            )
        return errors.RateLimitError(
            _sentences(prefix, _HINTS[errors.RateLimitError]),
            retry_after=parse_retry_after(headers.get("retry-after")),
            **common,
        )
    hint = _HINTS.get(cls) or _HINTS.get(errors.ServerError if status >= 500 else cls, "")
    return cls(_sentences(prefix, hint), **common)


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
