# GENERATED FILE, DO NOT EDIT BY HAND: written from src/openhands_api/aio.py by
# scripts/unasync.py. Edit aio.py, then run `python scripts/unasync.py`.

"""OpenHandsAPI, V0Routes and V1Routes: the OpenHands client over httpx.Client.

This module moves bytes, sleeps and reads the clock; every decision (routes, retries, "is it
done?") comes from ``protocol/`` through the shared :class:`BaseClient`.
"""

# client.py is generated from aio.py by scripts/unasync.py: edit aio.py, then run the script.
# What renaming cannot turn into the sync client lives in _pairs.py, as async/sync twins.

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from . import errors
from ._base_client import (
    ApiVersion,
    BaseClient,
    ProgressCallback,
    ResultCallback,
    one_of,
    tls_verification,
)
from ._pairs import (
    CLIENT_DOC,
    Items,
    SharedRuns,
    gather,
    report_progress,
    sleep,
    socket_close,
    socket_open,
    socket_receive,
)
from .models import (
    AppConversation,
    AppConversationPage,
    Conversation,
    ConversationInfo,
    ConversationPage,
    ConversationResponse,
    ConversationResult,
    Event,
    GitChange,
    GitDiff,
    SandboxInfo,
    SandboxPage,
    SentMessage,
    StartTask,
    StartTaskPage,
    V0Event,
    V0EventPage,
    V1Event,
    V1EventPage,
)
from .protocol import raw, v0, v0_ops, v1, v1_ops
from .protocol.http import (
    NO_BODY,
    Call,
    CloseSocket,
    Emit,
    Now,
    Op,
    OpenSocket,
    Progress,
    ReceiveFrame,
    Request,
    Response,
    Shared,
    Sleep,
    Step,
)
from .protocol.ids import MAX_PREFIX_SCAN
from .protocol.listing import ListQuery, Outcomes
from .protocol.raw import RawResponse
from .protocol.streaming import Since

__all__ = ["EventStream", "OpenHandsAPI", "V0Routes", "V1Routes"]

T = TypeVar("T")


class OpenHandsAPI(BaseClient):
    __doc__ = CLIENT_DOC

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 3,
        api_version: ApiVersion = "auto",
        session_api_key: str | None = None,
        profile: str | None = None,
        allow_insecure_http: bool = False,
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        start_timeout: float | None = None,
        max_response_bytes: int | None = None,
        throttle: float | bool = True,
        verify: bool | str = True,
        stream: bool = True,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            api_version=api_version,
            session_api_key=session_api_key,
            profile=profile,
            allow_insecure_http=allow_insecure_http,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            start_timeout=start_timeout,
            max_response_bytes=max_response_bytes,
            throttle=throttle,
            stream=stream,
            verify=verify,
        )
        self._owns_http = http_client is None
        # TLS verification is on unless the caller says otherwise; ``verify`` may name a CA
        # bundle, and httpx also honours SSL_CERT_FILE, SSL_CERT_DIR and the *_PROXY variables.
        self._http = http_client or httpx.Client(
            transport=transport, follow_redirects=False, verify=tls_verification(verify, self.base_url)
        )
        # Runs that concurrent operations share (the version detection of many first calls).
        self._shared = SharedRuns()
        self.v0 = V0Routes(self)
        self.v1 = V1Routes(self)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> OpenHandsAPI:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ driver

    def _transmit(self, request: Request) -> Response:
        """One attempt: send, then read the whole body within the attempt's deadline and the
        answer's size cap (a trickling server or a decompression bomb cannot get past them) —
        or, when the answer is a download's file, write it there as it comes."""
        url = self.base_url + request.path
        kwargs = self._request_kwargs(request)
        deadline = self._attempt_deadline(request)
        with self._http.stream(request.method, url, **kwargs) as raw:
            download = self._file_body(request, raw)
            if download is not None:
                # Decoded by our own reader like any answer, written as it comes.
                file_deadline = self._file_deadline(request, deadline)
                with download, self._answer_deadline(request, raw, file_deadline):
                    for chunk in raw.iter_raw():
                        download.feed(chunk)
                        self._check_attempt_time(request, file_deadline)
                    return self._response(raw, *download.finish())
            body = self._body_reader(request, raw)
            with self._answer_deadline(request, raw, deadline):
                for chunk in raw.iter_raw():
                    body.feed(chunk)
                    self._check_attempt_time(request, deadline)
            return self._response(raw, body.finish())

    def _send(self, call: Call[T]) -> T:
        request = call.request
        attempt = 0
        while True:
            pause = self._pace()
            if pause > 0:
                sleep(pause)
            try:
                response = self._transmit(request)
            except httpx.TransportError as exc:
                delay = self._delay_after_failure(attempt, request, exc)
                if delay is None:
                    raise self._transport_error(request, exc, attempt + 1) from None
            except httpx.HTTPError as exc:
                raise self._answer_error(request, exc) from None
            except errors.OpenHandsError as exc:
                self._scrub(exc)
                raise
            else:
                delay = self._delay_after_response(attempt, request, response)
                if delay is None:
                    return self._finish(call, response)  # type: ignore[no-any-return]
            sleep(delay)
            attempt += 1

    def _perform(self, step: Step) -> tuple[Any, errors.OpenHandsError | None]:
        if isinstance(step, Call):
            try:
                return self._send(step), None
            except errors.OpenHandsError as exc:
                return None, exc
        if isinstance(step, Sleep):
            sleep(max(0.0, step.seconds))
            return None, None
        if isinstance(step, Now):
            return (time.time() if step.wall else time.monotonic()), None
        if isinstance(step, Shared):
            return self._shared.join(step, self._run, self._shared_timed_out)
        if isinstance(step, OpenSocket):
            try:
                return socket_open(step.url, step.first_frame, self._socket_settings(step)), None
            except errors.OpenHandsError as exc:
                return None, exc
        if isinstance(step, ReceiveFrame):
            try:
                return socket_receive(step.socket, step.timeout), None
            except errors.OpenHandsError as exc:
                return None, exc
        if isinstance(step, CloseSocket):
            socket_close(step.socket)
            return None, None
        raise TypeError(f"unexpected step {step!r}")

    def _run(self, op: Op[T], on_progress: ProgressCallback | None = None) -> T:
        value: Any = None
        error: errors.OpenHandsError | None = None
        sockets: list[Any] = []
        try:
            while True:
                try:
                    step = self._advance(op, value, error)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                if isinstance(step, Emit):
                    raise TypeError("an iterator operation was run as a single call")
                if isinstance(step, Progress):
                    value, error = None, None
                    if on_progress is not None:
                        report_progress(on_progress, step.item)
                    continue
                value, error = self._perform(step)
                self._track_socket(step, value, sockets)
        finally:
            # An operation that ended by an error (a timeout) leaves no socket open.
            for socket in sockets:
                socket_close(socket)

    def _iterate(self, op: Op[Any], finished: ResultCallback | None = None) -> Items:
        """The items ``op`` emits; at its end, ``finished`` gets its return value."""
        value: Any = None
        error: errors.OpenHandsError | None = None
        sockets: list[Any] = []
        try:
            while True:
                try:
                    step = self._advance(op, value, error)
                except StopIteration as stop:
                    if finished is not None:
                        finished(stop.value)
                    return
                if isinstance(step, Emit):
                    value, error = None, None
                    yield step.item
                else:
                    value, error = self._perform(step)
                    self._track_socket(step, value, sockets)
        finally:
            # Also when the caller stops iterating early: its socket is closed with it.
            op.close()
            for socket in sockets:
                socket_close(socket)

    # ------------------------------------------------------------------ conversations

    def create_conversation(
        self,
        prompt: str | None = None,
        *,
        repository: str | None = None,
        branch: str | None = None,
        git_provider: str | None = None,
        title: str | None = None,
        conversation_instructions: str | None = None,
        image_urls: Sequence[str] | None = None,
        initial_user_msg: str | None = None,
        selected_branch: str | None = None,
        start_timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        **options: Any,
    ) -> Conversation:
        """Start a conversation with ``prompt`` (the first message), optionally on a repository.

        Returns as soon as the server accepted it; ``wait()`` follows it. ``initial_user_msg``
        and ``selected_branch`` are the V0 names of ``prompt`` and ``branch``; other V0
        create fields (CONTRACT §3.3) pass through ``options``. Never sent twice on a
        lost answer. ``conversation_instructions`` are extra instructions for the agent (V0's
        field of that name, V1's ``system_message_suffix``).

        On V1 the server starts the conversation first (a start task, followed until READY):
        that takes at most ``start_timeout`` seconds (default: the client's, 300 s), else
        WaitTimeoutError (``conversation_id`` the start task's id, which ``get_conversation``
        accepts; ``last`` its last snapshot). ``on_progress`` is called with a snapshot of the
        start task (its id, outcome ``in_progress``, its status as ``detail``) after each look
        that found it starting. A V0 create returns before its runtime starts: neither applies.
        """
        return self._run(
            self._op_create(
                one_of(prompt, initial_user_msg, "prompt", "initial_user_msg"),
                repository=repository,
                branch=one_of(branch, selected_branch, "branch", "selected_branch"),
                git_provider=git_provider,
                title=title,
                conversation_instructions=conversation_instructions,
                image_urls=image_urls,
                options=options,
                start_timeout=start_timeout,
            ),
            on_progress,
        )

    def find_created_conversation(
        self,
        prompt: str,
        *,
        since: float,
        repository: str | None = None,
        branch: str | None = None,
        git_provider: str | None = None,
        title: str | None = None,
        conversation_id: str | None = None,
        exclude: Sequence[str] | frozenset[str] | set[str] = (),
        **options: Any,
    ) -> Conversation | None:
        """The conversation that an earlier ``create_conversation`` with these arguments made,
        if it made one: None when provably it did not. For a create whose sender is gone (a
        process killed while its create was in flight), so that it is looked for before it
        is sent again. Never creates anything.

        ``since`` is the sender's wall clock (``time.time()``) just before the create was
        sent; the search covers conversations created from ``LOOKUP_WINDOW`` (10 min) before
        it, for clocks that differ. ``exclude``: ids known not to be it (say, the other
        conversations of the same batch). V1: pass the ``conversation_id`` the create was sent
        with (it then finds exactly that one, or its start task, followed to READY); without
        it, the one start task whose request has this prompt and repository. V0 (no
        client-chosen id): the one conversation unknown to this client, created since then,
        with this repository, branch and provider whose first user message is ``prompt``.
        ``title``, when given, is set on the conversation found (the create may have died
        before it renamed it). CreationUndecidedError when it cannot tell (a candidate without
        its first message yet after the start timeout, several candidates, no answer).
        """
        return self._run(
            self._op_find_created(
                prompt,
                since=since,
                conversation_id=conversation_id,
                exclude=frozenset(exclude),
                repository=repository,
                branch=branch,
                git_provider=git_provider,
                title=title,
                options=options,
            )
        )

    def detect_api_version(self) -> str:
        """The server's API generation (``"v0"`` or ``"v1"``), detected now unless known."""
        generation = self._run(self._op_generation())
        return generation.version

    def get_conversation(self, conversation_id: str) -> Conversation:
        """The conversation with its current outcome; NotFoundError if there is no such id."""
        return self._run(self._op_get(conversation_id))

    def resolve_conversation_id(self, text: str, *, scan_limit: int = MAX_PREFIX_SCAN) -> str:
        """The full id that ``text`` names: an id, a unique prefix of one, or the web URL.

        A full id (32 hex characters, dashes allowed) or any other well-formed id comes back
        as given, without a request. A web URL (``{base_url}/conversations/{id}``; a trailing
        slash, query or fragment is ignored) must be of the configured server, else
        InvalidInputError (nothing is sent to another server). A prefix (at least 4 hex
        characters) is looked for among the newest ``scan_limit`` conversations, 100 a
        request, stopping once two match: NotFoundError if none does, AmbiguousIdError
        (``.candidates``) if several do, or if the search stopped before the end of the
        listing. At most ``ceil(scan_limit / 100)`` list requests (10 by default), plus the
        version detection if the client has not made it yet.
        """
        return self._run(self._op_resolve_id(text, scan_limit))

    def iter_conversations(
        self,
        *,
        page_size: int = 20,
        repository: str | None = None,
        search: str | None = None,
        created_since: datetime | None = None,
        updated_since: datetime | None = None,
        outcomes: Outcomes | None = None,
        with_outcome: bool = False,
        **filters: Any,
    ) -> Iterator[Conversation]:
        """Every conversation, newest first, following the server's paging to the end.

        Kept: ``repository`` (``owner/repo``, exactly), ``search`` (in the title, any case),
        ``created_since`` / ``updated_since`` (at or after; a naive datetime is UTC),
        ``outcomes`` (one of these; implies ``with_outcome``). The server filters what it can
        (V0: the repository; V1: the times), the rest is checked on each row as it comes, so
        a filter that keeps few rows may read many pages; stop iterating to stop paging.

        Outcome: a V1 row always has the one its sandbox and execution status decide (no
        request; a turn that ended shows ``finished`` even when the agent asked a question,
        and a paused sandbox ``stopped`` even when its run had finished). With
        ``with_outcome`` every kept row is decided as ``get_conversation`` decides it, at a
        cost per row: V0 one events read (more only when the newest 20 events do not show
        the agent's state; none new when this client read them before); V1 none for a turn
        still going, one events read for a failure or a paused sandbox, two for a turn that
        ended well, three at most. The client's throttle paces them like any request.
        Without it a V0 row's outcome is None (its list item has no agent state).

        Other ``filters`` are the generation's own server filters, sent as given. V0:
        ``selected_repository``, ``conversation_trigger``, ``include_sub_conversations``.
        """
        query = ListQuery.of(
            repository=repository,
            search=search,
            created_since=created_since,
            updated_since=updated_since,
            outcomes=outcomes,
            with_outcome=with_outcome,
        )
        return self._iterate(self._op_iter_conversations(page_size, filters, query))

    def list_conversations(
        self,
        *,
        limit: int | None = 20,
        repository: str | None = None,
        search: str | None = None,
        created_since: datetime | None = None,
        updated_since: datetime | None = None,
        outcomes: Outcomes | None = None,
        with_outcome: bool = False,
        **filters: Any,
    ) -> list[Conversation]:
        """Up to ``limit`` conversations (None: all), newest first: the first ``limit`` that
        the filters keep (:meth:`iter_conversations`, which says what each filter and
        ``with_outcome`` cost). Paging stops once there are enough."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise errors.InvalidInputError("limit must be at least 1")
        out: list[Conversation] = []
        listing = self.iter_conversations(
            page_size=min(limit or 100, 100),
            repository=repository,
            search=search,
            created_since=created_since,
            updated_since=updated_since,
            outcomes=outcomes,
            with_outcome=with_outcome,
            **filters,
        )
        for conversation in listing:
            out.append(conversation)
            if limit is not None and len(out) >= limit:
                break
        return out

    def wait(
        self,
        conversation_id: str,
        *,
        timeout: float | None = None,
        after: SentMessage | None = None,
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        on_progress: ProgressCallback | None = None,
        stream: bool | None = None,
    ) -> ConversationResult:
        """Wait until the agent's turn has an outcome (finished, waiting for you, failed …).

        ``after`` (from ``send_message``) makes the wait ignore the previous turn's outcome.
        ``on_progress`` is called with a snapshot (outcome ``in_progress``, runtime and agent
        state) after each poll that found the turn still going.
        Raises WaitTimeoutError after ``timeout`` seconds (default 30 min): the conversation may
        still be running.

        On V1, with the ``stream`` extra installed, the wait listens to the agent server's
        event stream instead of polling: it looks (the same decision as a poll) only when
        an event announces a new execution status, so it returns right after the agent's
        final event, and an idle wait makes no requests. It polls when
        the stream cannot be opened. ``stream=False`` (or the client's) always polls.
        """
        return self._run(
            self._op_wait(
                conversation_id,
                timeout=timeout,
                after=after,
                poll_interval=poll_interval,
                max_poll_interval=max_poll_interval,
                stream=stream,
            ),
            on_progress,
        )

    def wait_many(
        self,
        conversation_ids: Sequence[str],
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> list[ConversationResult | errors.OpenHandsError]:
        """Wait for several conversations at once; each one's result, in the order given.

        Each wait is :meth:`wait` (``timeout`` applies to each, and all run at the same time);
        one that fails gives its error in its place (WaitTimeoutError, NotFoundError …)
        instead of ending the others. ``on_progress`` is called as in ``wait`` for each, and
        once more with each final result as it comes (its outcome is no longer
        ``in_progress``), so that a caller can count those done. All share the client's
        request budget.
        """
        if not conversation_ids:
            raise errors.InvalidInputError("Give at least one conversation id to wait for")

        def wait_one(conversation_id: str) -> ConversationResult | errors.OpenHandsError:
            try:
                result = self.wait(conversation_id, timeout=timeout, on_progress=on_progress)
            except errors.OpenHandsError as exc:
                return exc
            if on_progress is not None:
                report_progress(on_progress, result)
            return result

        return gather([functools.partial(wait_one, cid) for cid in conversation_ids])

    def poll_until_terminal(
        self, conversation_id: str, *, timeout_s: float = 20 * 60, poll_interval_s: float = 30
    ) -> ConversationResult:
        """The seed client's name for :meth:`wait` with a fixed poll interval.

        ``result["status"]`` is the outcome and ``result.get("url")`` the web page.
        """
        return self.wait(
            conversation_id,
            timeout=timeout_s,
            poll_interval=poll_interval_s,
            max_poll_interval=poll_interval_s,
        )

    def result(self, conversation_id: str) -> ConversationResult:
        """The outcome now, the agent's final message and the PRs it opened (no waiting)."""
        return self._run(self._op_result(conversation_id))

    def send_message(self, conversation_id: str, message: str, *, resume: bool = True) -> SentMessage:
        """Send a follow-up. A stopped V0 runtime is restarted first; a paused V1 sandbox is
        resumed first unless ``resume=False`` (then ConflictError). Pass the receipt to
        ``wait(after=…)`` to wait for the answer to this message."""
        return self._run(self._op_send_message(conversation_id, message, resume=resume))

    def send_and_wait(
        self,
        conversation_id: str,
        message: str,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        stream: bool | None = None,
    ) -> ConversationResult:
        """Send a follow-up and wait for the agent's answer to it (``on_progress`` and
        ``stream`` as in ``wait``)."""
        return self._run(
            self._op_send_and_wait(conversation_id, message, timeout=timeout, stream=stream), on_progress
        )

    def iter_events(
        self, conversation_id: str, *, reverse: bool = False, page_size: int = 100, since: Since = None
    ) -> Iterator[Event]:
        """Every event, oldest first (or newest first with ``reverse``).

        ``since`` keeps only the newer ones: those after an event (V0: its integer id, or
        ``Event.id``; V1: ``Event.id``), or at or after a time (a datetime; naive is UTC).
        With ``since`` and ``reverse``, the events are held until the newest is read."""
        return self._iterate(
            self._op_iter_events(conversation_id, reverse=reverse, page_size=page_size, since=since)
        )

    def stream_events(
        self,
        conversation_id: str,
        *,
        since: Since = None,
        timeout: float | None = None,
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        stream: bool | None = None,
    ) -> EventStream:
        """Follow the conversation's events live: first the history (after ``since``, as in
        ``iter_events``), then each new event as it comes, each once and in order, until
        the agent's turn has an outcome — the moment ``wait()`` would return.

        Iterate over the returned stream for the events; after the last one, its ``result``
        is the turn's ConversationResult (as ``wait()`` returns it); it stays None if the
        caller stops early. Raises
        WaitTimeoutError after ``timeout`` seconds (default: none, until the turn ends).

        On V1, with the ``stream`` extra installed, the events after the REST history are
        pushed by the agent server's WebSocket (authenticated by its first frame, resumed
        from the newest event after a drop, de-duplicated by id); where it cannot be opened,
        and on V0, each poll reads the conversation (as ``wait``) and the events newer than
        the last one read. ``stream=False`` (or the client's) always polls.
        """
        return EventStream(
            self,
            self._op_stream_events(
                conversation_id,
                since=since,
                timeout=timeout,
                poll_interval=poll_interval,
                max_poll_interval=max_poll_interval,
                stream=stream,
            ),
        )

    def stop(self, conversation_id: str) -> None:
        """Stop the conversation's runtime (V0 ``/stop``); ``resume()`` starts it again."""
        self._run(self._op_stop(conversation_id))

    def resume(self, conversation_id: str) -> None:
        """Start a stopped conversation's runtime again (V0 ``/start``)."""
        self._run(self._op_resume(conversation_id))

    def delete_conversation(self, conversation_id: str) -> bool:
        """Delete it and its runtime; False if there was no such conversation."""
        return self._run(self._op_delete(conversation_id))

    def set_title(self, conversation_id: str, title: str) -> None:
        self._run(self._op_set_title(conversation_id, title))

    def download_history(self, conversation_id: str, destination: str | os.PathLike[str]) -> Path:
        """Save the conversation's full history to ``destination``: V1's zip, or V0's
        trajectory as JSON (V0 has no zip of the history)."""
        return self._run(self._op_download_history(conversation_id, Path(destination)))

    def history_format(self) -> str:
        """What ``download_history`` writes on this server: ``"zip"`` (V1) or ``"json"``
        (V0's trajectory), to name the file honestly before downloading. Detects the version
        if the client has not yet."""
        return self._run(self._op_history_format())

    def _count_running(self) -> int:
        """How many of the user's conversations the server counts against its limit of running
        ones now (a batch's ``server_limit``): the generation's own count, the whole listing."""
        return self._run(self._op_count_running())

    def download_workspace(self, conversation_id: str, destination: str | os.PathLike[str]) -> Path:
        """Save the workspace's files (the agent's checkout) as a zip to ``destination``,
        streamed through a temporary file renamed into place once complete. V0 only:
        a V1 server offers no such download (NotSupportedError, before any request)."""
        return self._run(self._op_download_workspace(conversation_id, Path(destination)))

    # ------------------------------------------------------------------ any route

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = NO_BODY,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> RawResponse:
        """Send any request to the configured server, with its keys, pacing and retries.

        ``path`` is the server's (``/api/conversations``, or a URL of the configured server):
        an absolute URL of another host is InvalidInputError and nothing is sent, so the keys
        never go there. ``params`` become the query; the body is ``json`` (any JSON value) or
        ``content`` (bytes, sent as ``application/json`` unless ``headers`` say otherwise).
        GET, HEAD and DELETE are retried as every read is; POST, PUT and PATCH only when they
        provably never reached the server. An error status raises the typed error (its
        ``.body`` holds the server's answer); a success comes back whole as a RawResponse.
        """
        request = raw.raw_request(
            method, path, self.base_url, params=params, json_body=json, content=content, headers=headers
        )
        return self._send(raw.raw_call(request))

    def iter_pages(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[Any]:
        """Every item of a paged GET listing, page after page: the items under ``results``
        (V0) or ``items`` (V1), following ``next_page_id`` as ``page_id`` to the end."""
        request = raw.raw_request("GET", path, self.base_url, params=params, headers=headers)
        return self._iterate(raw.paginate(request))


class EventStream:
    """The events of :meth:`OpenHandsAPI.stream_events` as they come: iterate over it
    for each :class:`~openhands_api.models.Event`.

    ``result``: None while events may still come; once the iterator is exhausted (the turn
    has ended), the turn's :class:`~openhands_api.models.ConversationResult`. A caller that
    stops early (``break``) may ``close()`` the stream to end it at once.
    """

    def __init__(self, client: OpenHandsAPI, op: Op[ConversationResult]) -> None:
        self.result: ConversationResult | None = None
        self._events = client._iterate(op, self._finished)

    def _finished(self, result: ConversationResult) -> None:
        self.result = result

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> Event:
        event: Event = self._events.__next__()
        return event

    def close(self) -> None:
        self._events.close()


class V0Routes:
    """The raw V0 routes (``/api/conversations…``), one method per route, wire models out."""

    def __init__(self, client: OpenHandsAPI) -> None:
        self._client = client

    def create_conversation(self, initial_user_msg: str, **fields: Any) -> ConversationResponse:
        return self._client._send(v0.create_conversation(v0.create_body(initial_user_msg, **fields)))

    def get_conversation(self, conversation_id: str) -> ConversationInfo | None:
        return self._client._send(v0.get_conversation(conversation_id))

    def list_conversations(self, **params: Any) -> ConversationPage:
        return self._client._send(v0.list_conversations(**params))

    def iter_conversations(self, *, page_size: int = 20, **filters: Any) -> Iterator[ConversationInfo]:
        return self._client._iterate(v0_ops.iter_v0_conversations(page_size=page_size, **filters))

    def update_title(self, conversation_id: str, title: str) -> bool:
        return self._client._send(v0.update_title(conversation_id, title))

    def delete_conversation(self, conversation_id: str) -> bool:
        return self._client._send(v0.delete_conversation(conversation_id))

    def start(self, conversation_id: str, providers_set: Sequence[str] | None = None) -> ConversationResponse:
        return self._client._send(v0.start_conversation(conversation_id, providers_set))

    def stop(self, conversation_id: str) -> ConversationResponse:
        return self._client._send(v0.stop_conversation(conversation_id))

    def get_events(self, conversation_id: str, **params: Any) -> V0EventPage:
        return self._client._send(v0.get_events(conversation_id, **params))

    def iter_events(self, conversation_id: str, **params: Any) -> Iterator[V0Event]:
        return self._client._iterate(v0_ops.iter_v0_events(conversation_id, **params))

    def get_trajectory(self, conversation_id: str) -> list[V0Event]:
        return self._client._send(v0.get_trajectory(conversation_id))

    def send_message(self, conversation_id: str, message: str) -> bool:
        return self._client._send(v0.send_message(conversation_id, message))

    def list_files(self, conversation_id: str, path: str | None = None) -> list[str]:
        return self._client._send(v0.list_files(conversation_id, path))

    def read_file(self, conversation_id: str, file: str) -> str:
        return self._client._send(v0.read_file(conversation_id, file))

    def download_workspace(self, conversation_id: str, destination: str | os.PathLike[str]) -> int:
        return self._client._send(v0.download_workspace(conversation_id, Path(destination)))

    def git_changes(self, conversation_id: str) -> list[GitChange]:
        return self._client._send(v0.git_changes(conversation_id))

    def git_diff(self, conversation_id: str, path: str) -> GitDiff:
        return self._client._send(v0.git_diff(conversation_id, path))


class V1Routes:
    """The raw V1 routes (``/api/v1/…``), one method per route, wire models out.

    Batch reads take any number of ids (split into calls the server accepts, order kept,
    ``None`` for unknown ids).
    """

    def __init__(self, client: OpenHandsAPI) -> None:
        self._client = client

    def start_conversation(self, prompt: str, **fields: Any) -> StartTask:
        """``POST /api/v1/app-conversations`` → the start task (not followed to READY)."""
        return self._client._send(v1.start_conversation(v1.create_body(prompt, **fields)))

    def get_start_tasks(self, ids: Sequence[str]) -> list[StartTask | None]:
        return self._client._run(v1_ops.get_start_tasks_batched(ids))

    def search_start_tasks(self, **params: Any) -> StartTaskPage:
        return self._client._send(v1.search_start_tasks(**params))

    def get_conversations(self, ids: Sequence[str]) -> list[AppConversation | None]:
        return self._client._run(v1_ops.get_conversations_batched(ids))

    def search_conversations(self, **params: Any) -> AppConversationPage:
        return self._client._send(v1.search_conversations(**params))

    def iter_conversations(self, *, page_size: int = 100, **filters: Any) -> Iterator[AppConversation]:
        return self._client._iterate(v1_ops.iter_v1_conversations(page_size=page_size, **filters))

    def count_conversations(self, **filters: Any) -> int:
        return self._client._send(v1.count_conversations(**filters))

    def update_conversation(self, conversation_id: str, **fields: Any) -> AppConversation:
        return self._client._send(v1.update_conversation(conversation_id, **fields))

    def delete_conversation(self, conversation_id: str) -> bool:
        return self._client._send(v1.delete_conversation(conversation_id))

    def send_message(self, conversation_id: str, text: str, *, resume: bool = False) -> SentMessage:
        """``send-message``; with ``resume`` a paused sandbox (409) is resumed first."""
        return self._client._run(
            v1_ops.send_message_resuming(
                conversation_id,
                text,
                resume=resume,
                start_timeout=self._client._start_timeout,
                poll=self._client._poll,
            )
        )

    def search_events(self, conversation_id: str, **params: Any) -> V1EventPage:
        return self._client._send(v1.search_events(conversation_id, **params))

    def iter_events(self, conversation_id: str, **params: Any) -> Iterator[V1Event]:
        return self._client._iterate(v1_ops.iter_v1_events(conversation_id, **params))

    def count_events(self, conversation_id: str, **filters: Any) -> int:
        return self._client._send(v1.count_events(conversation_id, **filters))

    def download_conversation(self, conversation_id: str, destination: str | os.PathLike[str]) -> int:
        return self._client._send(v1.download_conversation(conversation_id, Path(destination)))

    def read_file(self, conversation_id: str, file_path: str) -> str:
        return self._client._send(v1.read_file(conversation_id, file_path))

    def git_changes(self, conversation_id: str, path: str, ref: str | None = None) -> list[GitChange]:
        return self._client._send(v1.git_changes(conversation_id, path, ref))

    def git_diff(self, conversation_id: str, path: str, ref: str | None = None) -> dict[str, Any]:
        return self._client._send(v1.git_diff(conversation_id, path, ref))

    def search_sandboxes(self, **params: Any) -> SandboxPage:
        return self._client._send(v1.search_sandboxes(**params))

    def iter_sandboxes(self, *, page_size: int = 100) -> Iterator[SandboxInfo]:
        return self._client._iterate(v1_ops.iter_v1_sandboxes(page_size=page_size))

    def get_sandboxes(self, ids: Sequence[str]) -> list[SandboxInfo | None]:
        return self._client._send(v1.get_sandboxes(ids))

    def pause_sandbox(self, sandbox_id: str) -> bool:
        return self._client._send(v1.pause_sandbox(sandbox_id))

    def resume_sandbox(self, sandbox_id: str) -> bool:
        return self._client._send(v1.resume_sandbox(sandbox_id))

    def delete_sandbox(self, sandbox_id: str) -> bool:
        return self._client._send(v1.delete_sandbox(sandbox_id))

    def users_me(self) -> dict[str, Any]:
        return self._client._send(v1.users_me())
