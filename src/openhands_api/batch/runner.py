"""Running a batch: :func:`run_batch` (async client) and :func:`run_batch_sync`.

Each task: create its conversation, wait for the outcome, optionally send a follow-up and wait
for the answer, and record all of it in the state file (:mod:`.state`). ``concurrency``
workers (plain asyncio; no thread per task, memory flat in the number of tasks) take the tasks
in order, so at most ``concurrency`` conversations of the batch are being created or waited
for at once.

Exactly once, across runs: before a create is sent its task is marked ``creating`` — with the
request and the time — and committed. A run that finds a task ``creating`` (the previous run
was killed with the create in flight) looks for the conversation that create may have made
(:meth:`~openhands_api.AsyncOpenHandsAPI.find_created_conversation`) and creates only when
provably none exists. On V1 the batch chooses the conversation id itself and records it with
the mark, so that lookup is by id; V0 has no such id, and the lookup matches the prompt (the
first user message), repository and branch among conversations created since, leaving out
every conversation the state file knows. When the lookup cannot tell, the task stays
``creating`` (its result says why) and nothing is created; the next run looks again.

The server's limits are waits, not failures: a create refused with 429 (Cloud's
``CONCURRENCY_LIMIT_REACHED``, or a rate limit the client's own retries did not outlast) was not
carried out; the task goes back to ``pending`` and every create of the batch holds off for
the server's ``Retry-After`` (else a growing delay), or until a conversation of the batch ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

from .._base_client import GENERATIONS
from ..aio import AsyncOpenHandsAPI
from ..config import is_cloud
from ..errors import (
    CreationUndecidedError,
    InvalidInputError,
    OpenHandsError,
    RateLimitError,
    WaitTimeoutError,
)
from ..models import ConversationResult
from ..protocol.generation import Generation, is_ambiguous
from ..protocol.v0_ops import V0Generation
from .state import StateFileError, StateStore, TaskRecord
from .tasks import Task

__all__ = ["FollowUp", "TaskResult", "run_batch", "run_batch_sync"]

FollowUp = Union[str, Callable[[Task, ConversationResult], "str | None"]]  # noqa: UP007 (a runtime alias on 3.10)
"""A follow-up: the same message for every task, or a function of the task and its first
result that returns the message (None: no follow-up for this one)."""

# A create refused for the server's limits is tried again after the server's Retry-After, else
# after this delay, doubled on each refusal of the same task up to the cap.
LIMIT_DELAY = 2.0
LIMIT_DELAY_CAP = 60.0

# A server full of running conversations is counted again after this delay, doubled while it
# stays full up to the cap — or as soon as one of the batch's conversations is stopped.
FULL_POLL = 0.25
FULL_POLL_CAP = 5.0

ServerLimit = Union[int, Literal["auto"], None]  # noqa: UP007 (a runtime alias on 3.10)
"""``server_limit``: how many conversations the server runs at once (an int), ``"auto"``
(3 on a self-hosted V0 server, else none known), or None (do not count: rely on refusals)."""


@dataclass(frozen=True)
class TaskResult:
    """What became of one task. ``status``: ``done``, ``failed``, or — when the run could not
    finish it — ``creating`` (undecided whether its conversation exists) or ``running`` (the
    wait timed out); the next run with the same state file carries on from there.
    ``replayed``: finished in an earlier run; this one only read it from the state file."""

    key: str
    task: Task
    status: str
    conversation_id: str | None = None
    outcome: str | None = None
    final_message: str | None = None
    pr_numbers: tuple[int, ...] = ()
    cost: float | None = None
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    replayed: bool = False

    @classmethod
    def of(cls, task: Task, record: TaskRecord, *, replayed: bool = False) -> TaskResult:
        return cls(
            key=record.key,
            task=task,
            status=record.status,
            conversation_id=record.conversation_id,
            outcome=record.outcome,
            final_message=record.final_message,
            pr_numbers=record.pr_numbers,
            cost=record.cost,
            error=record.error,
            started_at=record.started_at,
            finished_at=record.finished_at,
            replayed=replayed,
        )


class _Left(Exception):
    """Internal: the task is left where it stands (``creating`` or ``running``) for the next run."""


@dataclass(frozen=True)
class _Crash:
    error: BaseException


_END = object()


class _Batch:
    def __init__(
        self,
        api: AsyncOpenHandsAPI,
        store: StateStore,
        *,
        follow_up: FollowUp | None,
        retry_failed: bool,
        wait_timeout: float | None,
        stop_when_done: bool = True,
        server_limit: int | None = None,
    ) -> None:
        self.api = api
        self.stop_when_done = stop_when_done
        self.server_limit = server_limit
        self.store = store
        self.follow_up = follow_up
        self.retry_failed = retry_failed
        self.wait_timeout = wait_timeout
        # The server's generation (its class: what it offers, not its operations).
        self.generation: type[Generation] = V0Generation
        # Creates hold off until then (monotonic), for the server's limits.
        self.creates_open_at = 0.0
        self.conversation_ended = asyncio.Event()
        # Lookups one at a time: two tasks alike (same prompt, distinct ids) must not both
        # claim the one conversation found; each sees what the one before it recorded.
        self.lookups = asyncio.Lock()
        # Creates one at a time while the server's running conversations are counted: each
        # count then includes the conversation the create before it started.
        self.slot_claims = asyncio.Lock()
        # The batch's conversations that hold one of the server's running slots (created, not
        # yet stopped): while they alone fill it, there is no need to ask the server.
        self.holding: set[str] = set()

    # ------------------------------------------------------------------ one task

    async def process(self, task: Task) -> TaskResult:
        store = self.store
        record = store.get(task.key)
        assert record is not None
        if record.status == "done" or (record.status == "failed" and not self.retry_failed):
            return TaskResult.of(task, record, replayed=True)
        if record.status == "failed":
            # Re-run on purpose: a new conversation; the old one's id is kept in no column.
            store.update(
                task.key,
                status="pending",
                request=None,
                conversation_id=None,
                start_task_id=None,
                create_sent_at=None,
                phase=None,
                outcome=None,
                final_message=None,
                pr_numbers=None,
                cost=None,
                error=None,
                finished_at=None,
            )
        started_at = record.started_at or time.time()
        if record.started_at is None:
            store.update(task.key, started_at=started_at)
        conversation_id: str | None = None
        try:
            if record.status == "creating":
                conversation_id = await self.recover(task, record)
            elif record.status == "running":
                conversation_id = record.conversation_id
            if conversation_id is None:
                # A V1 create sent again keeps the id it was first sent with: should the first
                # request still arrive after all, the two cannot make two conversations.
                reuse = record.conversation_id if record.status == "creating" else None
                conversation_id = await self.create(task, record.attempts, reuse)
            await self.follow(task, conversation_id, record.phase if record.status == "running" else None)
        except _Left:
            pass
        except OpenHandsError as exc:
            store.update(task.key, status="failed", error=str(exc), finished_at=time.time())
            if conversation_id is not None and self.stop_when_done:
                # A conversation whose agent failed keeps its running slot all the same.
                await self.release(conversation_id)
        finally:
            # Only a shortcut for counting: the server's own count has whatever is left running.
            if conversation_id is not None:
                self.holding.discard(conversation_id)
                self.conversation_ended.set()
        store.maybe_commit()
        final = store.get(task.key)
        assert final is not None
        return TaskResult.of(task, final)

    async def recover(self, task: Task, record: TaskRecord) -> str | None:
        """The conversation a create of an earlier run may have made (None: provably none)."""
        arguments = dict(record.request or task.create_arguments())
        prompt = arguments.pop("prompt")
        chosen = arguments.pop("conversation_id", None)
        since = record.create_sent_at if record.create_sent_at is not None else time.time()
        async with self.lookups:
            return await self._look_up(task, prompt, chosen, since, arguments)

    async def _look_up(
        self, task: Task, prompt: str, chosen: str | None, since: float, arguments: dict[str, Any]
    ) -> str | None:
        try:
            found = await self.api.find_created_conversation(
                prompt,
                since=since,
                conversation_id=chosen,
                exclude=self.store.conversation_ids() - {chosen},
                **arguments,
            )
        except CreationUndecidedError as exc:
            self.store.update(task.key, error=str(exc))
            raise _Left from None
        if found is None:
            return None
        self.store.update(
            task.key,
            status="running",
            conversation_id=found.id,
            start_task_id=found.start_task_id,
            conversation_at=time.time(),
            error=None,
        )
        return found.id

    async def create(self, task: Task, attempts: int, chosen_id: str | None = None) -> str:
        store = self.store
        refusals = 0
        while True:
            await self.creates_open()
            arguments = task.create_arguments()
            if self.generation.chooses_conversation_id:
                # Chosen here and recorded before the send: a later run finds it by this id.
                arguments["conversation_id"] = chosen_id or uuid.uuid4().hex
            try:
                async with self.server_slot():
                    attempts += 1
                    store.update(
                        task.key,
                        status="creating",
                        request=arguments,
                        conversation_id=arguments.get("conversation_id"),
                        create_sent_at=time.time(),
                        attempts=attempts,
                        error=None,
                    )
                    store.commit()  # durable before the create is sent: the exactly-once rule rests on it
                    conversation = await self.api.create_conversation(**arguments)
                    self.holding.add(conversation.id)
            except RateLimitError as exc:
                # Refused before it was carried out (CONCURRENCY_LIMIT_REACHED, or too many
                # requests): nothing was created. Back to pending, and wait.
                store.update(
                    task.key, status="pending", request=None, conversation_id=None, create_sent_at=None
                )
                store.maybe_commit()
                await self.server_full(exc, refusals)
                refusals += 1
                continue
            except OpenHandsError as exc:
                if is_ambiguous(exc) or isinstance(exc, WaitTimeoutError):
                    # The library's own lookup could not tell, or a V1 start is still going
                    # after the start timeout: a conversation may exist, so it stays creating.
                    store.update(task.key, error=str(exc))
                    raise _Left from None
                raise
            store.update(
                task.key,
                status="running",
                conversation_id=conversation.id,
                start_task_id=conversation.start_task_id,
                conversation_at=time.time(),
            )
            store.maybe_commit()
            return conversation.id

    async def follow(self, task: Task, conversation_id: str, phase: str | None) -> None:
        store = self.store
        try:
            result = await self.api.wait(conversation_id, timeout=self.wait_timeout)
            # In phase "follow_up" an earlier run sent the follow-up (and was killed while it
            # waited for the answer): that wait is the one above; the message is not sent twice.
            if phase != "follow_up":
                message = self.follow_up_for(task, result)
                if message is not None:
                    store.update(task.key, phase="follow_up")
                    store.commit()  # before the send: a resumed run must not send it again
                    result = await self.api.send_and_wait(conversation_id, message, timeout=self.wait_timeout)
        except WaitTimeoutError as exc:
            store.update(task.key, error=str(exc))
            raise _Left from None
        finally:
            self.conversation_ended.set()
        succeeded = result.outcome.succeeded
        store.update(
            task.key,
            status="done" if succeeded else "failed",
            outcome=result.outcome.value,
            final_message=result.final_message,
            pr_numbers=result.pr_numbers,
            cost=result.conversation.cost,
            error=None if succeeded else (result.detail or f"the conversation ended {result.outcome.value}"),
            finished_at=time.time(),
        )
        if self.stop_when_done:
            await self.release(conversation_id)
            self.holding.discard(conversation_id)
            self.conversation_ended.set()  # a running slot is free now

    async def release(self, conversation_id: str) -> None:
        """Stop a finished conversation's compute (V0 runtime, V1 sandbox paused): on both
        servers a finished conversation still counts as running — 1.6.0 evicts the least
        recently updated of its 3 running ones, which may be one still starting, and Cloud
        refuses new ones over its cap — so a batch that left them would hit its own."""
        # The result is recorded already: a conversation left running costs a slot, not the task.
        with contextlib.suppress(OpenHandsError):
            await self.api.stop(conversation_id)

    def follow_up_for(self, task: Task, result: ConversationResult) -> str | None:
        if self.follow_up is None or not result.outcome.succeeded:
            return None
        if isinstance(self.follow_up, str):
            return self.follow_up
        return self.follow_up(task, result)

    # ------------------------------------------------------------------ the server's limits

    @contextlib.asynccontextmanager
    async def server_slot(self) -> AsyncIterator[None]:
        """Held while a create is marked and sent: once the server has room for one more
        running conversation (no-op without a ``server_limit``)."""
        if self.server_limit is None:
            yield
            return
        async with self.slot_claims:
            await self.until_server_has_room(self.server_limit)
            yield

    async def until_server_has_room(self, limit: int) -> None:
        """Wait while the server runs ``limit`` conversations or more (the batch's and any
        other of the user's): counted again when one of the batch's is stopped, else after a
        delay that grows while the server stays full."""
        delay = FULL_POLL
        while True:
            self.conversation_ended.clear()  # before counting: a stop during the count is not missed
            if len(self.holding) < limit and await self.running_on_server() < limit:
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.conversation_ended.wait(), timeout=delay)
            delay = min(delay * 2, FULL_POLL_CAP)

    async def running_on_server(self) -> int:
        """The conversations the server counts against its limit (the generation's count)."""
        return await self.api._count_running()

    async def creates_open(self) -> None:
        while True:
            delay = self.creates_open_at - time.monotonic()
            if delay <= 0:
                return
            await asyncio.sleep(delay)

    async def server_full(self, exc: RateLimitError, refusals: int) -> None:
        """Hold every create of the batch off: for the server's Retry-After, else a delay
        that grows with this task's refusals — or, when the server refused for too many
        running conversations, until one of the batch's conversations ends (a slot is free)."""
        delay = (
            exc.retry_after
            if exc.retry_after is not None
            else min(LIMIT_DELAY * 2**refusals, LIMIT_DELAY_CAP)
        )
        self.creates_open_at = max(self.creates_open_at, time.monotonic() + delay)
        self.conversation_ended.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.conversation_ended.wait(), timeout=delay)


def _in_flight_first(work: list[Task], store: StateStore) -> list[Task]:
    """The tasks an earlier run left in flight (``creating``, ``running``) first, then the
    rest in input order: their conversations may be running on the server already, and are
    waited for before new ones are started, so that the batch stays within its concurrency
    on the server too (as far as they fit in it)."""
    in_flight = {record.key for status in ("creating", "running") for record in store.records(status)}
    if not in_flight:
        return work
    return [t for t in work if t.key in in_flight] + [t for t in work if t.key not in in_flight]


def _server_limit(
    server_limit: ServerLimit, generation: type[Generation], base_url: str, stop_when_done: bool
) -> int | None:
    if server_limit == "auto":
        # Without stopping, the batch's own finished conversations would fill the server for
        # good: counting them would wait for ever.
        if not stop_when_done:
            return None
        return None if is_cloud(base_url) else generation.self_hosted_running_limit
    if server_limit is not None and (isinstance(server_limit, bool) or server_limit < 1):
        raise InvalidInputError("server_limit must be at least 1 (or None, or 'auto')")
    return server_limit


def _checked(tasks: Iterable[Task]) -> list[Task]:
    out = list(tasks)
    seen: set[str] = set()
    for task in out:
        if not isinstance(task, Task):
            raise InvalidInputError(f"run_batch takes Task objects, not {type(task).__name__}")
        if task.key in seen:
            raise InvalidInputError(f"two tasks have the same key {task.key} (give them distinct ids)")
        seen.add(task.key)
    return out


async def run_batch(
    api: AsyncOpenHandsAPI,
    tasks: Iterable[Task],
    *,
    concurrency: int,
    state: StateStore | str | Path,
    follow_up: FollowUp | None = None,
    retry_failed: bool = False,
    wait_timeout: float | None = None,
    stop_when_done: bool = True,
    server_limit: ServerLimit = "auto",
) -> AsyncIterator[TaskResult]:
    """Run ``tasks`` with at most ``concurrency`` at once, recording them in ``state`` (a
    path, or an open :class:`~.state.StateStore`), and yield each task's result as it
    completes — tasks finished in an earlier run first come back as ``replayed`` results.

    Run again with the same state file, it carries on where the last run stopped (however
    it stopped): done and failed tasks are not run again (failed ones are with
    ``retry_failed``), running ones are waited for, ``creating`` ones are looked up before
    anything is sent, and only tasks that never started are created. ``follow_up`` is sent
    after a first turn that ended well, and its answer waited for. ``wait_timeout`` bounds
    each wait (default: the client's, 30 min); a task whose wait runs out stays running.
    ``stop_when_done`` stops each conversation's compute once its result is recorded (V0:
    the runtime; V1: the sandbox is paused; ``resume()`` or a message brings it back), so
    that finished conversations do not take the server's running slots.

    ``server_limit``: the most conversations the server runs at once, for a server that
    evicts rather than refuses one more. Before each create the batch counts the
    conversations the server counts as running (all of the user's, not only the batch's) and
    waits while there are that many. ``"auto"`` (the default): 3 on a self-hosted V0 server
    (1.6.0's ``max_concurrent_conversations``, which it does not publish: give yours if you
    changed it), none elsewhere (Cloud refuses with 429 instead, which is waited out; a
    self-hosted V1 server on process sandboxes has no limit; on Docker sandboxes, 1.11.0
    pauses the oldest beyond ``max_num_sandboxes``, 5 by default: give that), and none
    with ``stop_when_done=False`` (the batch's finished conversations would fill the server
    for good). None: no counting.

    StateFileError for a state file that is not one (never written to); InvalidInputError
    for two tasks with one key."""
    if concurrency < 1:
        raise InvalidInputError("concurrency must be at least 1")
    work = _checked(tasks)
    store = state if isinstance(state, StateStore) else StateStore(state)
    owns_store = not isinstance(state, StateStore)
    try:
        # A state file belongs to one server: resumed against another, its lookups would look
        # in the wrong place and its tasks be created a second time there.
        recorded = store.meta("base_url")
        if recorded is None:
            store.set_meta("base_url", api.base_url)
        elif recorded != api.base_url:
            raise StateFileError(
                f"belongs to a batch on {recorded}, not {api.base_url}: use another state file "
                "for another server",
                path=str(store.path),
            )
        store.add_tasks((task.key, task.source) for task in work)
        batch = _Batch(
            api,
            store,
            follow_up=follow_up,
            retry_failed=retry_failed,
            wait_timeout=wait_timeout,
            stop_when_done=stop_when_done,
        )
        batch.generation = GENERATIONS[await api.detect_api_version()]
        batch.server_limit = _server_limit(server_limit, batch.generation, api.base_url, stop_when_done)
        results: asyncio.Queue[object] = asyncio.Queue()
        pending = iter(_in_flight_first(work, store))

        async def worker() -> None:
            try:
                for task in pending:  # one shared iterator: each task goes to one worker
                    results.put_nowait(await batch.process(task))
            except Exception as exc:
                results.put_nowait(_Crash(exc))
            finally:
                results.put_nowait(_END)

        async def committer() -> None:
            while True:
                await asyncio.sleep(store.commit_interval)
                store.maybe_commit()

        workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(work)))]
        ticker = asyncio.create_task(committer())
        try:
            running = len(workers)
            while running:
                item = await results.get()
                if item is _END:
                    running -= 1
                elif isinstance(item, _Crash):
                    raise item.error
                else:
                    assert isinstance(item, TaskResult)
                    yield item
        finally:
            for job in (*workers, ticker):
                job.cancel()
            await asyncio.gather(*workers, ticker, return_exceptions=True)
    finally:
        if owns_store:
            store.close()
        else:
            store.commit()


def run_batch_sync(
    tasks: Iterable[Task],
    *,
    concurrency: int,
    state: str | Path,
    follow_up: FollowUp | None = None,
    retry_failed: bool = False,
    wait_timeout: float | None = None,
    stop_when_done: bool = True,
    server_limit: ServerLimit = "auto",
    **client_options: Any,
) -> Iterator[TaskResult]:
    """:func:`run_batch` for synchronous code: the batch runs on an event loop in one
    background thread with an :class:`~openhands_api.AsyncOpenHandsAPI` made from
    ``client_options`` (``base_url``, ``api_key``, … as for the clients); results are
    yielded here as they complete. Leaving the loop early (``break``, Ctrl-C) stops the
    batch, records what it knows and returns once the thread is done."""
    work = _checked(tasks)
    results: queue.Queue[object] = queue.Queue()
    loop = asyncio.new_event_loop()

    async def produce() -> None:
        try:
            async with AsyncOpenHandsAPI(**client_options) as api:
                async for result in run_batch(
                    api,
                    work,
                    concurrency=concurrency,
                    state=state,
                    follow_up=follow_up,
                    retry_failed=retry_failed,
                    wait_timeout=wait_timeout,
                    stop_when_done=stop_when_done,
                    server_limit=server_limit,
                ):
                    results.put(result)
        except Exception as exc:
            results.put(_Crash(exc))
        finally:
            results.put(_END)

    job = loop.create_task(produce())
    thread = threading.Thread(
        target=loop.run_until_complete, args=(job,), name="openhands-batch", daemon=True
    )
    thread.start()
    try:
        while True:
            item = results.get()
            if item is _END:
                return
            if isinstance(item, _Crash):
                raise item.error
            assert isinstance(item, TaskResult)
            yield item
    finally:
        if thread.is_alive():
            loop.call_soon_threadsafe(job.cancel)
        thread.join()
        loop.close()
