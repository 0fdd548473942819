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
    ├── CreationUndecidedError      could not tell whether an earlier create made a conversation
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
    "CreationUndecidedError",
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


class _Argument:
    """A setting as the clients spell it: ``{api_key}`` is ``api_key=``, ``{api_version:v0}``
    is ``api_version='v0'``, ``{allow_insecure_http:True}`` is ``allow_insecure_http=True``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __format__(self, value: str) -> str:
        if not value:
            return f"{self.name}="
        return f"{self.name}={value}" if value in ("True", "False") else f"{self.name}={value!r}"


SETTINGS = ("api_key", "session_api_key", "base_url", "api_version", "allow_insecure_http", "profile")
"""The settings a remedy may name (the clients' keyword arguments)."""

LIBRARY_SPELLING: dict[str, object] = {name: _Argument(name) for name in SETTINGS} | {
    "store_key": "store it with openhands_api.config.save_key_file()"
}
"""How a :attr:`OpenHandsError.remedy` names the settings for the library's own messages.
A front end with other names for them (the CLI's flags) words the remedy its own way with
:meth:`OpenHandsError.worded`; its mapping needs the same keys."""


class OpenHandsError(Exception):
    """Base class of every error raised by openhands-api.

    ``problem`` says what happened, ``notes`` what else is known (sentences added on the way
    out, e.g. "the conversation may have been created"), and ``remedy``, when given, what to
    change: a template whose placeholders (``{api_key}``, ``{api_version:v0}``, …: the keys
    of :data:`LIBRARY_SPELLING`) name settings. ``message`` is all three, in the library's
    spelling; :meth:`worded` spells them another way (the CLI names its flags).
    """

    def __init__(self, message: str, *, remedy: str | None = None) -> None:
        self.problem = message
        self.remedy = remedy
        self.notes: list[str] = []
        self.message = self.worded(LIBRARY_SPELLING)
        super().__init__(self.message)

    def add_sentence(self, sentence: str) -> None:
        """Add what is known besides the problem (kept apart from it, see :meth:`worded`)."""
        self.notes.append(sentence)
        self.message = self.worded(LIBRARY_SPELLING)
        self.args = (self.message,)

    def worded(self, spelling: dict[str, object], *, problem: str | None = None) -> str:
        """The message with the remedy's settings named as ``spelling`` names them, and
        ``problem`` (a front end's own wording of what happened) in place of the library's."""
        first = self.problem if problem is None else problem
        rest = [*self.notes, *([self.remedy.format_map(spelling)] if self.remedy is not None else [])]
        if not rest:
            return first
        return " ".join(_sentence(part) for part in (first, *rest))

    def __str__(self) -> str:
        return self.message


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


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
    ``detail`` the human-readable message extracted from it (or, when the body has none, a
    short dump of it); ``server_message`` is only the server's own sentence, None when the
    body had none (a bare ``{"status": "error"}``, a web page, nothing).
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
        server_message: str | None = None,
        headers: dict[str, str] | None = None,
        remedy: str | None = None,
    ) -> None:
        super().__init__(message, remedy=remedy)
        self.status_code = status_code
        self.method = method
        self.path = path
        self.body = body
        self.detail = detail
        self.server_message = server_message
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


class CreationUndecidedError(OpenHandsError):
    """``find_created_conversation`` could not tell whether the earlier create made a
    conversation (a candidate has not shown its first message yet, several match, or the
    server did not answer the lookup). Nothing was created: look again later, or by hand."""


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
