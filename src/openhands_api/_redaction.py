"""Keeping the client's own secrets (the API key, the session key) out of every text it makes.

Three tools, used wherever a text or an error leaves the library:

- :func:`redact` replaces each secret with ``***`` — whole, and also any piece of 12 or more
  characters of it (a server may echo part of a header), and a cut-off start or end of one at
  the edge of the text (a preview cut through a key).
- :func:`preview` is a bounded, one-line view of a body for an error message: redacted first,
  cut after, so that no cut can leave part of a key behind.
- :func:`scrub` redacts every string inside a value (error bodies, details, headers).
- :func:`guard_logs` keeps them out of log records, ours and those of httpx and httpcore.

Nothing here knows where the secrets come from: the clients hand them over.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

MASK = "***"
# A piece of a secret at least this long is treated as the secret itself.
PIECE = 12
# A shorter cut-off piece at the very start or end of a text is masked from this length on.
EDGE = 4


def _usable(secrets: Iterable[str]) -> list[str]:
    return sorted({s for s in secrets if s and len(s) >= EDGE}, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret, every 12-character piece of one, and any cut-off start or
    end of one at the text's edges replaced by ``***``."""
    values = _usable(secrets)
    if not values or not text:
        return text
    for value in values:
        text = text.replace(value, MASK)
    for value in values:
        for length in range(len(value) - 1, PIECE - 1, -1):
            for start in range(len(value) - length + 1):
                piece = value[start : start + length]
                if piece in text:
                    text = text.replace(piece, MASK)
    for value in values:
        for length in range(min(len(value), PIECE + 1) - 1, EDGE - 1, -1):
            if text.endswith(value[:length]):
                text = text[:-length] + MASK
            if text.startswith(value[-length:]):
                text = MASK + text[length:]
    return text


def preview(content: bytes, secrets: Sequence[str], limit: int) -> str:
    """At most ``limit`` characters of ``content`` on one line, redacted before it is cut."""
    longest = max((len(s) for s in secrets), default=0)
    text = content[: limit + longest + 1].decode("utf-8", errors="replace")
    text = " ".join(redact(text, secrets).split())
    return redact(text[:limit], secrets)


def scrub(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` with :func:`redact` applied to every string in it (dicts, lists, tuples)."""
    if not secrets:
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(v, secrets) for v in value)
    return value


# Loggers whose records can carry what a server sent back: ours, httpx's, and httpcore's
# (httpcore's trace logs every response header, so a gateway that echoes the request's
# headers would put a key into a DEBUG record). A filter on a logger sees only the records
# logged through that very logger, so each of httpcore's children is named.
GUARDED_LOGGERS = (
    "openhands_api",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


class _LogRedactor(logging.Filter):
    """Rewrites every record of the guarded loggers without the keys of this process's clients."""

    def __init__(self) -> None:
        super().__init__("openhands-api-redactor")
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            cleaned = redact(text, self.secrets)
            if cleaned != text:
                record.msg, record.args = cleaned, ()
        return True


_LOG_REDACTOR = _LogRedactor()


def guard_logs(secrets: Iterable[str]) -> None:
    """Keep ``secrets`` out of every record of the guarded loggers, from now on."""
    new = {s for s in secrets if s} - _LOG_REDACTOR.secrets
    if not new:
        return
    _LOG_REDACTOR.secrets |= new
    for name in GUARDED_LOGGERS:
        logger = logging.getLogger(name)
        if _LOG_REDACTOR not in logger.filters:
            logger.addFilter(_LOG_REDACTOR)
