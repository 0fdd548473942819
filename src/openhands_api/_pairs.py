"""Where the async and the sync client really differ, as explicit pairs.

aio.py is the one hand-written client; scripts/unasync.py generates client.py from it by
renaming (``async def`` → ``def``, ``AsyncX`` → ``X``, ``async_x`` → ``x``, ``ASYNC_X`` → ``X``
…). What renaming cannot express lives here, each async name next to its sync twin: aio.py
uses the ``async_*`` / ``ASYNC_*`` member, client.py the plain one.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from ._base_client import ProgressCallback

# What both clients' docstrings say about their settings.
_SETTINGS_DOC = """    Settings come from the arguments, else the environment (``OPENHANDS_API_KEY``,
    ``OPENHANDS_BASE_URL``, ``OPENHANDS_SESSION_API_KEY``), else the OpenHands CLI's key file;
    ``profile=`` uses a stored profile (``openhands-api auth login --profile NAME``) instead of
    the environment.
    ``start_timeout`` bounds starting compute (a V1 start task, a V0 restart; default 300 s).
    ``max_response_bytes`` caps an answer (default 32 MiB; the V0 trajectory 16 times that,
    also when streamed to a file; other downloads to a file have no cap), enforced while
    reading and decompressing. ``throttle``
    shares one request budget among all of the client's operations, so many concurrent waits
    slow down instead of meeting the server's rate limit: ``True`` (default) keeps to a
    self-hosted server's limiter (10 requests a second; Cloud: none, its 429s are retried
    after their Retry-After), ``False`` turns it off, a number sets requests per second.
    ``verify`` is httpx's: ``True`` (default), ``False``, or the path of a CA bundle; proxies
    come from the standard ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` variables.
    Raw V0 routes are under :attr:`v0`.
    """

ASYNC_CLIENT_DOC = (
    """Asynchronous client for the OpenHands REST API (same methods as OpenHandsAPI, awaited).

    >>> async with AsyncOpenHandsAPI(base_url="http://localhost:3000") as api:  # doctest: +SKIP
    ...     conversation = await api.create_conversation("Fix the flaky test")
    ...     result = await api.wait(conversation.id, timeout=1800)
    ...     print(result.outcome, result.final_message)

"""
    + _SETTINGS_DOC
)

CLIENT_DOC = (
    """Synchronous client for the OpenHands REST API.

    >>> with OpenHandsAPI(base_url="http://localhost:3000") as api:     # doctest: +SKIP
    ...     conversation = api.create_conversation("Fix the flaky test in tests/test_x.py")
    ...     result = api.wait(conversation.id, timeout=1800)
    ...     print(result.outcome, result.final_message)

"""
    + _SETTINGS_DOC
)


async def async_report_progress(callback: ProgressCallback, snapshot: Any) -> None:
    """Call a progress callback; await it when it is a coroutine function."""
    outcome = callback(snapshot)
    if inspect.isawaitable(outcome):
        await outcome


def report_progress(callback: ProgressCallback, snapshot: Any) -> None:
    """Call a progress callback (its result, if any, is ignored)."""
    callback(snapshot)


async def async_sleep(seconds: float) -> None:
    # Imported here, not at the top, so that the sync client never loads asyncio; under a
    # running event loop asyncio is already in sys.modules and this costs a dict look-up.
    import asyncio

    await asyncio.sleep(seconds)


def sleep(seconds: float) -> None:
    time.sleep(seconds)
