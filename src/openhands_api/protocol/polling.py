"""The machinery every operation shares: polling pace, deadlines, paging, riding out trouble.

- :class:`PollPolicy`: how often to look (growing from ``interval`` to ``max_interval``).
- :func:`until`: look every poll interval until the look has an answer or a deadline passes,
  riding out transient failures (:data:`TRANSIENT_ERRORS`) on the way. Every wait and every
  "until it runs" loop of the generations is this one loop.
- :func:`bounded`: an operation whose every request is bounded by a deadline, so that a
  server that stops answering cannot hold a wait past its timeout.
- :func:`unique_pages` and :func:`cursor_pages`: cursor-paged listings, each item once.
- :func:`map_emitted`: an iterator operation with its items converted.
- :func:`relay`: the one loop the combinators above share.

No I/O: time comes from the driver (``Now``), sleeping is a ``Sleep`` step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast

from ..errors import OpenHandsError, ProtocolError, RateLimitError, ServerError, TransportError
from .http import Call, Emit, Now, Op, Sleep, Step

T = TypeVar("T")

# Errors a polling loop rides out: the server may be busy, restarting or behind a flaky proxy.
# Authentication, permission and "no such thing" errors end it at once.
TRANSIENT_ERRORS: tuple[type[OpenHandsError], ...] = (
    TransportError,
    ServerError,
    RateLimitError,
    ProtocolError,
)


@dataclass(frozen=True)
class PollPolicy:
    """Polling pace: start at ``interval`` seconds, grow by ``factor`` up to ``max_interval``.

    The defaults keep a wait at two requests per poll and well under the self-hosted
    server's 10 requests/s budget (CONTRACT §1.4, §4.3).
    """

    interval: float = 1.0
    max_interval: float = 5.0
    factor: float = 1.5

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.max_interval < self.interval or self.factor < 1:
            raise ValueError("poll intervals must be positive, max_interval >= interval, factor >= 1")

    def next(self, current: float) -> float:
        return min(self.max_interval, current * self.factor)


CLOUD_POLL = PollPolicy(interval=3.0, max_interval=15.0)
SELF_HOSTED_POLL = PollPolicy(interval=1.0, max_interval=5.0)


def relay(op: Op[T], change: Callable[[Step], Step]) -> Op[T]:
    """``op`` with each step it yields passed through ``change`` on its way to the driver;
    results and errors go back to ``op`` unchanged, and its return value is relay's."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = op.throw(error) if error is not None else op.send(value)
        except StopIteration as stop:
            return cast(T, stop.value)
        value, error = None, None
        try:
            value = yield change(step)
        except OpenHandsError as exc:
            error = exc


def bounded(op: Op[T], deadline: float) -> Op[T]:
    """``op`` with every request it makes bounded by ``deadline`` (monotonic seconds): the
    driver shrinks each attempt's timeout to what is left, and retries stop at it."""

    def bound(step: Step) -> Step:
        if isinstance(step, Call) and (step.request.deadline is None or step.request.deadline > deadline):
            return Call(replace(step.request, deadline=deadline), step.parse)
        return step

    return relay(op, bound)


def until(
    look: Callable[[], Op[T | None]],
    *,
    deadline: float,
    poll: PollPolicy,
    timed_out: Callable[[OpenHandsError | None], OpenHandsError],
    first_delay: float = 0.0,
) -> Op[T]:
    """Run ``look`` every poll interval until it returns something other than None.

    Each look's requests are bounded by ``deadline``; a transient failure counts as "not yet"
    (and is handed to ``timed_out`` if it was the last thing seen). When the deadline passes,
    ``timed_out(last_error)`` is raised. ``first_delay`` sleeps before the first look.
    """
    interval = poll.interval
    last_error: OpenHandsError | None = None
    if first_delay > 0:
        yield Sleep(first_delay)
    while True:
        try:
            found = yield from bounded(look(), deadline)
        except TRANSIENT_ERRORS as exc:
            last_error = exc
        else:
            last_error = None
            if found is not None:
                return found
        now = yield Now()
        remaining = deadline - now
        if remaining <= 0:
            raise timed_out(last_error)
        yield Sleep(min(interval, remaining))
        interval = poll.next(interval)


def unique_pages(
    fetch: Callable[[str | None], Call[Any]],
    items: Callable[[Any], list[Any]],
    key: Callable[[Any], str],
) -> Op[None]:
    """Every item of a cursor-paged listing, each once.

    Pages may be short or empty while ``next_page_id`` is set, and the merged V0/V1 paging of
    1.x servers can repeat an item at a page boundary (CONTRACT §2.2, §8): so only a null
    ``next_page_id`` ends the loop, items are de-duplicated by ``key``, and a page id seen
    twice stops the loop with an error instead of spinning forever.
    """
    seen: set[str] = set()
    pages_seen: set[str] = set()
    page_id: str | None = None
    while True:
        call = fetch(page_id)
        page = yield call
        for item in items(page):
            if key(item) not in seen:
                seen.add(key(item))
                yield Emit(item)
        if page.next_page_id is None:
            return
        if page.next_page_id in pages_seen:
            raise ProtocolError(
                f"{call.request.describe()} returned page id {page.next_page_id!r} twice; "
                "stopping to avoid a loop"
            )
        pages_seen.add(page.next_page_id)
        page_id = page.next_page_id


def cursor_pages(
    fetch: Callable[[str | None], Call[Any]], emit: Callable[[Any], Iterable[Any]] | None = None
) -> Op[None]:
    """Every item of a V1 ``{items, next_page_id}`` listing, in the server's order; an empty
    page ends it too (event and sandbox searches never repeat items). ``emit`` turns a page
    into what is emitted for it (default: its items)."""
    page_id: str | None = None
    while True:
        page = yield fetch(page_id)
        for item in page.items if emit is None else emit(page):
            yield Emit(item)
        if page.next_page_id is None or not page.items:
            return
        page_id = page.next_page_id


def map_emitted(op: Op[T], convert: Callable[[Any], Any]) -> Op[T]:
    """The same operation with every emitted item passed through ``convert``."""
    return relay(op, lambda step: Emit(convert(step.item)) if isinstance(step, Emit) else step)


def each_emitted(op: Op[Any], handle: Callable[[Any], Op[None]]) -> Op[None]:
    """Run ``op``, running ``handle(item)`` (which may make requests and emit) in place of
    each item it emits; results and errors of ``op``'s own steps go back to it."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = op.throw(error) if error is not None else op.send(value)
        except StopIteration:
            return
        value, error = None, None
        if isinstance(step, Emit):
            yield from handle(step.item)
            continue
        try:
            value = yield step
        except OpenHandsError as exc:
            error = exc


def count_emitted(op: Op[Any], keep: Callable[[Any], bool]) -> Op[int]:
    """How many of the items ``op`` emits ``keep`` accepts: ``op`` runs to its end, its
    other steps go to the driver, its items to nobody else."""
    count = 0

    def tally(item: Any) -> Op[None]:
        nonlocal count
        count += bool(keep(item))
        yield from ()

    yield from each_emitted(op, tally)
    return count
