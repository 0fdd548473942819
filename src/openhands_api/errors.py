"""The exception tree of openhands-api.

Every error the library raises on purpose is an :class:`OpenHandsError`. Callers catch the
branch they can act on::

    OpenHandsError
    ├── ConfigurationError          missing/invalid settings (bad base URL, insecure http)
    │   └── MissingAPIKeyError      no API key where one is required (OpenHands Cloud)
    ├── InvalidInputError           refused before anything was sent (also a ValueError)
    │   └── AmbiguousIdError        an id prefix that names more than one conversation
    ├── TransportError              no usable HTTP response
    │   └── APIConnectionError      could not connect, or the connection broke
    │       └── APITimeoutError     a request timed out (connecting, sending or reading)
    ├── APIStatusError              the server answered with an error status
    │   ├── BadRequestError         400
    │   ├── AuthenticationError     401
    │   ├── PermissionDeniedError   403
    │   ├── NotFoundError           404
    │   ├── ConflictError           409 (e.g. a V1 sandbox is paused)
    │   ├── GoneError               410
    │   ├── UnprocessableEntityError 422 (the server rejected the request body/params)
    │   ├── RateLimitError          429
    │   │   └── ConcurrencyLimitError  Cloud's CONCURRENCY_LIMIT_REACHED: never retried
    │   └── ServerError             5xx
    ├── ProtocolError               a response that is not what the API promises (HTML, bad JSON)
    ├── NotSupportedError           the server's API generation cannot do this
    ├── ConversationStartError      a V1 start task ended in ERROR
    └── WaitTimeoutError            a wait ran out of time; the conversation may still be running

Responsibility: the classes and their messages. Which status maps to which class lives in
``protocol/errors.py``; nothing here performs I/O. Messages say what happened and what to do
and never contain a secret (API keys and session keys are redacted before they get here).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AmbiguousIdError",
    "AuthenticationError",
    "BadRequestError",
    "ConcurrencyLimitError",
    "ConfigurationError",
    "ConflictError",
    "ConversationStartError",
    "GoneError",
    "InvalidInputError",
    "MissingAPIKeyError",
    "NotFoundError",
    "NotSupportedError",
    "OpenHandsError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
]


class OpenHandsError(Exception):
    """Base class of every error raised by openhands-api."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigurationError(OpenHandsError):
    """A setting is missing or invalid (for example no API key for OpenHands Cloud)."""


class MissingAPIKeyError(ConfigurationError):
    """No API key was found where one is required (OpenHands Cloud)."""


class InvalidInputError(OpenHandsError, ValueError):
    """An argument was refused before any request was sent."""


class AmbiguousIdError(InvalidInputError):
    """An id prefix that does not name one conversation for sure (``resolve_conversation_id``).

    ``candidates`` are the conversations found whose ids start with ``prefix``, newest first
    (:class:`~openhands_api.models.Conversation`); ``complete`` is False when the search
    stopped before the end of the listing (it had already found two, or reached its limit),
    so that more conversations may start with ``prefix`` than ``candidates`` holds.
    """

    def __init__(self, message: str, *, prefix: str, candidates: list[Any], complete: bool) -> None:
        super().__init__(message)
        self.prefix = prefix
        self.candidates = candidates
        self.complete = complete


class TransportError(OpenHandsError):
    """No usable HTTP response was received.

    ``request_sent`` tells whether the request may have reached the server: ``False`` only
    when the failure happened before the request left (connection refused, DNS failure).
    """

    def __init__(self, message: str, *, method: str = "", path: str = "", request_sent: bool) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.request_sent = request_sent


class APIConnectionError(TransportError):
    """The server could not be reached, or the connection broke before a full response."""


class APITimeoutError(APIConnectionError):
    """A single HTTP request timed out (see WaitTimeoutError for a conversation wait).

    A kind of connection failure, as in the openai and anthropic SDKs: ``except
    APIConnectionError`` catches timeouts too; catch this class first to treat them apart."""


class APIStatusError(OpenHandsError):
    """The server answered with an HTTP error status.

    ``body`` is the decoded JSON body when there was one (else the start of the text), and
    ``detail`` the human-readable message extracted from it.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        method: str,
        path: str,
        body: Any = None,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.method = method
        self.path = path
        self.body = body
        self.detail = detail
        self.headers = headers or {}


class BadRequestError(APIStatusError):
    """400: the server refused the request as invalid."""


class AuthenticationError(APIStatusError):
    """401: the API key or session key is missing, wrong or expired."""


class PermissionDeniedError(APIStatusError):
    """403: authenticated, but not allowed."""


class NotFoundError(APIStatusError):
    """404: no such conversation, sandbox or route."""


class ConflictError(APIStatusError):
    """409: the resource is in the wrong state (for example a paused V1 sandbox)."""


class GoneError(APIStatusError):
    """410: the resource existed but is gone for good (archived sandbox)."""


class UnprocessableEntityError(APIStatusError):
    """422: the server's validation refused the body or parameters."""


class RateLimitError(APIStatusError):
    """429: too many requests. ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ConcurrencyLimitError(RateLimitError):
    """429 CONCURRENCY_LIMIT_REACHED: too many conversations running at once on Cloud.

    Never retried automatically: stop, pause or delete a conversation, then try again.
    """

    def __init__(self, message: str, *, limit: int | None, current: int | None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.limit = limit
        self.current = current


class ServerError(APIStatusError):
    """5xx: the server failed; retried automatically where that is safe."""


class ProtocolError(OpenHandsError):
    """The response is not what the API promises: HTML where JSON was expected, bad JSON,
    or JSON of the wrong shape."""

    def __init__(
        self, message: str, *, status_code: int | None = None, method: str = "", path: str = ""
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.method = method
        self.path = path


class NotSupportedError(OpenHandsError):
    """The server's API generation cannot do what was asked."""


class ConversationStartError(OpenHandsError):
    """A conversation's runtime failed to start.

    V1: its start task ended in ERROR (``start_task_id``); ``detail`` is the server's
    explanation. V0: a restart ended with the conversation STOPPED again (``conversation_id``),
    because the server closed the new runtime (another conversation took its slot, or the
    runtime did not come up).
    """

    def __init__(
        self,
        message: str,
        *,
        start_task_id: str | None = None,
        conversation_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.start_task_id = start_task_id
        self.conversation_id = conversation_id
        self.detail = detail


class WaitTimeoutError(OpenHandsError, TimeoutError):
    """A wait ran out of time. The conversation may still be running: wait again, or stop it.

    ``last`` is the last observed :class:`~openhands_api.models.WaitResult` (outcome
    ``in_progress``), when one was observed.
    """

    def __init__(self, message: str, *, conversation_id: str, timeout: float, last: Any = None) -> None:
        super().__init__(message)
        self.conversation_id = conversation_id
        self.timeout = timeout
        self.last = last
