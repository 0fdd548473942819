"""Lazy simulated time: processes that advance only when someone looks.

Responsible for: running *processes* — generators that mutate the fake server's state and
``yield`` the number of simulated seconds until their next step — in due-time order, up to
"now", whenever ``run_until()`` is called. The server calls it at the start of every request
(and the Python control surface before every read), so state is materialised lazily from
the clock; there are no background tasks or threads. That is what makes the same app work
served by uvicorn, in-process through ``httpx.ASGITransport``, and under a ``ManualClock``.

Not responsible for: what the processes do (``v0/store.py``) or locking (callers hold the
state lock).

Theory of operation: each process has a due time. ``run_until(t)`` repeatedly picks the
process with the smallest (due, sequence) not after ``t``, sets ``now`` to its due time
(so events it creates carry the time they *would* have happened, not the time of the
request that observed them), resumes it, and reschedules it ``yield``-ed seconds later
(divided by the configured speed). Processes may spawn or cancel others. ``suspend(owner)``
takes an owner's processes off the timeline, keeping what is left of their current wait,
and ``resume(owner)`` puts them back (a paused V1 sandbox freezes its agent this way).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Generator
from dataclasses import dataclass

Process = Generator[float, None, None]
"""A simulated activity: runs until it yields the delay before its next step."""


@dataclass
class _Entry:
    due: float
    seq: int
    owner: str
    name: str
    process: Process
    suspended_at: float | None = None


class Scheduler:
    """Runs processes lazily against a clock function."""

    def __init__(self, clock: Callable[[], float], scale: Callable[[float], float]) -> None:
        self._clock = clock
        self._scale = scale
        self._entries: list[_Entry] = []
        self._suspended: list[_Entry] = []
        """Entries of suspended owners; ``due`` holds the wait that was left."""
        self._seq = itertools.count()
        self._virtual_now: float | None = None

    def now(self) -> float:
        """The current simulated time: the due time of the running process, else the clock."""
        return self._clock() if self._virtual_now is None else self._virtual_now

    def spawn(self, process: Process, *, owner: str, name: str, delay: float = 0.0) -> None:
        """Start ``process`` ``delay`` simulated seconds from now (its first step runs then)."""
        due = self.now() + self._scale(delay)
        self._entries.append(_Entry(due, next(self._seq), owner, name, process))

    def call_later(self, action: Callable[[], None], *, owner: str, name: str, delay: float) -> None:
        """Run ``action`` once, ``delay`` simulated seconds from now."""

        def once() -> Process:
            action()
            yield 0.0

        # The first step of a process runs at its due time, so ``once`` acts after ``delay``
        # and ends at its next resumption.
        self.spawn(once(), owner=owner, name=name, delay=delay)

    def cancel(self, owner: str, name: str | None = None) -> int:
        """Drop the processes of ``owner`` (only those called ``name`` if given), suspended or not."""

        def doomed(e: _Entry) -> bool:
            return e.owner == owner and (name is None or e.name == name)

        keep = [e for e in self._entries if not doomed(e)]
        keep_suspended = [e for e in self._suspended if not doomed(e)]
        dropped = len(self._entries) - len(keep) + len(self._suspended) - len(keep_suspended)
        self._entries = keep
        self._suspended = keep_suspended
        return dropped

    def pending(self, owner: str, name: str | None = None) -> bool:
        return any(
            e.owner == owner and (name is None or e.name == name) for e in self._entries + self._suspended
        )

    def suspend(self, owner: str) -> int:
        """Freeze ``owner``'s processes: off the timeline, each keeping the rest of its wait."""
        now = self.now()
        frozen = [e for e in self._entries if e.owner == owner]
        for entry in frozen:
            entry.due = max(0.0, entry.due - now)
            entry.suspended_at = now
        self._entries = [e for e in self._entries if e.owner != owner]
        self._suspended.extend(frozen)
        return len(frozen)

    def resume(self, owner: str, *, waited_outside: Collection[str] = ()) -> int:
        """Thaw ``owner``'s processes: each runs once the rest of its wait has passed from now.

        Processes named in ``waited_outside`` were waiting for something that kept going
        meanwhile (an LLM answering a frozen agent): their wait counts the frozen time too,
        so they run at their old due time, or now if that has passed.
        """
        now = self.now()
        thawed = [e for e in self._suspended if e.owner == owner]
        for entry in thawed:
            frozen_at = now if entry.suspended_at is None else entry.suspended_at
            start = frozen_at if entry.name in waited_outside else now
            entry.due = max(now, start + entry.due)
            entry.suspended_at = None
        self._suspended = [e for e in self._suspended if e.owner != owner]
        self._entries.extend(thawed)
        return len(thawed)

    def next_due(self) -> float | None:
        return min((e.due for e in self._entries), default=None)

    def clear(self) -> None:
        self._entries = []
        self._suspended = []

    def run_until(self, until: float | None = None) -> int:
        """Run every step due at or before ``until`` (default: the clock); returns how many."""
        if self._virtual_now is not None:
            # Called from inside a process (e.g. a store method that advances first): the
            # outer loop is already doing the work.
            return 0
        limit = self._clock() if until is None else until
        steps = 0
        try:
            while True:
                due = [e for e in self._entries if e.due <= limit]
                if not due:
                    return steps
                entry = min(due, key=lambda e: (e.due, e.seq))
                self._virtual_now = entry.due
                try:
                    delay = next(entry.process)
                except StopIteration:
                    self._remove(entry)
                else:
                    entry.due += self._scale(max(0.0, delay))
                    entry.seq = next(self._seq)
                steps += 1
        finally:
            self._virtual_now = None

    def _remove(self, entry: _Entry) -> None:
        # The process may have cancelled itself (or been cancelled) while running.
        self._entries = [e for e in self._entries if e is not entry]
        self._suspended = [e for e in self._suspended if e is not entry]
