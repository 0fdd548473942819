"""The machinery every operation shares (protocol/polling.py): until, bounded, paging, mapping, counting."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from openhands_api.errors import NotFoundError, OpenHandsError, ProtocolError, ServerError
from openhands_api.protocol.http import Call, Emit, Now, Op, Request, Response, query
from openhands_api.protocol.polling import (
    PollPolicy,
    bounded,
    cursor_pages,
    map_emitted,
    unique_pages,
    until,
)
from tests.unit.opdriver import Driver, json_response


def _parse_value(response: Response) -> Any:
    if response.status_code >= 500:
        raise ServerError("down", status_code=response.status_code, method="GET", path="/x")
    if response.status_code == 404:
        raise NotFoundError("no such thing", status_code=404, method="GET", path="/x")
    return json.loads(response.content)


def get(path: str = "/x", deadline: float | None = None) -> Call[Any]:
    return Call(Request("GET", path, deadline=deadline), _parse_value)


def timed_out(error: OpenHandsError | None) -> OpenHandsError:
    return OpenHandsError(f"timed out; last error: {error}")


def _looks(values: list[Any]) -> tuple[Any, list[float]]:
    """A look that answers ``values`` in turn (an int status means an error answer), noting when."""
    times: list[float] = []
    answers = iter(values)

    def look() -> Op[Any]:
        times.append((yield Now()))
        value = yield get()
        return value

    def answer(request: Request) -> Response:
        value = next(answers)
        if isinstance(value, int):
            return Response(value, {}, b"")
        return json_response(value)

    return (look, answer), times


# ---------------------------------------------------------------------------- PollPolicy


@pytest.mark.parametrize(
    "kwargs", [{"interval": 0}, {"interval": 2, "max_interval": 1}, {"factor": 0.5}], ids=str
)
def test_poll_policy_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="poll intervals"):
        PollPolicy(**kwargs)


def test_poll_policy_grows_by_its_factor_up_to_the_maximum() -> None:
    policy = PollPolicy(interval=1, max_interval=3, factor=2)
    assert [policy.next(1), policy.next(2), policy.next(3)] == [2, 3, 3]


# ---------------------------------------------------------------------------- until


def test_until_returns_the_first_answer_that_is_not_none_sleeping_growing_intervals() -> None:
    (look, answer), times = _looks([None, None, None, "done"])
    driver = Driver(answer)
    poll = PollPolicy(interval=1, max_interval=3, factor=2)
    assert driver.run(until(look, deadline=100, poll=poll, timed_out=timed_out)) == "done"
    assert times == [0, 1, 3, 6]


def test_until_waits_first_delay_before_the_first_look() -> None:
    (look, answer), times = _looks(["done"])
    Driver(answer).run(until(look, deadline=100, poll=PollPolicy(), timed_out=timed_out, first_delay=2.5))
    assert times == [2.5]


def test_until_shortens_the_last_sleep_to_the_deadline_and_then_times_out() -> None:
    (look, answer), times = _looks([None] * 10)
    driver = Driver(answer)
    with pytest.raises(OpenHandsError, match="last error: None"):
        driver.run(
            until(look, deadline=2.5, poll=PollPolicy(interval=1, max_interval=1), timed_out=timed_out)
        )
    assert times == [0, 1, 2, 2.5]


def test_until_rides_out_transient_errors_and_hands_the_last_one_to_timed_out() -> None:
    (look, answer), times = _looks([500, 500, 500])
    with pytest.raises(OpenHandsError, match="last error: down"):
        Driver(answer).run(until(look, deadline=2, poll=PollPolicy(interval=1), timed_out=timed_out))
    assert times == [0, 1, 2]


def test_until_forgets_an_error_once_a_later_look_was_answered() -> None:
    (look, answer), _ = _looks([500, None, None])
    with pytest.raises(OpenHandsError, match="last error: None"):
        Driver(answer).run(until(look, deadline=2, poll=PollPolicy(interval=1), timed_out=timed_out))


def test_until_ends_at_once_on_an_error_that_is_not_transient() -> None:
    (look, answer), times = _looks([None, 404, "never"])
    with pytest.raises(NotFoundError):
        Driver(answer).run(until(look, deadline=100, poll=PollPolicy(interval=1), timed_out=timed_out))
    assert times == [0, 1]


def test_until_bounds_every_request_of_every_look_by_the_deadline() -> None:
    (look, answer), _ = _looks([None, None, "done"])
    driver = Driver(answer, now=10)
    driver.run(until(look, deadline=40, poll=PollPolicy(interval=1), timed_out=timed_out))
    assert [r.deadline for r in driver.requests] == [40, 40, 40]


# ---------------------------------------------------------------------------- bounded


def _two_calls(first: float | None, second: float | None) -> Op[list[Any]]:
    a = yield get("/a", deadline=first)
    b = yield get("/b", deadline=second)
    return [a, b]


def test_bounded_sets_or_tightens_each_deadline_and_keeps_an_earlier_one() -> None:
    driver = Driver(lambda request: json_response(request.path))
    assert driver.run(bounded(_two_calls(None, 99.0), 50.0)) == ["/a", "/b"]
    assert [r.deadline for r in driver.requests] == [50.0, 50.0]
    driver = Driver(lambda request: json_response(1))
    driver.run(bounded(_two_calls(20.0, None), 50.0))
    assert [r.deadline for r in driver.requests] == [20.0, 50.0]


def test_bounded_hands_errors_to_the_operation_which_may_catch_them() -> None:
    def tolerant() -> Op[str]:
        try:
            yield get("/missing")
        except NotFoundError:
            value = yield get("/fallback")
            return str(value)
        return "unreachable"

    def answer(request: Request) -> Response:
        return Response(404, {}, b"") if request.path == "/missing" else json_response("fallback")

    assert Driver(answer).run(bounded(tolerant(), 5.0)) == "fallback"


# ---------------------------------------------------------------------------- paging


@dataclass
class Page:
    items: list[str]
    next_page_id: str | None


def _pages(pages: dict[str | None, tuple[list[str], str | None]]) -> tuple[Any, Any]:
    def fetch(page_id: str | None) -> Call[Page]:
        def parse(response: Response) -> Page:
            items, next_page = json.loads(response.content)
            return Page(items, next_page)

        return Call(Request("GET", "/pages", params=query(page_id=page_id)), parse)

    def answer(request: Request) -> Response:
        return json_response(pages[dict(request.params).get("page_id")])

    return fetch, answer


def _unique(pages: dict[str | None, tuple[list[str], str | None]]) -> Driver:
    fetch, answer = _pages(pages)
    driver = Driver(answer)
    driver.run(unique_pages(fetch, lambda page: page.items, lambda item: item))
    return driver


def test_unique_pages_dedupes_an_item_repeated_at_a_page_boundary() -> None:
    driver = _unique({None: (["a", "b"], "p1"), "p1": (["b", "c"], None)})
    assert driver.emitted == ["a", "b", "c"]


def test_unique_pages_goes_on_through_empty_pages_while_next_page_id_is_set() -> None:
    driver = _unique({None: ([], "p1"), "p1": ([], "p2"), "p2": (["a"], None)})
    assert driver.emitted == ["a"]
    assert len(driver.requests) == 3


def test_unique_pages_ends_at_a_null_next_page_id_even_after_a_full_page() -> None:
    driver = _unique({None: (["a", "b"], None)})
    assert (driver.emitted, len(driver.requests)) == (["a", "b"], 1)


def test_unique_pages_stops_with_a_protocol_error_when_a_page_id_comes_twice() -> None:
    fetch, answer = _pages({None: (["a"], "p1"), "p1": (["b"], "p2"), "p2": (["c"], "p1")})
    driver = Driver(answer)
    with pytest.raises(ProtocolError, match="page id 'p1' twice"):
        driver.run(unique_pages(fetch, lambda page: page.items, lambda item: item))
    assert driver.emitted == ["a", "b", "c"]
    assert len(driver.requests) == 3


def _cursor(pages: dict[str | None, tuple[list[str], str | None]]) -> Driver:
    fetch, answer = _pages(pages)
    driver = Driver(answer)
    driver.run(cursor_pages(fetch))
    return driver


def test_cursor_pages_keeps_the_servers_order_across_pages() -> None:
    driver = _cursor({None: (["b", "a"], "2"), "2": (["c"], None)})
    assert driver.emitted == ["b", "a", "c"]
    assert [dict(r.params).get("page_id") for r in driver.requests] == [None, "2"]


def test_cursor_pages_ends_at_an_empty_page_even_with_a_next_page_id() -> None:
    driver = _cursor({None: (["a"], "1"), "1": ([], "2")})
    assert (driver.emitted, len(driver.requests)) == (["a"], 2)


# ---------------------------------------------------------------------------- map_emitted


def _emitting() -> Op[str]:
    yield Emit(1)
    value = yield get("/v")
    yield Emit(2)
    try:
        yield get("/missing")
    except NotFoundError:
        yield Emit(3)
    return f"got {value}"


def _answer(request: Request) -> Response:
    return Response(404, {}, b"") if request.path == "/missing" else json_response("v")


def test_map_emitted_converts_items_and_passes_results_and_errors_through() -> None:
    driver = Driver(_answer)
    assert driver.run(map_emitted(_emitting(), lambda item: item * 10)) == "got v"
    assert driver.emitted == [10, 20, 30]
