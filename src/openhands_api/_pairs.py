"""Where the async and the sync client really differ, as explicit pairs.

aio.py is the one hand-written client; scripts/unasync.py generates client.py from it by
renaming (``async def`` → ``def``, ``AsyncX`` → ``X``, ``async_x`` → ``x``, ``ASYNC_X`` → ``X``
…). What renaming cannot express lives here, each async name next to its sync twin: aio.py
uses the ``async_*`` / ``ASYNC_*`` member, client.py the plain one.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._base_client import ProgressCallback, SocketSettings
from .errors import OpenHandsError
from .protocol.http import Op, Shared, SocketClosed, SocketUnavailable
from .protocol.polling import bounded

if TYPE_CHECKING:
    import asyncio

# What an iterator operation becomes in each client: a generator its caller may close early.
AsyncItems = AsyncGenerator[Any, None]
Items = Generator[Any, None, None]
T = TypeVar("T")

# What a shared run's asker gets: (result, None), or (None, the error to throw into its op).
Outcome = tuple[Any, OpenHandsError | None]

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
    ``stream`` (default True) lets ``wait``, ``send_and_wait`` and ``stream_events`` use a
    V1 agent server's event WebSocket when the ``stream`` extra (websockets) is installed;
    the socket verifies TLS as ``verify`` says, goes through no proxy, and where it cannot
    be opened the operation polls instead. ``False``: always poll.
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


async def async_gather(calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run the calls concurrently (tasks of the running loop); their results in order."""
    import asyncio

    return list(await asyncio.gather(*(call() for call in calls)))


def gather(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run the calls concurrently, one thread each (the sync client is thread-safe: its
    budget, shared runs and httpx client are); their results in order, or the first
    exception any raised.

    The threads are daemons and the caller waits in short slices, so a Ctrl-C reaches the
    caller at once and an interrupted process does not wait for the calls to end."""
    if len(calls) == 1:
        return [calls[0]()]
    results: list[Any] = [None] * len(calls)
    failures: list[BaseException | None] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except BaseException as exc:  # handed to the caller, which re-raises it
            failures[index] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
    for failure in failures:
        if failure is not None:
            raise failure
    return results


def _own_copy(exc: OpenHandsError) -> OpenHandsError:
    """The shared run's error as this asker's own exception object, so that one asker's
    traceback, or an operation that rewrites the message on its way out, is not another's."""
    copy = type(exc).__new__(type(exc), *exc.args)
    copy.args = exc.args
    copy.__dict__.update(vars(exc))
    return copy


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class AsyncSharedRuns:
    """The async client's :class:`~.protocol.http.Shared` steps: one task per key, run apart
    from every asker (shielded: cancelling an asker, or its deadline passing, leaves the task
    running for the others), forgotten once done, so a failure is tried afresh next time."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Future[Any]] = {}

    async def join(
        self,
        step: Shared,
        run: Callable[[Op[Any]], Awaitable[Any]],
        timed_out: Callable[[Shared], OpenHandsError],
    ) -> Outcome:
        import asyncio

        task = self._tasks.get(step.key)
        if task is None:
            task = self._tasks[step.key] = asyncio.ensure_future(run(step.start()))
            task.add_done_callback(lambda done: self._forget(step.key, done))
        try:
            return await asyncio.wait_for(asyncio.shield(task), _remaining(step.deadline)), None
        except TimeoutError:
            return None, timed_out(step)
        except OpenHandsError as exc:
            return None, _own_copy(exc)

    def _forget(self, key: str, done: asyncio.Future[Any]) -> None:
        if self._tasks.get(key) is done:
            del self._tasks[key]
        if not done.cancelled():
            done.exception()  # retrieved: a failure every asker gave up on is not "never retrieved"


class _SyncRun:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: OpenHandsError | None = None
        # False until it ended in a value or an error for everyone (not the leader's own
        # deadline, not an interrupt of the leader's thread): then an asker runs it again.
        self.settled = False


class SharedRuns:
    """The sync client's :class:`~.protocol.http.Shared` steps: the first thread to ask runs
    the operation, bounded by its own deadline; threads that ask meanwhile wait for its end
    (each until its own deadline) and take its result or its error. When the run ended only
    because the leading thread's deadline passed, a waiter with time left runs it again."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._runs: dict[str, _SyncRun] = {}

    def join(
        self,
        step: Shared,
        run: Callable[[Op[Any]], Any],
        timed_out: Callable[[Shared], OpenHandsError],
    ) -> Outcome:
        while True:
            with self._guard:
                current = self._runs.get(step.key)
                leading = current is None
                if current is None:
                    current = self._runs[step.key] = _SyncRun()
            if leading:
                return self._lead(step, current, run)
            if not current.done.wait(_remaining(step.deadline)):
                return None, timed_out(step)
            if current.settled:
                return current.value, None if current.error is None else _own_copy(current.error)

    def _lead(self, step: Shared, current: _SyncRun, run: Callable[[Op[Any]], Any]) -> Outcome:
        op = step.start() if step.deadline is None else bounded(step.start(), step.deadline)
        try:
            current.value = run(op)
            current.settled = True
            return current.value, None
        except OpenHandsError as exc:
            current.error = exc
            current.settled = step.deadline is None or time.monotonic() < step.deadline
            return None, exc
        finally:
            with self._guard:
                del self._runs[step.key]
            current.done.set()


# ---------------------------------------------------------------------------- WebSockets
# The socket steps of a live stream (protocol/http.py OpenSocket …), over the ``websockets``
# library of the ``stream`` extra: its asyncio client here, its threaded (sync) one below.
# No HTTP proxy is used (``proxy=None``): where only a proxy reaches the server, the socket
# cannot be opened and the operation polls instead. The library's own logger is kept quiet
# below WARNING: at DEBUG it would log the frames, the first of which carries the key.

_SOCKET_LOGGER = logging.getLogger("openhands_api.websocket")
_SOCKET_LOGGER.setLevel(logging.WARNING)


def _unavailable(exc: BaseException) -> SocketUnavailable:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    what = f"the server refused the upgrade (HTTP {status})" if status else f"{type(exc).__name__}: {exc}"
    return SocketUnavailable(f"cannot open the event stream: {what}")


def _closed(exc: BaseException) -> SocketClosed:
    received = getattr(exc, "rcvd", None)
    if received is None:
        return SocketClosed(1006, "closed without a close frame")
    return SocketClosed(int(received.code), str(received.reason or ""))


def _text(frame: str | bytes) -> str:
    return frame if isinstance(frame, str) else frame.decode("utf-8", "replace")


async def async_socket_open(url: str, first_frame: str | None, settings: SocketSettings) -> Any:
    try:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, WebSocketException
    except ImportError as exc:
        raise SocketUnavailable("the websockets library is not installed (openhands-api[stream])") from exc
    extra: dict[str, Any] = {} if settings.ssl is None else {"ssl": settings.ssl}
    try:
        socket = await connect(
            url,
            proxy=None,
            open_timeout=settings.open_timeout,
            max_size=settings.max_size,
            user_agent_header=settings.user_agent,
            logger=_SOCKET_LOGGER,
            compression=None,
            **extra,
        )
    except (WebSocketException, OSError, TimeoutError) as exc:
        raise _unavailable(exc) from None
    try:
        if first_frame is not None:
            await socket.send(first_frame)
    except ConnectionClosed as exc:
        raise _closed(exc) from None
    return socket


def socket_open(url: str, first_frame: str | None, settings: SocketSettings) -> Any:
    try:
        from websockets.exceptions import ConnectionClosed, WebSocketException
        from websockets.sync.client import connect
    except ImportError as exc:
        raise SocketUnavailable("the websockets library is not installed (openhands-api[stream])") from exc
    try:
        # Entered as a context manager, which every websockets since 15 supports (16+ warn
        # when the connection is used without), and closed by ``socket_close``.
        socket = connect(
            url,
            proxy=None,
            ssl=settings.ssl,
            open_timeout=settings.open_timeout,
            max_size=settings.max_size,
            user_agent_header=settings.user_agent,
            logger=_SOCKET_LOGGER,
            compression=None,
        ).__enter__()
    except (WebSocketException, OSError, TimeoutError) as exc:
        raise _unavailable(exc) from None
    try:
        if first_frame is not None:
            socket.send(first_frame)
    except ConnectionClosed as exc:
        raise _closed(exc) from None
    return socket


async def async_socket_receive(socket: Any, timeout: float) -> str | None:
    import asyncio

    from websockets.exceptions import ConnectionClosed

    try:
        # Cancelling a receive loses nothing (the frame stays queued for the next one).
        return _text(await asyncio.wait_for(socket.recv(), timeout))
    except (TimeoutError, asyncio.TimeoutError):
        return None
    except ConnectionClosed as exc:
        raise _closed(exc) from None


def socket_receive(socket: Any, timeout: float) -> str | None:
    from websockets.exceptions import ConnectionClosed

    try:
        return _text(socket.recv(timeout=timeout))
    except TimeoutError:
        return None
    except ConnectionClosed as exc:
        raise _closed(exc) from None


async def async_socket_close(socket: Any) -> None:
    with contextlib.suppress(Exception):
        await socket.close()


def socket_close(socket: Any) -> None:
    with contextlib.suppress(Exception):
        socket.close()
