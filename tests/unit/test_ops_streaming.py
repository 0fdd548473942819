"""The streaming operation without a server (scripted answers, ``opdriver.Driver``): the
event sources' cursors (V0 ids, V1 timestamps with ties), ``since``, and ``follow``'s
promise — every event once and in order, the history first, reads between polls that ride
out transient failures, and the wait's outcome as the return value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from openhands_api.errors import InvalidInputError, NotFoundError, ServerError
from openhands_api.models import ConversationResult
from openhands_api.protocol.http import Emit, Op, Progress, Request, Response
from openhands_api.protocol.streaming import EventSource, follow, newest_first, v0_since, v1_since
from openhands_api.protocol.v0_ops import V0PolledEvents
from openhands_api.protocol.v1_ops import V1PolledEvents
from tests.unit.opdriver import Driver, json_response
from tests.unit.scripted import V1_CID, app_conversation, params, v0_run, v1_event

V0_CID = "a" * 32


def _v0_answers(events: list[dict[str, Any]]) -> Callable[[Request], Response]:
    """The V0 events route over ``events``: ids from ``start_id``, pages of ``limit``."""

    def answer(request: Request) -> Response:
        query = params(request)
        start, limit = int(query.get("start_id", 0)), int(query["limit"])
        chosen = [e for e in events if e["id"] >= start]
        return json_response({"events": chosen[:limit], "has_more": len(chosen) > limit})

    return answer


def _v1_answers(events: list[dict[str, Any]], page: int = 2) -> Callable[[Request], Response]:
    """The V1 conversation read and the event search (``timestamp__gte``, offset pages)."""

    def answer(request: Request) -> Response:
        if request.path.endswith("/events/search"):
            query = params(request)
            since = query.get("timestamp__gte")
            chosen = sorted(
                (e for e in events if since is None or e["timestamp"] >= since), key=lambda e: e["timestamp"]
            )
            offset = int(query.get("page_id") or 0)
            more = offset + page < len(chosen)
            return json_response(
                {
                    "items": chosen[offset : offset + page],
                    "next_page_id": str(offset + page) if more else None,
                }
            )
        return json_response([app_conversation()])

    return answer


def _ids(driver: Driver) -> list[str]:
    return [event.id for event in driver.emitted]


def test_v0_reads_each_event_once_from_its_cursor() -> None:
    events = [v0_run(n) for n in range(5)]
    driver = Driver(_v0_answers(events))
    source = V0PolledEvents(V0_CID, None, lambda: iter(()))  # type: ignore[arg-type, return-value]
    driver.run(source.read())
    assert _ids(driver) == ["0", "1", "2", "3", "4"]
    events += [v0_run(5), v0_run(6)]
    driver.run(source.read())
    driver.run(source.read())
    assert _ids(driver) == [str(n) for n in range(7)]
    assert params(driver.requests[-1])["start_id"] == "7"


def test_v1_ties_at_the_cursor_are_read_again_but_emitted_once() -> None:
    first, second = v1_event(1, "ActionEvent", "agent"), v1_event(2, "ObservationEvent", "environment")
    events = [first, second]
    driver = Driver(_v1_answers(events))
    source = V1PolledEvents(V1_CID, None)
    driver.run(source.read())
    # A later event stamped the same microsecond as the newest one read: no gap, no duplicate.
    late = {**v1_event(3, "MessageEvent", "agent"), "timestamp": second["timestamp"]}
    events += [late, v1_event(4, "ActionEvent", "agent")]
    driver.run(source.read())
    driver.run(source.read())
    assert _ids(driver) == [first["id"], second["id"], late["id"], events[-1]["id"]]
    assert params(driver.requests[-1])["timestamp__gte"] == events[-1]["timestamp"]


def test_v1_since_an_event_skips_up_to_it_and_an_unknown_one_is_not_found() -> None:
    events = [v1_event(n, "ActionEvent", "agent") for n in range(5)]
    driver = Driver(_v1_answers(events))
    driver.run(V1PolledEvents(V1_CID, events[2]["id"]).read())
    assert _ids(driver) == [events[3]["id"], events[4]["id"]]
    with pytest.raises(NotFoundError, match="has no event"):
        Driver(_v1_answers(events)).run(V1PolledEvents(V1_CID, "nope").read())


def test_since_values_per_generation() -> None:
    assert v0_since(7) == (7, None)
    assert v0_since("7") == (7, None)
    assert v0_since(None) == (-1, None)
    with pytest.raises(InvalidInputError):
        v0_since("75bade24-cba0-4c48-8a2d-2033e496343f")
    with pytest.raises(InvalidInputError):
        v0_since(True)
    assert v1_since("abc") == ("abc", None)
    with pytest.raises(InvalidInputError):
        v1_since(3)


class _Scripted(EventSource):
    """A source over a list that the test grows; a read may be told to fail halfway."""

    def __init__(self, items: list[str]) -> None:
        self.items = items
        self.cursor = 0
        self.fail_next = False

    def read(self) -> Op[None]:
        while self.cursor < len(self.items):
            if self.fail_next:
                self.fail_next = False
                raise ServerError("busy", status_code=503, method="GET", path="/events")
            self.cursor += 1
            yield Emit(self.items[self.cursor - 1])


def test_follow_history_then_between_polls_then_once_more_and_returns_the_outcome() -> None:
    items = ["a", "b"]
    source = _Scripted(items)
    outcome = object()

    def turn() -> Op[ConversationResult]:
        items.append("c")
        yield Progress(None)
        items.extend(["d", "e"])
        source.fail_next = True  # this read fails after nothing: the next one catches up
        yield Progress(None)
        yield Progress(None)
        items.append("f")  # came with the end of the turn
        return outcome  # type: ignore[return-value]

    driver = Driver(lambda request: json_response({}))
    assert driver.run(follow(source, turn())) is outcome
    assert driver.emitted == ["a", "b", "c", "d", "e", "f"]
    assert driver.progress == []  # the polls' snapshots are the stream's business, not the driver's


def test_newest_first_reverses_what_an_op_emits() -> None:
    driver = Driver(_v0_answers([v0_run(n) for n in range(3)]))
    driver.run(newest_first(V0PolledEvents(V0_CID, None, lambda: iter(())).read()))  # type: ignore[arg-type, return-value]
    assert _ids(driver) == ["2", "1", "0"]
