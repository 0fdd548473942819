"""The watchdog that ends an answer at its attempt's deadline (openhands_api._watchdog)."""

from __future__ import annotations

import socket
import time

from openhands_api._watchdog import Watchdog


def test_a_read_waiting_past_the_deadline_ends_then() -> None:
    watchdog = Watchdog()
    ours, peer = socket.socketpair()
    with ours, peer:
        ours.settimeout(5.0)
        started = time.monotonic()
        alarm = watchdog.arm(started + 0.2, ours)
        assert ours.recv(1) == b""  # the shut-down socket reads as closed
        assert 0.15 < time.monotonic() - started < 2.0
        assert watchdog.disarm(alarm) is True


def test_a_disarmed_alarm_leaves_its_socket_alone() -> None:
    watchdog = Watchdog()
    ours, peer = socket.socketpair()
    with ours, peer:
        alarm = watchdog.arm(time.monotonic() + 0.1, ours)
        assert watchdog.disarm(alarm) is False
        time.sleep(0.3)
        peer.sendall(b"x")
        ours.settimeout(2.0)
        assert ours.recv(1) == b"x"


def test_an_alarm_for_a_closed_socket_touches_nothing() -> None:
    watchdog = Watchdog()
    ours, peer = socket.socketpair()
    alarm = watchdog.arm(time.monotonic() + 0.05, ours)
    ours.close()  # its descriptor may be reused at once; shutting the closed object down is EBADF
    other, other_peer = socket.socketpair()
    with other, other_peer, peer:
        time.sleep(0.3)
        assert watchdog.disarm(alarm) is True
        other_peer.sendall(b"y")
        other.settimeout(2.0)
        assert other.recv(1) == b"y"


def test_disarmed_alarms_do_not_pile_up() -> None:
    watchdog = Watchdog()
    ours, peer = socket.socketpair()
    with ours, peer:
        far = time.monotonic() + 3600
        for _ in range(1000):
            watchdog.disarm(watchdog.arm(far, ours))
        assert len(watchdog._heap) <= 2 * Watchdog.SWEEP_AT
