"""Any route of the server, sent as given: the library's side of ``openhands-api api``.

A raw request goes through the same driver as every operation (keys, pacing, retries, size
caps, redirects never followed), so it is retried exactly as the library's own routes are:
GET, HEAD and DELETE after any failure the retry policy allows, a POST, PUT or PATCH only when
it provably never reached the server (it may create or change something). The path must be
the configured server's: an absolute URL of another host is refused before anything is sent,
so the keys never travel there.

Paging (:func:`paginate`) follows both generations' shape (CONTRACT §3.2, §4.1): an object
with the page's items under ``results`` (V0) or ``items`` (V1) and ``next_page_id``, which
is sent back as ``page_id`` until it is null.

No I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .. import errors
from .._redaction import redact, scrub
from .http import NO_BODY, Call, Emit, Op, Request, Response
from .parsing import check, decode_json

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# Sending these twice is harmless; the others are resent only when they never left.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "DELETE"})
PAGE_ITEM_KEYS = ("items", "results")  # V1, V0
# A listing longer than this many pages is a server that never says "last page".
MAX_PAGES = 1000


@dataclass(frozen=True)
class RawResponse:
    """A successful answer to :meth:`~openhands_api.OpenHandsAPI.request`: status, lower-cased
    headers and body. ``text`` and :meth:`json` never show the client's keys (a server that
    echoes a header has them replaced by ``***``); ``content`` is the body as it came."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    _secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def is_json(self) -> bool:
        ctype = self.content_type
        return ctype == "application/json" or ctype.endswith("+json")

    @property
    def text(self) -> str:
        return redact(self.content.decode("utf-8", errors="replace"), self._secrets)

    def json(self) -> Any:
        """The decoded JSON body (ValueError if it is not JSON)."""
        return scrub(json.loads(self.content), self._secrets)


def relative_path(path: str, base_url: str) -> str:
    """``path`` as a path on the server at ``base_url``: ``/api/…`` or ``api/…``, or a URL
    of that very server (its address is dropped). Any other absolute URL is refused, so that
    the keys, which every request carries, never go to another host."""
    if not isinstance(path, str) or not path.strip():
        raise errors.InvalidInputError("The path is empty: give one such as /api/conversations")
    path = path.strip()
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or path.startswith("//"):
        base = base_url.rstrip("/")
        if path == base or path.startswith(base + "/") or path.startswith(base + "?"):
            path = path[len(base) :]
        else:
            raise errors.InvalidInputError(
                f"{path!r} is not an address of the configured server {base_url}: give a path "
                "such as /api/conversations (the key is only ever sent to the configured server); "
                "nothing was sent"
            )
    if not path.startswith("/"):
        path = "/" + path
    if any(ch in path for ch in "\r\n\t\\") or "#" in path:
        raise errors.InvalidInputError(f"The path {path!r} has characters a request path cannot hold")
    return path


def _split_query(path: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A path's own query (``/api/conversations?limit=5``) as parameters, so that it and the
    given ones are sent together (httpx would otherwise drop one of them)."""
    route, _, query = path.partition("?")
    return route, tuple(parse_qsl(query, keep_blank_values=True))


def raw_request(
    method: str,
    path: str,
    base_url: str,
    *,
    params: Mapping[str, Any] | None = None,
    json_body: Any = NO_BODY,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Request:
    """The :class:`Request` for one raw call, checked: a known method, the server's own path,
    at most one body (JSON or bytes)."""
    verb = method.upper() if isinstance(method, str) else ""
    if verb not in METHODS:
        raise errors.InvalidInputError(f"Unknown HTTP method {method!r}: use one of {', '.join(METHODS)}")
    if json_body is not NO_BODY and content is not None:
        raise errors.InvalidInputError("Give the body as JSON or as bytes, not both")
    route, own_query = _split_query(relative_path(path, base_url))
    query = list(own_query)
    for key, value in (params or {}).items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        query.extend((str(key), _query_text(v)) for v in values)
    extra = dict(headers or {})
    if content is not None and not any(name.lower() == "content-type" for name in extra):
        extra["Content-Type"] = "application/json"
    return Request(
        verb,
        route,
        params=tuple(query),
        json=json_body,
        content=content,
        idempotent=verb in IDEMPOTENT_METHODS,
        headers=tuple(extra.items()),
    )


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def raw_call(request: Request) -> Call[RawResponse]:
    """The call of a raw request: an error status (or a redirect) raises the library's typed
    error, as for any route; any successful answer comes back whole."""

    def parse(response: Response) -> RawResponse:
        check(request, response)
        return RawResponse(response.status_code, dict(response.headers), response.content, response.secrets)

    return Call(request, parse)


def paginate(request: Request) -> Op[None]:
    """Every item of a paged listing, page after page: each page's ``results`` (V0) or
    ``items`` (V1), following ``next_page_id`` as ``page_id`` until it is null. An answer that
    is a JSON array is one page of its own; anything else is not a listing (ProtocolError).
    A page id the server gave before ends the walk (a server that pages in a circle)."""
    if request.method != "GET":
        raise errors.InvalidInputError("Only a GET listing can be paged through")
    seen: set[str] = set()
    current = request
    for _ in range(MAX_PAGES):
        response: RawResponse = yield raw_call(current)
        page = _page_json(current, response)
        if isinstance(page, list):
            for item in page:
                yield Emit(item)
            return
        items = next((page[key] for key in PAGE_ITEM_KEYS if isinstance(page.get(key), list)), None)
        if items is None:
            raise errors.ProtocolError(
                f"{current.describe()} is not a paged listing: its answer has no 'items' or 'results' list",
                status_code=response.status_code,
                method=current.method,
                path=current.path,
            )
        for item in items:
            yield Emit(item)
        next_page = page.get("next_page_id")
        if next_page is None or str(next_page) in seen:
            return
        seen.add(str(next_page))
        params = (*((k, v) for k, v in request.params if k != "page_id"), ("page_id", str(next_page)))
        current = Request(
            current.method,
            current.path,
            params=params,
            idempotent=current.idempotent,
            headers=current.headers,
        )


def _page_json(request: Request, answer: RawResponse) -> Any:
    response = Response(answer.status_code, answer.headers, answer.content, secrets=answer._secrets)
    value = scrub(decode_json(response, request), answer._secrets)
    if not isinstance(value, (dict, list)):
        raise errors.ProtocolError(
            f"{request.describe()} is not a paged listing (its answer is a JSON {type(value).__name__})",
            status_code=answer.status_code,
            method=request.method,
            path=request.path,
        )
    return value
