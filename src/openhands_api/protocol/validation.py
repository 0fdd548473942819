"""Input validation: refuse bad input before a request exists.

Ids with path characters, limits out of range, empty prompts, malformed ``owner/repo``, titles
out of bounds: each refused with an :class:`InvalidInputError` that says what a good value
looks like. Nothing here builds a request or reads a response.
"""

from __future__ import annotations

import re

from ..errors import InvalidInputError

MAX_ID_LENGTH = 100  # the V0 server refuses longer ids with 400 "Conversation ID is too long"
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_REPO_SEGMENT_RE = re.compile(r"[A-Za-z0-9_.-]+")
MAX_MESSAGE_CHARS = 1_000_000  # beyond this a prompt is almost certainly a mistake
GIT_PROVIDERS = (
    "github",
    "gitlab",
    "bitbucket",
    "bitbucket_data_center",
    "forgejo",
    "azure_devops",
    "enterprise_sso",
)
"""The values of ``git_provider`` both generations accept: the server's ``ProviderType``
(the same seven in openhands-ai 1.6.0 and 1.11.0); any other is refused by its validation."""


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


def validate_title(title: object) -> str:
    if not isinstance(title, str) or not 1 <= len(title) <= 200:
        raise InvalidInputError("The title must be 1 to 200 characters long")
    return title
