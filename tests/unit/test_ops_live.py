"""The live V1 stream without a server: the decisions of ``protocol/live.py`` (where to
connect, the auth frame, the resend parameters, close codes, backoff, de-duplication) and
the loop of ``v1_live.py`` through a scripted driver that also plays the agent server's
socket — a wait that looks only when the events call for it, a stream with no gap and no
duplicate across drops, and polling where the socket cannot be had."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from openhands_api.errors import AuthenticationError, NotFoundError, OpenHandsError, WaitTimeoutError
from openhands_api.models import Outcome
from openhands_api.protocol import live
from openhands_api.protocol.http import (
    Call,
    CloseSocket,
    Emit,
    Now,
    Op,
    OpenSocket,
    Progress,
    ReceiveFrame,
    Sleep,
    SocketClosed,
    SocketUnavailable,
)
from openhands_api.protocol.v1_ops import V1Generation
from tests.unit.opdriver import Driver
from tests.unit.scripted import (
    POLL,
    V1_CID,
    V1_CONVERSATIONS,
    V1_EVENTS,
    V1Server,
    context,
    finish_action,
    full_state,
    status_update,
    user_message,
    v1_event,
)

SOCKET = f"ws://localhost:8000/sockets/events/{V1_CID}"

# ---------------------------------------------------------------------------- the decisions


@pytest.mark.parametrize(
    ("conversation_url", "expected"),
    [
        (f"http://localhost:8000/api/conversations/{V1_CID}", SOCKET),
        (f"https://agent.example/api/conversations/{V1_CID}", f"wss://agent.example/sockets/events/{V1_CID}"),
        (
            f"https://app.example/runtime/abc/api/conversations/{V1_CID}",
            f"wss://app.example/runtime/abc/sockets/events/{V1_CID}",
        ),
        (f"/api/conversations/{V1_CID}", f"wss://oh.example/sockets/events/{V1_CID}"),
        (None, None),
        ("", None),
        ("http://localhost:8000/somewhere/else", None),
        ("ftp://localhost/api/conversations/x", None),
    ],
)
def test_the_socket_is_on_the_agent_servers_host(conversation_url: str | None, expected: str | None) -> None:
    assert live.socket_address(conversation_url, "https://oh.example") == expected


def test_resend_parameters_resume_from_a_timestamp_or_replay_all_or_nothing() -> None:
    since = live.subscribe_url(SOCKET, resume_from="2026-11-30T02:27:03.000000", replay=True)
    assert parse_qs(urlsplit(since).query) == {
        "resend_mode": ["since"],
        "after_timestamp": ["2026-11-30T02:27:03.000000"],
    }
    assert live.subscribe_url(SOCKET, resume_from=None, replay=True) == f"{SOCKET}?resend_mode=all"
    assert live.subscribe_url(SOCKET, resume_from=None, replay=False) == SOCKET


def test_the_key_goes_in_the_first_frame() -> None:
    assert json.loads(live.auth_frame("k3y")) == {"type": "auth", "session_api_key": "k3y"}
    target = live.SocketTarget(SOCKET, "k3y")
    assert "k3y" not in repr(target)
    assert "k3y" not in repr(OpenSocket(SOCKET, live.auth_frame("k3y")))


def test_close_codes_map_to_typed_errors_or_to_a_reconnect() -> None:
    auth = live.close_error(4001, "Authentication failed", V1_CID, SOCKET)
    missing = live.close_error(4004, "Conversation not found", V1_CID, SOCKET)
    assert isinstance(auth, AuthenticationError)
    assert auth.path == f"/sockets/events/{V1_CID}"
    assert isinstance(missing, NotFoundError)
    assert live.close_error(1013, "Too many connections", V1_CID, SOCKET) is None
    assert live.close_error(1006, "", V1_CID, SOCKET) is None
    assert live.close_error(1000, "", V1_CID, SOCKET) is None


def test_reconnects_back_off_then_give_up() -> None:
    policy = live.Reconnect((0.1, 0.2, 0.4))
    assert [policy.delay(n) for n in range(1, 5)] == [0.1, 0.2, 0.4, None]


def test_seen_events_drop_repeats_and_keep_the_newest_timestamp() -> None:
    seen = live.SeenEvents("2026-11-30T02:27:02")
    assert seen.accept("a", "2026-11-30T02:27:03")
    assert not seen.accept("a", "2026-11-30T02:27:03")
    assert seen.accept("b", "2026-11-30T02:27:01")  # late, older: new, but no step back
    assert seen.resume_from == "2026-11-30T02:27:03"


def test_which_events_announce_an_execution_status() -> None:
    assert live.execution_change(status_update(1, "finished")) == "finished"
    assert live.execution_change(full_state(1, "idle")) == "idle"
    assert live.execution_change(v1_event(1, "ConversationErrorEvent", "environment")) == "error"
    assert live.execution_change(user_message(1)) is None
    assert not live.calls_for_look("running")
    assert live.calls_for_look("waiting_for_confirmation")
    assert live.decode_frame("not json") is None
    assert live.decode_frame("[1]") is None


# ---------------------------------------------------------------------------- the scripted socket

Frame = dict[str, Any] | int | Callable[[V1Server], None]
"""An event pushed; a close code; or a change to the server at that moment."""


@dataclass
class AgentSocket:
    """The agent server's socket: one script of frames per connection (a connection past
    the scripts is refused). Past its script a connection is silent."""

    server: V1Server
    scripts: list[list[Frame]]
    refuse: bool = False
    opened: list[OpenSocket] = field(default_factory=list)
    closed: int = 0

    def open(self, step: OpenSocket) -> Any:
        if self.refuse or len(self.opened) >= len(self.scripts):
            raise SocketUnavailable("refused (HTTP 403)")
        self.opened.append(step)
        return list(self.scripts[len(self.opened) - 1])

    def receive(self, frames: list[Frame]) -> str | None:
        while frames:
            frame = frames.pop(0)
            if isinstance(frame, int):
                raise SocketClosed(frame)
            if callable(frame):
                frame(self.server)
                continue
            return json.dumps(frame)
        return None


@dataclass
class LiveDriver(Driver):
    socket: AgentSocket | None = None
    silent_for: float = 0.0  # seconds of silent receives (no request is made meanwhile)

    def run(self, op: Op[Any]) -> Any:
        assert self.socket is not None
        value: Any = None
        error: OpenHandsError | None = None
        while True:
            try:
                step = op.throw(error) if error is not None else op.send(value)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            try:
                if isinstance(step, Call):
                    self.requests.append(step.request)
                    value = step.parse(self.answer(step.request))
                elif isinstance(step, Now):
                    value = self.now
                elif isinstance(step, Sleep):
                    self.now += step.seconds
                elif isinstance(step, Emit):
                    self.emitted.append(step.item)
                elif isinstance(step, Progress):
                    self.progress.append(step.item)
                elif isinstance(step, OpenSocket):
                    value = self.socket.open(step)
                elif isinstance(step, ReceiveFrame):
                    value = self.socket.receive(step.socket)
                    if value is None:
                        self.now += step.timeout
                        self.silent_for += step.timeout
                elif isinstance(step, CloseSocket):
                    self.socket.closed += 1
            except OpenHandsError as exc:
                error = exc


def finishes(answer: str, n: int) -> list[Frame]:
    """The end of a run as the socket pushes it; the server changes with the status event."""

    def end(server: V1Server) -> None:
        server.add(finish_action(n, answer), status_update(n + 1, "finished"))
        server.run("finished")

    return [finish_action(n, answer), end, status_update(n + 1, "finished"), full_state(n + 2, "finished")]


def live_wait(server: V1Server, socket_scripts: list[list[Frame]], **options: Any) -> tuple[Any, LiveDriver]:
    driver = LiveDriver(server.answer)
    driver.socket = AgentSocket(server, socket_scripts, **options)
    op = V1Generation(context()).wait(V1_CID, timeout=600.0, after=None, poll=POLL, live=True)
    return driver.run(op), driver


def conversation_reads(driver: Driver) -> int:
    return driver.count("GET", V1_CONVERSATIONS)


# ---------------------------------------------------------------------------- wait over the socket


def test_a_wait_looks_when_the_final_status_is_pushed_and_authenticates_by_the_first_frame() -> None:
    server = V1Server(events=[user_message(1), status_update(2, "running")])
    result, driver = live_wait(server, [[status_update(2, "running"), *finishes("Done.", 3)]])
    assert result.outcome is Outcome.FINISHED
    assert result.final_message == "Done."
    opened = driver.socket.opened if driver.socket else []
    assert [step.url for step in opened] == [SOCKET]  # a wait needs only what comes next
    assert json.loads(opened[0].first_frame or "") == {"type": "auth", "session_api_key": "secret"}
    # one look before the socket, one once it is open, one for the final status
    assert conversation_reads(driver) == 3


def test_a_long_silence_costs_no_request() -> None:
    server = V1Server(events=[user_message(1), status_update(2, "running")])
    driver = LiveDriver(server.answer)
    driver.socket = AgentSocket(server, [[]])
    op = V1Generation(context()).wait(V1_CID, timeout=300.0, after=None, poll=POLL, live=True)
    with pytest.raises(WaitTimeoutError):  # after 5 silent minutes
        driver.run(op)
    assert driver.silent_for == 300
    assert conversation_reads(driver) == 2  # the two first looks, then nothing until the end


def test_a_finished_conversation_is_known_without_opening_the_socket() -> None:
    server = V1Server(execution="finished", events=[finish_action(1, "Old."), status_update(2, "finished")])
    result, driver = live_wait(server, [[]])
    assert result.outcome is Outcome.FINISHED
    assert driver.socket is not None
    assert driver.socket.opened == []


def test_a_refused_socket_means_polling_said_once_at_debug_level(caplog: pytest.LogCaptureFixture) -> None:
    server = V1Server(events=[user_message(1), status_update(2, "running")])
    server.timeline = [None, None, None, lambda s: (s.add(finish_action(3, "Polled.")), s.run("finished"))]
    with caplog.at_level(logging.DEBUG, logger="openhands_api"):
        result, _driver = live_wait(server, [[]], refuse=True)
    assert result.outcome is Outcome.FINISHED
    assert result.final_message == "Polled."
    notes = [r.getMessage() for r in caplog.records if r.name == "openhands_api.stream"]
    assert len(notes) == 1
    assert "by polling" in notes[0]
    assert "refused" in notes[0]  # and why
    assert all("secret" not in r.getMessage() for r in caplog.records)


def test_a_paused_sandbox_has_no_socket_to_open_so_the_wait_polls() -> None:
    server = V1Server(sandbox="PAUSED", execution=None, events=[user_message(1)])
    result, driver = live_wait(server, [[]])
    assert result.outcome is Outcome.STOPPED
    assert driver.socket is not None
    assert driver.socket.opened == []


@pytest.mark.parametrize(("code", "error"), [(4001, AuthenticationError), (4004, NotFoundError)])
def test_a_refused_key_or_an_unknown_conversation_is_a_typed_error(code: int, error: type) -> None:
    server = V1Server(events=[user_message(1), status_update(2, "running")])
    with pytest.raises(error) as caught:
        live_wait(server, [[code]])
    assert "secret" not in str(caught.value)


def test_a_drop_reconnects_after_a_backoff_and_a_look() -> None:
    server = V1Server(events=[user_message(1), status_update(2, "running")])
    first = [full_state(90, "running"), status_update(2, "running"), 1006]
    result, driver = live_wait(server, [first, finishes("Done.", 3)])
    assert result.outcome is Outcome.FINISHED
    assert driver.socket is not None
    assert len(driver.socket.opened) == 2
    # resumed from the newest event seen, whose repeat is dropped by id
    assert "after_timestamp" in driver.socket.opened[1].url


def test_too_many_drops_in_a_row_mean_polling() -> None:
    server = V1Server(events=[user_message(1), status_update(2, "running")])
    server.timeline = [None] * 8 + [lambda s: (s.add(finish_action(3, "Polled.")), s.run("finished"))]
    result, driver = live_wait(server, [[1013]])  # then every reopening is refused
    assert result.outcome is Outcome.FINISHED
    assert driver.socket is not None
    assert len(driver.socket.opened) == 1


def test_a_status_that_cannot_be_decided_yet_is_looked_at_again_at_the_poll_pace() -> None:
    server = V1Server(events=[user_message(1), status_update(2, "running")])

    def finished_without_answer(s: V1Server) -> None:
        s.add(status_update(3, "finished"))
        s.run("finished")

    result, driver = live_wait(server, [[finished_without_answer, status_update(3, "finished")]])
    # No answer appears: the outcome comes once the answer grace has passed, by looks.
    assert result.outcome is Outcome.FINISHED
    assert conversation_reads(driver) > 3


# ---------------------------------------------------------------------------- following


def live_stream(
    server: V1Server, socket_scripts: list[list[Frame]], since: Any = None, **options: Any
) -> tuple[Any, LiveDriver]:
    driver = LiveDriver(server.answer)
    driver.socket = AgentSocket(server, socket_scripts, **options)
    op = V1Generation(context()).stream_events(
        V1_CID, since=since, timeout=600.0, poll=POLL, started=0.0, live=True
    )
    return driver.run(op), driver


def ids(driver: Driver) -> list[str]:
    return [event.id for event in driver.emitted]


def numbers(*ns: int) -> list[str]:
    return [v1_event(n, "x", "y")["id"] for n in ns]


def _queries(driver: LiveDriver) -> list[dict[str, list[str]]]:
    assert driver.socket is not None
    return [parse_qs(urlsplit(step.url).query) for step in driver.socket.opened]


def test_following_reads_the_history_then_the_sockets_whole_log_each_event_once() -> None:
    history = [user_message(1), status_update(2, "running"), v1_event(3, "ActionEvent", "agent")]
    server = V1Server(events=list(history))
    # The agent server resends its whole log; what the history read is dropped by id.
    pushed = [*history, v1_event(4, "ObservationEvent", "environment"), *finishes("Done.", 5)]
    result, driver = live_stream(server, [pushed])
    assert result.outcome is Outcome.FINISHED
    assert ids(driver) == numbers(1, 2, 3, 4, 5, 6, 7)
    assert _queries(driver) == [{"resend_mode": ["all"]}]
    assert driver.progress == []  # an iterator has no progress steps


def test_no_gap_and_no_duplicate_across_drops() -> None:
    server = V1Server(events=[user_message(1)])
    first = [user_message(1), status_update(2, "running"), v1_event(3, "ActionEvent", "agent"), 1006]
    # each connection resends the whole log: what was emitted is dropped by id
    second = [*first[:3], v1_event(4, "ObservationEvent", "environment"), 1011]
    third = [*second[:4], *finishes("Done.", 5)]
    result, driver = live_stream(server, [first, second, third])
    assert result.outcome is Outcome.FINISHED
    assert ids(driver) == numbers(1, 2, 3, 4, 5, 6, 7)
    assert _queries(driver) == [{"resend_mode": ["all"]}] * 3


def test_an_event_kept_after_a_drop_but_stamped_before_the_newest_seen_is_not_lost() -> None:
    # A step's stats update is stamped when the LLM answered but kept once the step is over
    # (openhands-ai 1.11.0): a resend "since the newest timestamp seen" would skip it.
    server = V1Server(events=[user_message(1)])
    stats = v1_event(3, "ConversationStateUpdateEvent", "environment")
    first = [user_message(1), v1_event(4, "ActionEvent", "agent"), 1006]
    second = [user_message(1), v1_event(4, "ActionEvent", "agent"), stats, *finishes("Done.", 5)]
    result, driver = live_stream(server, [first, second])
    assert result.outcome is Outcome.FINISHED
    assert sorted(ids(driver)) == sorted(numbers(1, 3, 4, 5, 6, 7))
    assert len(ids(driver)) == len(set(ids(driver)))


def test_what_the_socket_never_gave_comes_from_the_app_servers_list_at_the_end() -> None:
    # A whole-state update is published but not kept by the agent server: a drop hides it
    # for good there; the app server's list has it, and is read once more after the outcome.
    server = V1Server(events=[user_message(1)])
    published_only = v1_event(8, "ConversationStateUpdateEvent", "environment")

    def copied(s: V1Server) -> None:
        s.add(v1_event(2, "ActionEvent", "agent"), published_only)

    first = [user_message(1), copied, v1_event(2, "ActionEvent", "agent"), 1006]
    second = [user_message(1), v1_event(2, "ActionEvent", "agent"), *finishes("Done.", 3)]
    result, driver = live_stream(server, [first, second])
    assert result.outcome is Outcome.FINISHED
    assert ids(driver)[-1] == numbers(8)[0]
    assert sorted(ids(driver)) == sorted(numbers(1, 2, 3, 4, 5, 8))


def test_following_falls_back_to_polling_from_where_the_socket_left_off() -> None:
    server = V1Server(events=[user_message(1)])

    def more(s: V1Server) -> None:  # what the app server has copied by then
        s.add(status_update(2, "running"), v1_event(3, "ActionEvent", "agent"))

    first = [
        more,
        full_state(90, "running"),
        status_update(2, "running"),
        v1_event(3, "ActionEvent", "agent"),
        1006,
    ]
    server.timeline = [None] * 7 + [
        lambda s: (s.add(finish_action(4, "Polled."), status_update(5, "finished")), s.run("finished"))
    ]
    result, driver = live_stream(server, [first])  # every reopening refused
    assert result.outcome is Outcome.FINISHED
    assert ids(driver) == numbers(1, 2, 3, 4, 5)
    assert driver.count("GET", V1_EVENTS) >= 2


def test_following_without_a_socket_is_the_polled_stream() -> None:
    server = V1Server(events=[user_message(1), status_update(2, "running")])
    server.timeline = [None, lambda s: (s.add(finish_action(3, "Polled.")), s.run("finished"))]
    result, driver = live_stream(server, [[]], refuse=True)
    assert result.outcome is Outcome.FINISHED
    assert ids(driver) == numbers(1, 2, 3)


def test_a_waits_progress_carries_the_newest_pushed_event() -> None:
    server = V1Server(events=[user_message(1), status_update(2, "running")])
    _result, driver = live_wait(server, [[v1_event(3, "ActionEvent", "agent"), *finishes("Done.", 4)]])
    latest = [snapshot.latest_event.id for snapshot in driver.progress if snapshot.latest_event is not None]
    assert latest[:2] == numbers(3, 4)
    assert "latest_event" not in driver.progress[-1].model_dump()


def test_each_connections_greeting_state_is_never_shown() -> None:
    server = V1Server(events=[user_message(1)])
    greeting = full_state(90, "running")  # the time of the connection: newer than all
    first = [greeting, user_message(1), status_update(2, "running"), 1006]
    second = [full_state(91, "running"), user_message(1), status_update(2, "running"), *finishes("Done.", 3)]
    result, driver = live_stream(server, [first, second])
    assert result.outcome is Outcome.FINISHED
    assert ids(driver) == numbers(1, 2, 3, 4, 5)


# ---------------------------------------------------------------------------- the drivers' settings


def test_the_socket_verifies_tls_as_the_client_does() -> None:
    import ssl

    from openhands_api._base_client import socket_tls

    assert socket_tls(True, SOCKET) is None  # ws://: no TLS at all
    verifying = socket_tls(True, "wss://agent.example/sockets/events/x")
    assert verifying is not None
    assert verifying.verify_mode is ssl.CERT_REQUIRED
    assert verifying.check_hostname
    unverified = socket_tls(False, "wss://agent.example/sockets/events/x")
    assert unverified is not None
    assert unverified.verify_mode is ssl.CERT_NONE


def test_a_close_without_a_frame_is_1006_and_a_refused_upgrade_names_its_status() -> None:
    from types import SimpleNamespace

    from openhands_api._pairs import _closed, _unavailable

    assert _closed(Exception("gone")).code == 1006
    closed = _closed(SimpleNamespace(rcvd=SimpleNamespace(code=4001, reason="Authentication failed")))  # type: ignore[arg-type]
    assert (closed.code, closed.reason) == (4001, "Authentication failed")
    refused = _unavailable(SimpleNamespace(response=SimpleNamespace(status_code=403)))  # type: ignore[arg-type]
    assert "HTTP 403" in str(refused)
