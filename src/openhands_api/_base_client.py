"""What the sync and async clients share: settings, headers, the retry loop's decisions,
error shaping, logging, and the choice of the API generation that every operation runs on.

The drivers (``client.py``, ``aio.py``) only move bytes and sleep; everything they decide they
ask this core. A public method on either client is one line: take the operation from the
server's :class:`~.protocol.generation.Generation` here, drive it there. The operations
themselves live in ``protocol/`` (no I/O).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import math
import os
import random
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx

from . import errors
from ._body import ACCEPT_ENCODING, BodyReader, FileBody
from ._redaction import guard_logs, redact, scrub
from ._watchdog import WATCHDOG
from .config import Settings, check_transport_security, resolve_settings
from .models import Conversation, ConversationResult, SentMessage
from .protocol.detect import detect_version, unspoken
from .protocol.generation import (
    CreateUndecided,
    Generation,
    GenerationContext,
    NewConversation,
    OwnedByOtherGeneration,
    wait_timed_out,
)
from .protocol.http import (
    BULK_FACTOR,
    Call,
    CloseSocket,
    Emit,
    Now,
    Op,
    OpenSocket,
    Request,
    Response,
    Shared,
    Step,
)
from .protocol.ids import PREFIX_PAGE_SIZE, find_by_prefix, parse_reference
from .protocol.listing import ListQuery
from .protocol.pacing import SELF_HOSTED_BURST, SELF_HOSTED_RATE, RequestBudget
from .protocol.parsing import is_concurrency_limit
from .protocol.polling import CLOUD_POLL, SELF_HOSTED_POLL, TRANSIENT_ERRORS, PollPolicy, relay
from .protocol.retry import FailureKind, RetryPolicy, parse_retry_after
from .protocol.streaming import Since, newest_first
from .protocol.v0_ops import V0Generation
from .protocol.v1_ops import V1Generation
from .protocol.validation import validate_id

logger = logging.getLogger("openhands_api")
T = TypeVar("T")

ApiVersion = Literal["auto", "v0", "v1"]
# Called with a snapshot after each poll of a wait that has not ended; the async client also
# awaits what it returns, so a coroutine function works there.
ProgressCallback = Callable[[ConversationResult], object]
# Called with an iterator operation's return value once it has emitted its last item.
ResultCallback = Callable[[Any], None]
GENERATIONS: dict[str, type[Generation]] = {"v0": V0Generation, "v1": V1Generation}


def _every_generation_is_complete(context: GenerationContext) -> tuple[Generation, ...]:
    """Never called: written for the type checker, which names the generation that lacks an
    operation of ``Generation`` here ("Cannot instantiate abstract class …")."""
    return (V0Generation(context), V1Generation(context))


DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_TIMEOUT = httpx.Timeout(DEFAULT_REQUEST_TIMEOUT, connect=10.0)
DEFAULT_WAIT_TIMEOUT = 30 * 60.0
DEFAULT_START_TIMEOUT = 300.0
# Far above any real answer (a page of 100 events with long command output is a few MB), far
# below what would hurt: what a broken or hostile server can make the client hold.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
USER_AGENT = "openhands-api-python"
# The key of the one version detection that concurrent first calls of a client share.
DETECTION = "the server's API version"
# What a server answers on routes it does not have (a presumed version's, say): 404 or 405
# (APIStatusError, NotFoundError among them), a web page or some other JSON (ProtocolError),
# or what an operation makes of a missing route (NotSupportedError).
ROUTES_MISSING: tuple[type[errors.OpenHandsError], ...] = (
    errors.APIStatusError,
    errors.ProtocolError,
    errors.NotSupportedError,
)


def _user_agent() -> str:
    from ._version import __version__

    return f"{USER_AGENT}/{__version__}"


def one_of(value: T | None, alias: T | None, name: str, alias_name: str) -> T | None:
    """Accept a parameter under its name or its seed-era alias, not both with different values."""
    if value is not None and alias is not None and value != alias:
        raise errors.InvalidInputError(f"Pass either {name} or {alias_name}, not both")
    return value if value is not None else alias


def _late(request: Request) -> httpx.ReadTimeout:
    return httpx.ReadTimeout(f"{request.describe()}: the whole answer did not arrive in time")


def failure_kind(exc: httpx.TransportError) -> FailureKind:
    """How far a failed request got, judged from httpx's exception class."""
    if isinstance(exc, httpx.ConnectTimeout):
        return FailureKind.CONNECT_TIMEOUT
    if isinstance(exc, httpx.PoolTimeout):
        return FailureKind.POOL_TIMEOUT
    if isinstance(exc, (httpx.ConnectError, httpx.UnsupportedProtocol)):
        return FailureKind.CONNECT
    if isinstance(exc, httpx.ReadTimeout):
        return FailureKind.READ_TIMEOUT
    if isinstance(exc, (httpx.WriteError, httpx.WriteTimeout)):
        return FailureKind.WRITE
    return FailureKind.DISCONNECTED


_FAILURE_TEXT = {
    FailureKind.CONNECT: "could not connect",
    FailureKind.CONNECT_TIMEOUT: "timed out while connecting",
    FailureKind.POOL_TIMEOUT: "timed out waiting for a free connection",
    FailureKind.WRITE: "the connection failed while sending",
    FailureKind.READ_TIMEOUT: "timed out waiting for the answer",
    FailureKind.DISCONNECTED: "the connection broke before a full answer",
}


@dataclass(frozen=True)
class SocketSettings:
    """How the client opens sockets: TLS (for ``wss://``), timeouts, the frame size cap."""

    ssl: ssl.SSLContext | None
    open_timeout: float
    max_size: int
    user_agent: str


class BaseClient:
    """Configuration and decisions shared by :class:`OpenHandsAPI` and :class:`AsyncOpenHandsAPI`."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        api_version: ApiVersion,
        session_api_key: str | None,
        allow_insecure_http: bool,
        poll_interval: float | None,
        max_poll_interval: float | None,
        start_timeout: float | None = None,
        profile: str | None = None,
        max_response_bytes: int | None = None,
        throttle: float | bool = True,
        stream: bool = True,
        verify: bool | str = True,
    ) -> None:
        if api_version not in ("auto", "v0", "v1"):
            raise errors.ConfigurationError(f"api_version must be 'auto', 'v0' or 'v1', got {api_version!r}")
        self._settings: Settings = resolve_settings(
            api_key=api_key, base_url=base_url, session_api_key=session_api_key, profile=profile
        )
        check_transport_security(self._settings, allow_insecure_http=allow_insecure_http)
        guard_logs(self._settings.secrets())
        if self._settings.is_cloud and self._settings.api_key is None:
            raise errors.MissingAPIKeyError(
                "No API key for OpenHands Cloud",
                remedy="Set OPENHANDS_API_KEY or pass {api_key}, or {store_key} (create a key at "
                "https://app.all-hands.dev/settings/api-keys); for a self-hosted server, give its "
                "address with {base_url} or OPENHANDS_BASE_URL",
            )
        if isinstance(timeout, httpx.Timeout):
            self._timeout = timeout
        elif timeout is None:
            self._timeout = DEFAULT_TIMEOUT
        else:
            if timeout <= 0:
                raise errors.ConfigurationError("timeout must be a positive number of seconds")
            self._timeout = httpx.Timeout(timeout, connect=min(10.0, timeout))
        try:
            self._retry = RetryPolicy(max_retries=max_retries)
        except ValueError as exc:
            raise errors.ConfigurationError(str(exc)) from None
        default_poll = CLOUD_POLL if self._settings.is_cloud else SELF_HOSTED_POLL
        self._poll = self._poll_policy(poll_interval, max_poll_interval, default_poll)
        self._requested_version: str = api_version
        # "auto" is resolved on first use (one or two cheap GETs) and then cached.
        self._api_version: str | None = None if api_version == "auto" else api_version
        # True while ``_api_version`` is a remembered one (``_presume``) no answer has confirmed.
        self._presumed = False
        # Starting compute has its own budget: minutes on a cold Cloud runtime (CONTRACT §4.3).
        self._start_timeout = DEFAULT_START_TIMEOUT if start_timeout is None else float(start_timeout)
        if not self._start_timeout > 0:
            raise errors.ConfigurationError("start_timeout must be a positive number of seconds")
        limit = DEFAULT_MAX_RESPONSE_BYTES if max_response_bytes is None else max_response_bytes
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise errors.ConfigurationError("max_response_bytes must be a positive number of bytes")
        self._max_response_bytes = limit
        self._budget = self._request_budget(throttle)
        # A 429's Retry-After holds every request of this client (monotonic), not only the
        # one refused: the server limits the client, so the others would be refused too.
        self._held_until = 0.0
        self._context = GenerationContext(
            base_url=self._settings.base_url,
            poll=self._poll,
            start_timeout=self._start_timeout,
            max_resends=self._retry.max_retries,
            # Without a read timeout (timeout=httpx.Timeout(None)), the default's stands in.
            request_timeout=self._timeout.read or DEFAULT_REQUEST_TIMEOUT,
        )
        self._generations: dict[str, Generation] = {}
        # Live events over WebSockets where the server pushes them (V1's agent server), when
        # the ``stream`` extra (websockets) is installed; ``stream=False`` always polls.
        self._stream = bool(stream)
        self._verify = verify

    # ------------------------------------------------------------------ settings

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def api_version(self) -> str | None:
        """``"v0"`` or ``"v1"`` once known (or presumed, see ``_presume``); ``None`` while
        ``"auto"`` has not probed yet."""
        return self._api_version

    @property
    def key_source(self) -> str | None:
        """Where the API key came from (argument, variable name, key file), or None."""
        return self._settings.api_key_source

    @property
    def has_session_key(self) -> bool:
        return self._settings.session_api_key is not None

    @property
    def max_retries(self) -> int:
        return self._retry.max_retries

    def __repr__(self) -> str:
        key = "set" if self._settings.api_key else "none"
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, api_key={key}, "
            f"api_version={self._api_version or self._requested_version!r})"
        )

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": _user_agent()}
        if self._settings.api_key:
            headers["Authorization"] = f"Bearer {self._settings.api_key.reveal()}"
        if self._settings.session_api_key:
            headers["X-Session-API-Key"] = self._settings.session_api_key.reveal()
        return headers

    @staticmethod
    def _poll_policy(interval: float | None, max_interval: float | None, default: PollPolicy) -> PollPolicy:
        if interval is None and max_interval is None:
            return default
        first = interval if interval is not None else default.interval
        top = max_interval if max_interval is not None else max(first, default.max_interval)
        try:
            return PollPolicy(interval=first, max_interval=top)
        except ValueError as exc:
            raise errors.InvalidInputError(str(exc)) from None

    # ------------------------------------------------------------------ transport decisions

    def _request_kwargs(self, request: Request) -> dict[str, Any]:
        """httpx arguments for one attempt; the timeout shrinks to fit the deadline."""
        kwargs: dict[str, Any] = {"params": list(request.params) or None}
        if request.has_body:
            kwargs["json"] = request.json
        elif request.content is not None:
            kwargs["content"] = request.content
        kwargs["headers"] = {**self._headers(), "Accept-Encoding": ACCEPT_ENCODING, **dict(request.headers)}
        timeout = self._timeout
        if request.deadline is not None:
            remaining = max(0.001, request.deadline - time.monotonic())
            timeout = httpx.Timeout(
                connect=min(timeout.connect or remaining, remaining),
                read=min(timeout.read or remaining, remaining),
                write=min(timeout.write or remaining, remaining),
                pool=min(timeout.pool or remaining, remaining),
            )
        kwargs["timeout"] = timeout
        return kwargs

    def _response(self, raw: httpx.Response, content: bytes, downloaded: int | None = None) -> Response:
        headers = {k.lower(): v for k, v in raw.headers.items()}
        return Response(
            status_code=raw.status_code,
            headers=headers,
            content=content,
            downloaded=downloaded,
            received_at=time.time(),
            secrets=tuple(self._settings.secrets()),
        )

    def _request_budget(self, throttle: float | bool) -> RequestBudget | None:
        """The client's shared request budget: ``True`` the server kind's default (the
        self-hosted limiter's 10 requests a second; none for Cloud, which answers 429 with a
        Retry-After that the retries honour), ``False`` none, a number that many a second."""
        if throttle is True:
            return None if self._settings.is_cloud else RequestBudget(SELF_HOSTED_RATE, SELF_HOSTED_BURST)
        if throttle is False:
            return None
        if isinstance(throttle, (int, float)) and throttle > 0:
            return RequestBudget(float(throttle), burst=max(1, int(throttle)))
        raise errors.ConfigurationError("throttle must be True, False or a number of requests per second > 0")

    def _pace(self) -> float:
        """Seconds to wait before the next attempt, so the client stays within its budget and
        within the last 429's Retry-After."""
        now = time.monotonic()
        held = max(0.0, self._held_until - now)
        return held + (0.0 if self._budget is None else self._budget.reserve(now + held))

    def _attempt_deadline(self, request: Request) -> float | None:
        """When this attempt must have its whole answer (monotonic): the request timeout from
        now, or the operation's deadline if that comes first. httpx's timeouts are per read,
        which a server sending one byte at a time never trips."""
        budget = self._timeout.read
        ends = [d for d in (request.deadline, None if budget is None else time.monotonic() + budget) if d]
        return min(ends) if ends else None

    def _check_attempt_time(self, request: Request, deadline: float | None) -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise _late(request)

    @staticmethod
    @contextlib.contextmanager
    def _answer_deadline(request: Request, raw: httpx.Response, deadline: float | None) -> Iterator[None]:
        """While an answer's body is read: at ``deadline`` its socket is shut down (the
        watchdog), so that a read waiting for a trickling server ends then, not a whole read
        timeout later; that read's failure is the attempt's timeout. Without a socket (a
        custom transport) only the check after each chunk holds."""
        stream = raw.extensions.get("network_stream")
        sock = None if stream is None else stream.get_extra_info("socket")
        if deadline is None or sock is None or not callable(getattr(sock, "shutdown", None)):
            yield
            return
        alarm = WATCHDOG.arm(deadline, sock)
        try:
            yield
        except httpx.TransportError:
            if WATCHDOG.disarm(alarm):
                raise _late(request) from None
            raise
        finally:
            WATCHDOG.disarm(alarm)

    def _body_reader(self, request: Request, raw: httpx.Response) -> BodyReader:
        limit = self._max_response_bytes * (BULK_FACTOR if request.bulk else 1)
        return BodyReader(request, raw.status_code, raw.headers.get("content-encoding", ""), limit)

    def _answer_error(self, request: Request, exc: httpx.HTTPError) -> errors.ProtocolError:
        """Any other failure of an answer (httpx's decoding or stream errors): a garbled answer,
        which for a create means "look it up before sending it again"."""
        error = errors.ProtocolError(
            f"{request.describe()} got an answer that could not be read ({type(exc).__name__}: "
            f"{redact(str(exc), self._settings.secrets())})",
            method=request.method,
            path=request.path,
        )
        return error

    def _file_body(self, request: Request, raw: httpx.Response) -> FileBody | None:
        """The writer of a download's body into its file, when the answer is the file (a
        success, of the kind the request expects); None when it is an error or a page, read
        as an ordinary answer. A bulk download keeps the bulk cap; an answer that turns out
        not to be the file, the ordinary one."""
        if request.stream_to is None or not 200 <= raw.status_code < 300:
            return None
        ctype = raw.headers.get("content-type", "").split(";")[0].strip().lower()
        is_json = ctype == "application/json" or ctype.endswith("+json")
        if request.stream_json is not None:
            if not is_json:
                return None
        elif ctype.endswith("json") or ctype.startswith("text/"):
            return None
        return FileBody(
            request,
            raw.status_code,
            raw.headers.get("content-encoding", ""),
            destination=request.stream_to,
            limit=self._max_response_bytes * BULK_FACTOR if request.bulk else None,
            answer_limit=self._max_response_bytes,
            document=request.stream_json,
        )

    @staticmethod
    def _file_deadline(request: Request, deadline: float | None) -> float | None:
        """The attempt's deadline for writing its file: a bulk answer's as if it were read
        into memory; none for other downloads (a workspace zip may take long; each read
        still times out)."""
        return deadline if request.bulk else None

    def _delay_after_failure(self, attempt: int, request: Request, exc: httpx.TransportError) -> float | None:
        kind = failure_kind(exc)
        delay = self._retry.delay_after_failure(
            attempt, request, kind, rand=random.random(), now=time.monotonic()
        )
        if delay is not None:
            self._log_retry(request, attempt, delay, _FAILURE_TEXT[kind])
        return delay

    def _delay_after_response(self, attempt: int, request: Request, response: Response) -> float | None:
        if response.status_code == 429:
            hint = parse_retry_after(response.headers.get("retry-after"), wall_now=time.time())
            if hint is not None:
                hold = time.monotonic() + min(hint, self._retry.max_retry_after)
                self._held_until = max(self._held_until, hold)
        delay = self._retry.delay_after_response(
            attempt,
            request,
            response.status_code,
            dict(response.headers),
            concurrency_limited=is_concurrency_limit(response),
            rand=random.random(),
            now=time.monotonic(),
            wall_now=time.time(),
        )
        if delay is not None:
            self._log_retry(request, attempt, delay, f"HTTP {response.status_code}")
        return delay

    def _log_retry(self, request: Request, attempt: int, delay: float, reason: str) -> None:
        logger.debug(
            "retrying %s in %.2fs after %s (retry %d of %d)",
            request.describe(),
            delay,
            reason,
            attempt + 1,
            self._retry.max_retries,
        )

    def _transport_error(
        self, request: Request, exc: httpx.TransportError, attempts: int
    ) -> errors.TransportError:
        kind = failure_kind(exc)
        what = _FAILURE_TEXT[kind]
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        detail = redact(str(exc), self._settings.secrets()) or type(exc).__name__
        hint = (
            f"Is the server at {self.base_url} running and reachable?"
            if not kind.request_sent
            else "The request may have reached the server."
        )
        cls = errors.APITimeoutError if isinstance(exc, httpx.TimeoutException) else errors.APIConnectionError
        return cls(
            f"{request.describe()} to {self.base_url}: {what}{tries} ({detail}). {hint}",
            method=request.method,
            path=request.path,
            request_sent=kind.request_sent,
        )

    def _finish(self, call: Call[Any], response: Response) -> Any:
        """Parse a final response; any error message is scrubbed of secrets on the way out."""
        logger.debug("%s -> %d", call.request.describe(), response.status_code)
        try:
            return call.parse(response)
        except errors.OpenHandsError as exc:
            self._scrub(exc)
            raise

    def _advance(self, op: Op[Any], value: Any, error: errors.OpenHandsError | None) -> Step:
        """The operation's next step (StopIteration at its end), after sending it ``value`` or
        throwing ``error`` into it. An error the operation raises leaves without the keys."""
        try:
            return op.throw(error) if error is not None else op.send(value)
        except errors.OpenHandsError as exc:
            self._scrub(exc)
            raise

    def _scrub(self, exc: errors.OpenHandsError) -> None:
        """Every attribute of the error (message, detail, body, headers, …) without the keys."""
        secrets = self._settings.secrets()
        if secrets:
            for name, value in vars(exc).items():
                setattr(exc, name, scrub(value, secrets))
            exc.args = (exc.message,)

    # ------------------------------------------------------------------ operations

    def _op_generation(self, deadline: float | None = None) -> Op[Generation]:
        """The server's generation: forced, cached, or detected now (CONTRACT §1.6).

        Concurrent first calls share one detection (a ``Shared`` step: one in flight per
        client), each waiting for it until its own ``deadline`` (monotonic, None: no limit)."""
        version = self._api_version
        if version is None:
            version = yield Shared(DETECTION, self._op_detect, deadline)
        return self._generation(version)

    def _op_detect(self) -> Op[str]:
        """Detect the version and keep it; a failure is not kept, so the next call tries again."""
        if self._api_version is None:  # a run that began just after another one succeeded
            self._api_version = yield from detect_version(is_cloud=self._settings.is_cloud)
        return self._api_version

    def _presume(self, version: str) -> None:
        """Start from a version remembered from an earlier detection (the CLI keeps one per
        server for a few minutes) instead of probing. Until an answer confirms it, an
        operation that finds the routes missing detects again, once (``_on_generation``)."""
        if self._api_version is None and version in GENERATIONS:
            self._api_version = version
            self._presumed = True

    def _on_generation(
        self, use: Callable[[Generation], Op[T]], *, absent: Callable[[T], bool] | None = None
    ) -> Op[T]:
        """Run ``use`` on the server's generation.

        When that generation was presumed, not detected, and the server answers as if its
        routes were not there (404 or 405, a web page, nothing of the API's: the errors of
        ``ROUTES_MISSING``, or a result ``absent`` calls absence), the version is detected
        again; if it differs, ``use`` runs once more on the detected generation. That is
        safe for a create too: the routes it went to do not exist, so nothing was made.
        An iterator that already emitted items is not run again."""
        generation = yield from self._op_generation()
        if not self._presumed:
            if self._requested_version == "auto":
                return (yield from use(generation))
            return (yield from self._on_forced(generation, use))
        emitted = False

        def note(step: Step) -> Step:
            nonlocal emitted
            if isinstance(step, Emit) and not emitted:
                emitted = True
                self._presumed = False  # an item of the generation's own: confirmed
            return step

        try:
            result = yield from relay(use(generation), note)
        except ROUTES_MISSING as exc:
            if emitted or (isinstance(exc, errors.APIStatusError) and exc.status_code not in (404, 405)):
                raise
            corrected = yield from self._op_recheck(generation)
            if corrected is None:
                raise
            return (yield from use(corrected))
        if absent is not None and absent(result):
            corrected = yield from self._op_recheck(generation)
            if corrected is not None:
                return (yield from use(corrected))
        self._presumed = False
        return result

    def _on_forced(self, generation: Generation, use: Callable[[Generation], Op[T]]) -> Op[T]:
        """Run ``use`` on the generation the caller forced; when a route answers 404 or 405 and
        the generation's own listing route is missing too, the server does not speak that
        generation: a NotSupportedError that says so (not the route's 404). Only a status
        tells that: a web page or garbled answer may come after a create was made."""
        try:
            return (yield from use(generation))
        except errors.APIStatusError as exc:
            if exc.status_code not in (404, 405):
                raise
            unspoken_error = yield from unspoken(generation.version)
            if unspoken_error is None:
                raise
            raise unspoken_error from exc

    def _op_recheck(self, presumed: Generation) -> Op[Generation | None]:
        """Detect the version the presumed one stood for; the detected generation if it is
        another, None if the presumption was right."""
        if self._presumed and self._api_version == presumed.version:
            self._presumed = False
            self._api_version = None
        detected = yield from self._op_generation()
        return None if detected is presumed else detected

    def _shared_timed_out(self, step: Shared) -> errors.APITimeoutError:
        """The error of a call whose deadline passed while it waited for a shared run."""
        return errors.APITimeoutError(
            f"Waiting for {step.key} from {self.base_url}: the deadline passed before it was known",
            request_sent=False,
        )

    def _generation(self, version: str) -> Generation:
        generation = self._generations.get(version)
        if generation is None:
            generation = self._generations[version] = GENERATIONS[version](self._context)
        return generation

    def _on_owner(
        self, use: Callable[[Generation], Op[T]], *, absent: Callable[[T], bool] | None = None
    ) -> Op[T]:
        """Run ``use`` on the server's generation — or on the generation that owns the id, when
        a server that speaks both hands it over (its V0 routes show V1 conversations)."""

        def on_owner(generation: Generation) -> Op[T]:
            try:
                return (yield from use(generation))
            except OwnedByOtherGeneration as moved:
                return (yield from use(self._generation(moved.version)))

        return self._on_generation(on_owner, absent=absent)

    def _socket_settings(self, step: OpenSocket) -> SocketSettings:
        """How to open the socket of ``step``: TLS as ``verify`` says, the connect timeout
        (within the step's deadline), frames up to the answer size cap."""
        connect = self._timeout.connect or DEFAULT_REQUEST_TIMEOUT
        if step.deadline is not None:
            connect = max(0.001, min(connect, step.deadline - time.monotonic()))
        return SocketSettings(
            ssl=socket_tls(self._verify, step.url),
            open_timeout=connect,
            max_size=self._max_response_bytes,
            user_agent=_user_agent(),
        )

    @staticmethod
    def _track_socket(step: Step, value: Any, sockets: list[Any]) -> None:
        """Keep the driver's list of the sockets an operation has open (closed at its end)."""
        if isinstance(step, OpenSocket) and value is not None:
            sockets.append(value)
        elif isinstance(step, CloseSocket) and step.socket in sockets:
            sockets.remove(step.socket)

    def _live(self, stream: bool | None) -> bool:
        """Whether an operation may use a pushed event stream: the call's choice, else the
        client's, and only with a WebSocket library to open it."""
        wanted = self._stream if stream is None else bool(stream)
        return wanted and websockets_installed()

    def _wait_timeout(self, timeout: float | None) -> float:
        value = DEFAULT_WAIT_TIMEOUT if timeout is None else float(timeout)
        if not value > 0:
            raise errors.InvalidInputError("timeout must be a positive number of seconds")
        return value

    def _op_create(
        self,
        prompt: str | None,
        *,
        repository: str | None,
        branch: str | None,
        git_provider: str | None,
        title: str | None,
        conversation_instructions: str | None,
        image_urls: Sequence[str] | None,
        options: dict[str, Any],
        start_timeout: float | None = None,
    ) -> Op[Conversation]:
        if start_timeout is not None and not (
            isinstance(start_timeout, (int, float))
            and not isinstance(start_timeout, bool)
            and start_timeout > 0
        ):
            raise errors.InvalidInputError("start_timeout must be a positive number of seconds")
        request = NewConversation(
            prompt,
            repository=repository,
            branch=branch,
            git_provider=git_provider,
            title=title,
            conversation_instructions=conversation_instructions,
            image_urls=image_urls,
            options=options,
        )
        return (
            yield from self._on_generation(
                lambda generation: generation.create(request, start_timeout=start_timeout)
            )
        )

    def _op_find_created(
        self,
        prompt: str,
        *,
        since: float,
        conversation_id: str | None,
        exclude: frozenset[str],
        repository: str | None,
        branch: str | None,
        git_provider: str | None,
        title: str | None,
        options: dict[str, Any],
    ) -> Op[Conversation | None]:
        request = NewConversation(
            prompt,
            repository=repository,
            branch=branch,
            git_provider=git_provider,
            title=title,
            options=options,
        )
        try:
            return (
                yield from self._on_generation(
                    lambda generation: generation.find_created(
                        request, since=since, conversation_id=conversation_id, exclude=exclude
                    )
                )
            )
        except CreateUndecided as exc:
            raise errors.CreationUndecidedError(
                f"Could not tell whether a conversation was created for this prompt since {since:.0f} "
                f"({exc}); nothing was created",
                remedy="look for it (list_conversations()) before creating it again",
            ) from None

    def _op_get(self, conversation_id: str) -> Op[Conversation]:
        return self._on_owner(lambda generation: generation.get(conversation_id))

    def _op_resolve_id(self, text: str, scan_limit: int) -> Op[str]:
        """A full id at once (no request); a prefix looked up in the listing of the server's
        generation (on a server that speaks both, the V0 listing, which shows both kinds)."""
        if isinstance(scan_limit, bool) or not isinstance(scan_limit, int) or scan_limit < 1:
            raise errors.InvalidInputError("scan_limit must be a positive number of conversations")
        reference = parse_reference(text, self.base_url)
        if reference.conversation_id is not None:
            return reference.conversation_id
        page_size = min(PREFIX_PAGE_SIZE, scan_limit)
        return (
            yield from self._on_generation(
                lambda generation: find_by_prefix(
                    generation.iter_conversations(page_size=page_size, filters={}), reference, scan_limit
                )
            )
        )

    def _op_result(self, conversation_id: str) -> Op[ConversationResult]:
        return self._on_owner(lambda generation: generation.result(conversation_id))

    def _op_wait(
        self,
        conversation_id: str,
        *,
        timeout: float | None,
        after: SentMessage | None,
        poll_interval: float | None,
        max_poll_interval: float | None,
        stream: bool | None = None,
    ) -> Op[ConversationResult]:
        validate_id(conversation_id)
        live = self._live(stream)
        wait_timeout = self._wait_timeout(timeout)
        poll = self._poll_policy(poll_interval, max_poll_interval, self._poll)
        started = yield Now()
        try:
            # Detecting the version is part of the wait, inside its timeout like its polls.
            yield from self._op_generation(deadline=started + wait_timeout)
        except TRANSIENT_ERRORS as exc:
            now = yield Now()
            if now < started + wait_timeout:
                raise
            raise wait_timed_out(conversation_id, wait_timeout, None, exc) from None
        result = yield from self._on_owner(
            lambda generation: generation.wait(
                conversation_id, timeout=wait_timeout, after=after, poll=poll, started=started, live=live
            )
        )
        return result

    def _op_send_message(self, conversation_id: str, message: str, *, resume: bool = True) -> Op[SentMessage]:
        return self._on_owner(
            lambda generation: generation.send_message(conversation_id, message, resume=resume)
        )

    def _op_send_and_wait(
        self, conversation_id: str, message: str, *, timeout: float | None, stream: bool | None = None
    ) -> Op[ConversationResult]:
        wait_timeout = self._wait_timeout(timeout)
        live = self._live(stream)
        return self._on_owner(
            lambda generation: generation.send_and_wait(
                conversation_id, message, timeout=wait_timeout, live=live
            )
        )

    def _op_iter_conversations(
        self, page_size: int, filters: dict[str, Any], query: ListQuery | None = None
    ) -> Op[None]:
        yield from self._on_generation(
            lambda generation: generation.iter_conversations(
                page_size=page_size, filters=filters, query=query
            )
        )

    def _op_iter_events(
        self, conversation_id: str, *, reverse: bool, page_size: int, since: Since = None
    ) -> Op[None]:
        if since is None:
            return self._on_owner(
                lambda generation: generation.iter_events(
                    conversation_id, reverse=reverse, page_size=page_size
                )
            )
        after = self._on_owner(lambda generation: generation.events_since(conversation_id, since=since))
        return newest_first(after) if reverse else after

    def _op_stream_events(
        self,
        conversation_id: str,
        *,
        since: Since,
        timeout: float | None,
        poll_interval: float | None,
        max_poll_interval: float | None,
        stream: bool | None = None,
    ) -> Op[ConversationResult]:
        validate_id(conversation_id)
        live = self._live(stream)
        # No timeout: until the turn ends, however long it takes (a wait's default is 30 min).
        limit = math.inf if timeout is None else self._wait_timeout(timeout)
        poll = self._poll_policy(poll_interval, max_poll_interval, self._poll)
        started = yield Now()
        result = yield from self._on_owner(
            lambda generation: generation.stream_events(
                conversation_id, since=since, timeout=limit, poll=poll, started=started, live=live
            )
        )
        return result

    def _op_stop(self, conversation_id: str) -> Op[None]:
        return self._on_owner(lambda generation: generation.stop(conversation_id))

    def _op_resume(self, conversation_id: str) -> Op[None]:
        return self._on_owner(lambda generation: generation.resume(conversation_id))

    def _op_delete(self, conversation_id: str) -> Op[bool]:
        # A presumed generation's routes missing may look like "no such conversation" here.
        return self._on_owner(
            lambda generation: generation.delete(conversation_id), absent=lambda deleted: not deleted
        )

    def _op_set_title(self, conversation_id: str, title: str) -> Op[None]:
        return self._on_owner(lambda generation: generation.set_title(conversation_id, title))

    def _op_download_history(self, conversation_id: str, destination: Path) -> Op[Path]:
        return self._on_owner(lambda generation: generation.download_history(conversation_id, destination))

    def _op_download_workspace(self, conversation_id: str, destination: Path) -> Op[Path]:
        return self._on_owner(lambda generation: generation.download_workspace(conversation_id, destination))

    def _op_count_running(self) -> Op[int]:
        return self._on_generation(lambda generation: generation.count_running())

    def _op_history_format(self) -> Op[str]:
        generation = yield from self._op_generation()
        return generation.history_format


_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


@functools.cache
def websockets_installed() -> bool:
    """Whether the ``stream`` extra's WebSocket library can be imported (checked once)."""
    return importlib.util.find_spec("websockets") is not None


def socket_tls(verify: bool | str, url: str) -> ssl.SSLContext | None:
    """The TLS settings of a ``wss://`` socket, as ``verify`` sets them for HTTP: a
    verifying context (with ``verify``'s CA bundle, if a path), or with False one that
    checks nothing; None for ``ws://``."""
    if not url.startswith("wss://"):
        return None
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        return tls_verification(verify)  # type: ignore[return-value]
    return ssl.create_default_context()


def tls_verification(verify: bool | str, base_url: str = "") -> bool | ssl.SSLContext:
    """httpx's ``verify``: True/False, or a CA bundle path turned into an SSL context.

    For a plain ``http://`` server reached without a proxy, no TLS connection is ever made
    (redirects are not followed), so the default is a verifying context without loaded CAs
    instead of httpx's: loading the CA bundle costs about 30 ms of CPU, a third of a whole
    ``openhands-api get``. Should TLS happen after all, that context verifies, and fails."""
    if (
        verify is True
        and base_url.startswith("http://")
        and not any(os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES)
    ):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and hostname checks on
    if isinstance(verify, str):
        try:
            return ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as exc:
            raise errors.ConfigurationError(f"Cannot use {verify} as a CA bundle: {exc}") from None
    return verify
