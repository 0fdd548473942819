"""Ends an answer that is still arriving when its attempt's deadline passes.

httpx's timeouts are per read, and the client checks the attempt's deadline after each chunk
of an answer. A read that begins just before the deadline may still wait the whole read
timeout, so a server that sends a byte just under the timeout apart stretches one attempt to
about twice its timeout. The watchdog shuts the answer's socket down at the deadline: the
waiting read ends at once (the peer seems to have closed), and the client reports the attempt
as timed out (``BaseClient._answer_deadline``).

One daemon thread serves every client of the process, sync and async alike: arming costs a
heap push under a lock, disarming a flag. A connection whose alarm fired is not reused:
httpcore drops a pooled connection whose socket reads as closed.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from contextlib import suppress
from typing import Protocol


class Shuttable(Protocol):
    """A socket (the sync transport's) or asyncio's ``TransportSocket`` (the async one's)."""

    def shutdown(self, how: int, /) -> None: ...


class Alarm:
    """One armed deadline; ``fired`` says whether the watchdog shut its socket down."""

    __slots__ = ("done", "fired", "socket")

    socket: Shuttable

    def __init__(self, sock: Shuttable) -> None:
        self.socket = sock
        self.fired = False
        self.done = False


class Watchdog:
    """Shuts sockets down at their deadlines (``time.monotonic()``), unless disarmed first."""

    # Disarmed alarms stay in the heap until due; past this many they are swept out at once.
    SWEEP_AT = 256

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, Alarm]] = []
        self._order = itertools.count()
        self._disarmed = 0
        self._thread: threading.Thread | None = None
        self._pid = 0

    def arm(self, deadline: float, sock: Shuttable) -> Alarm:
        alarm = Alarm(sock)
        with self._lock:
            self._ensure_thread()
            heapq.heappush(self._heap, (deadline, next(self._order), alarm))
            if self._heap[0][2] is alarm:
                self._lock.notify()  # the thread sleeps until the earliest deadline: this one now
        return alarm

    def disarm(self, alarm: Alarm) -> bool:
        """Disarm ``alarm``; whether it had fired already."""
        with self._lock:
            if not alarm.done:
                alarm.done = True
                self._disarmed += 1
                if self._disarmed > self.SWEEP_AT and 2 * self._disarmed > len(self._heap):
                    self._heap = [entry for entry in self._heap if not entry[2].done]
                    heapq.heapify(self._heap)
                    self._disarmed = 0
            return alarm.fired

    def _ensure_thread(self) -> None:
        # A forked child has the parent's lock and heap but not its thread: it starts its own.
        if self._thread is not None and self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="openhands-api-watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self._lock:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                    self._disarmed -= 1
                if not self._heap:
                    self._lock.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                _, _, alarm = heapq.heappop(self._heap)
                alarm.fired = alarm.done = True
                # Under the lock, so a disarm cannot miss it. A socket already closed has no
                # descriptor any more: its shutdown fails (EBADF) and touches nothing else.
                with suppress(OSError):
                    _shut_down(alarm.socket)


def _shut_down(sock: Shuttable) -> None:
    if isinstance(sock, socket.socket):
        # the socket module's own shutdown: an SSLSocket's would also drop its TLS state
        # under the thread that is reading
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    else:
        sock.shutdown(socket.SHUT_RDWR)


WATCHDOG = Watchdog()
