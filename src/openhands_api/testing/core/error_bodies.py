"""Every error body the fake server answers with, in the real stack's words: one place.

Responsible for: the bytes a client sees when the real server (or what stands in front of it)
refuses, fails or answers with something other than the API's JSON — status code, body and
the headers that belong to the body:

* the shapes: FastAPI's ``{"detail": …}`` (``detail``, ``http_error``), the routes' own
  ``{"error": …}`` (``error``) and V0's ``{"status": "error", …}``;
* the crash answer (500 ``text/plain`` ``Internal Server Error``), authentication refusals,
  the self-hosted and Cloud rate limiters' 429s, Cloud's 429 ``CONCURRENCY_LIMIT_REACHED``;
* every V0 and V1 route's refusal (404 bodies that differ per route, "Conversation was not
  running", send-message's 404/409/410/503, …), named after the case;
* HTML served in place of JSON: a gateway's (nginx) 502/503/504 pages, the "System
  Maintenance" page, Cloud's web app.

Behaviour sources: captures in ``shared/real-server/captures``, runs against real 1.6.0 and
1.11.0 servers, CONTRACT.md; ``tests/fake_server`` pins the bytes.

Not responsible for: deciding when to answer so (the routes, ``core/auth.py``,
``faults/``), FastAPI's own 422 validation bodies, the cache headers the middleware adds
(``core/middleware.py``), success bodies, or the ``/_fake/`` control routes' errors (not
OpenHands).
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse

# ---------------------------------------------------------------------------- shapes


def detail(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"detail": detail}``: what FastAPI's ``HTTPException`` handler writes."""
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def error(status: int, message: str) -> JSONResponse:
    """``{"error": message}``: the routes' own error shape."""
    return JSONResponse({"error": message}, status_code=status)


def status_phrase(status: int) -> str:
    """The status line's reason phrase (``"Error"`` for codes without one)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def http_error(status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """``HTTPException(status)`` without a detail: ``{"detail": "<reason phrase>"}``."""
    return detail(status, status_phrase(status), headers)


def not_found() -> HTTPException:
    """``HTTPException(404)``, raised: ``{"detail":"Not Found"}``."""
    return HTTPException(status_code=404)


# ---------------------------------------------------------------------------- the whole stack

INTERNAL_SERVER_ERROR = "Internal Server Error"


def internal_server_error(headers: dict[str, str] | None = None) -> PlainTextResponse:
    """The bare 500 Starlette's outermost error middleware writes for an unhandled exception."""
    return PlainTextResponse(INTERNAL_SERVER_ERROR, status_code=500, headers=headers)


def plain_status(status: int, headers: dict[str, str] | None = None) -> PlainTextResponse:
    """A 5xx as a plain-text reason phrase."""
    return PlainTextResponse(status_phrase(status), status_code=status, headers=headers)


# ---------------------------------------------------------------------------- authentication


def session_key_refused() -> HTTPException:
    """A wrong or missing ``X-Session-API-Key``, raised: 401 ``{"detail":"Unauthorized"}``."""
    return HTTPException(status_code=401)


def bearer_missing() -> JSONResponse:
    """Cloud: no ``Authorization: Bearer`` header."""
    return JSONResponse({"error": "NoCredentialsError"}, status_code=401)


def failed_to_authenticate(headers: dict[str, str] | None = None) -> JSONResponse:
    """Cloud: a Bearer token that is not the key."""
    return JSONResponse({"error": "failed to authenticate"}, status_code=401, headers=headers)


# ---------------------------------------------------------------------------- rate limits

CLOUD_RATE_LIMIT = "10 per 1 second"
"""The description of Cloud's per-second limit, as its 429 words it."""


def rate_limited(headers: dict[str, str]) -> JSONResponse:
    """The self-hosted limiter's 429."""
    return JSONResponse({"message": "Too many requests"}, status_code=429, headers=headers)


def cloud_rate_limited(description: str, headers: dict[str, str]) -> JSONResponse:
    """Cloud's limiter's 429 for the limit ``description`` (e.g. ``"10 per 1 second"``)."""
    return JSONResponse({"error": f"Rate limit exceeded: {description}"}, status_code=429, headers=headers)


def concurrency_limit_detail(limit: int, current: int) -> dict[str, Any]:
    """The ``detail`` of Cloud's 429 on a V1 create over the concurrency cap."""
    return {
        "error": "CONCURRENCY_LIMIT_REACHED",
        "message": (
            f"You have reached the maximum of {limit} concurrent conversations. "
            "Stop or delete a running conversation to start a new one."
        ),
        "limit": limit,
        "current": current,
    }


def concurrency_limited(limit: int, current: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """Cloud's 429 ``CONCURRENCY_LIMIT_REACHED``."""
    return detail(429, concurrency_limit_detail(limit, current), headers)


# ---------------------------------------------------------------------------- HTML instead of JSON

GATEWAY_REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}
"""nginx's wording, which differs from the RFC's for 503 and 504."""


def gateway_page(status: int) -> str:
    """The error page nginx (the usual reverse proxy) serves for 502, 503 and 504."""
    title = f"{status} {GATEWAY_REASONS[status]}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


def gateway_error(status: int, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A gateway's 502, 503 or 504."""
    return HTMLResponse(gateway_page(status), status_code=status, headers=headers)


MAINTENANCE_HTML = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>System Maintenance</title>
  </head>
  <body>
    <h1>System Maintenance</h1>
    <p>OpenHands is down for maintenance. We will be back shortly.</p>
  </body>
</html>
"""


def maintenance_page(status: int) -> HTMLResponse:
    """The "System Maintenance" page, 500 (Cloud outage) or 200."""
    return HTMLResponse(MAINTENANCE_HTML, status_code=status)


WEB_APP_HTML = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>OpenHands</title>
    <script type="module" crossorigin src="/assets/index.js"></script>
  </head>
  <body>
    <div id="root"></div>
  </body>
</html>
"""


def web_app() -> HTMLResponse:
    """Cloud's single-page app index: 200 ``text/html`` for a GET no API route matches."""
    return HTMLResponse(WEB_APP_HTML)


# ---------------------------------------------------------------------------- both generations


def settings_not_found() -> JSONResponse:
    """``GET /api/settings`` and ``GET /api/v1/settings`` before any settings were stored."""
    return error(404, "Settings not found")


# ---------------------------------------------------------------------------- V0 (1.6.0)

CONVERSATION_ID_TOO_LONG = "Conversation ID is too long"
CONVERSATION_ID_NUL = "Conversation ID contains invalid characters"
CONVERSATION_ID_PATH = "Conversation ID contains invalid path characters"
CONVERSATION_ID_CONTROL = "Conversation ID contains control characters"


def v0_bad_conversation_id(reason: str) -> HTTPException:
    """The manage routes' id check, raised: 400 ``{"detail": reason}`` (a ``CONVERSATION_ID_*``)."""
    return HTTPException(status_code=400, detail=reason)


def v0_conversation_not_found(conversation_id: str) -> HTTPException:
    """An unknown (or, for "attach" routes, not running) conversation, raised."""
    return HTTPException(status_code=404, detail=f"Conversation {conversation_id} not found")


def v0_create_without_settings() -> JSONResponse:
    """``POST /api/conversations`` before any settings were stored."""
    return JSONResponse(
        {
            "status": "error",
            "message": "Settings not found",
            "msg_id": "CONFIGURATION$SETTINGS_NOT_FOUND",
        },
        status_code=400,
    )


def v0_rename_not_found() -> JSONResponse:
    """``PATCH /api/conversations/{id}`` of an unknown id."""
    return JSONResponse(
        {
            "status": "error",
            "message": "Conversation not found",
            "msg_id": "CONVERSATION$NOT_FOUND",
        },
        status_code=404,
    )


def v0_start_not_found(conversation_id: str) -> JSONResponse:
    """``POST /api/conversations/{id}/start`` of an unknown id."""
    return JSONResponse({"status": "error", "conversation_id": conversation_id}, status_code=404)


V0_STOP_NOT_RUNNING = "Conversation was not running"
"""The ``message`` of the (200) answer to stopping an unknown or stopped conversation."""


def v0_invalid_event_limit() -> HTTPException:
    """``GET .../events`` with ``limit`` outside 0–100, raised."""
    return HTTPException(status_code=400, detail="Invalid limit")


def v0_message_not_running(conversation_id: str) -> JSONResponse:
    """``POST .../message`` to a stopped conversation the attach cache still let through."""
    return JSONResponse(
        {
            "success": False,
            "error": f"Error adding message to conversation: no_conversation:{conversation_id}",
        },
        status_code=500,
    )


def v0_runtime_starting() -> JSONResponse:
    """A file route while the runtime is still starting."""
    return error(502, "Unable to connect to runtime")


def v0_runtime_unavailable(conversation_id: str) -> JSONResponse:
    """A file route of a stopped conversation."""
    return error(404, f"Runtime not available for conversation {conversation_id}")


def v0_binary_file(file: str) -> JSONResponse:
    """``select-file`` of a binary file."""
    return error(415, f"Unable to open binary file: {file}")


def v0_file_is_directory(full_path: str) -> JSONResponse:
    """``select-file`` of a directory."""
    return _v0_open_failed(f"Path is a directory: {full_path}. You can only read files")


def v0_file_not_found(full_path: str, working_dir: str) -> JSONResponse:
    """``select-file`` of a file that does not exist."""
    return _v0_open_failed(f"File not found: {full_path}. Your current working directory is {working_dir}.")


def _v0_open_failed(reason: str) -> JSONResponse:
    return error(500, f"Error opening file: **ErrorObservation**\n{reason}")


# ---------------------------------------------------------------------------- V1 (1.11.0, 1.6.0)


def v1_too_many_conversation_ids() -> JSONResponse:
    """``GET /app-conversations`` with 100 ids or more."""
    return detail(400, "Too many ids requested. Maximum is 99.")


def v1_invalid_uuids(invalid: list[str]) -> JSONResponse:
    """``GET /app-conversations`` with ids that are not UUIDs (listed as a Python list)."""
    return detail(400, f"Invalid UUID format for ids: {invalid}")


def v1_too_many(things: str, count: int) -> JSONResponse:
    """A batch get of more than 100 ``things`` (``"start tasks"``, ``"events"``, ``"sandboxes"``)."""
    return detail(400, f"Cannot request more than 100 {things} at once, got {count}")


def v1_update_not_found() -> JSONResponse:
    """``PATCH /app-conversations/{id}`` of an unknown id."""
    return detail(404, "unknown_app_conversation")


def v1_delete_invalid_id() -> JSONResponse:
    """``DELETE /app-conversations/{id}`` with an id that is not a UUID."""
    return detail(400, "Invalid conversation ID format")


def v1_delete_not_found() -> JSONResponse:
    """``DELETE /app-conversations/{id}`` of an unknown id."""
    return detail(404, "Conversation not found")


def v1_conversation_not_found_text(conversation_id: object) -> str:
    return f"Conversation {conversation_id} not found"


def v1_sandbox_not_found_text(conversation_id: object) -> str:
    return f"Sandbox not found for conversation {conversation_id}"


def v1_sandbox_not_ready_text(conversation_id: object) -> str:
    return f"Sandbox not ready for conversation {conversation_id}"


def v1_send_message_sandbox_missing() -> JSONResponse:
    """send-message to a conversation whose sandbox no longer exists (archived)."""
    return detail(410, "Conversation is archived. The sandbox no longer exists.")


def v1_send_message_sandbox_error() -> JSONResponse:
    """send-message to a conversation whose sandbox is in ``ERROR``."""
    return detail(503, "Sandbox is in an error state and cannot accept messages.")


def v1_send_message_sandbox_not_running(sandbox_status: str, sandbox_id: str) -> JSONResponse:
    """send-message to a conversation whose sandbox is paused or starting."""
    return detail(
        409,
        f"Sandbox is {sandbox_status}. Use POST /api/v1/sandboxes/{sandbox_id}/resume to resume it first.",
    )


def v1_not_reachable(status: int, conversation_id: object) -> JSONResponse:
    """``git/*`` when the agent server cannot be reached (the status of the reason)."""
    return detail(status, f"Conversation {conversation_id} is not reachable")


def v1_git_paused() -> JSONResponse:
    """``git/*`` of a conversation whose sandbox is paused."""
    return detail(409, "Sandbox is paused; resume it before reading git state.")


def v1_git_diff_failed() -> JSONResponse:
    """``git/diff`` of a path the agent server cannot diff."""
    return detail(502, "Agent server error: 400")


def v1_download_not_found(conversation_id: object) -> JSONResponse:
    """``GET /app-conversations/{id}/download`` of an unknown id."""
    return detail(404, f"Conversation not found: {conversation_id}")


def v1_settings_legacy_keys(keys: Sequence[str]) -> JSONResponse:
    """``POST /api/v1/settings`` with the pre-diff keys (sorted)."""
    return JSONResponse(
        {"error": "Use *_diff nested settings payloads instead of legacy keys", "keys": list(keys)},
        status_code=422,
    )
