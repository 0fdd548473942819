"""``GET …/events`` paging in both directions, its limits and quirks, and the trajectory."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from openhands_api.testing import ManualClock

from .helpers import all_events, create, run

STEPS_10 = "Work [fake-llm steps=10]"  # 7 + 20 + 2 = 29 events (ids 0–28)


async def page(client: httpx.AsyncClient, conversation_id: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"/api/conversations/{conversation_id}/events", params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def ids(data: dict[str, Any]) -> list[int]:
    return [e["id"] for e in data["events"]]


@pytest.fixture
async def long_run(client: httpx.AsyncClient, clock: ManualClock) -> str:
    return await run(client, clock, STEPS_10)


async def test_default_page_is_the_first_20_events_with_has_more(
    client: httpx.AsyncClient, long_run: str
) -> None:
    data = await page(client, long_run)
    assert list(data) == ["events", "has_more"]
    assert ids(data) == list(range(20))
    assert data["has_more"] is True


async def test_forward_paging_with_start_id_reaches_the_end(client: httpx.AsyncClient, long_run: str) -> None:
    seen: list[int] = []
    start = 0
    while True:
        data = await page(client, long_run, start_id=start, limit=8)
        seen += ids(data)
        if not data["has_more"]:
            break
        start = data["events"][-1]["id"] + 1
    assert seen == list(range(29))


async def test_reverse_paging_with_end_id_walks_back_to_the_first_event(
    client: httpx.AsyncClient, long_run: str
) -> None:
    seen: list[int] = []
    params: dict[str, Any] = {"reverse": "true", "limit": 8}
    while True:
        data = await page(client, long_run, **params)
        seen += ids(data)
        if not data["has_more"]:
            break
        params["end_id"] = data["events"][-1]["id"] - 1
    assert seen == list(range(28, -1, -1))


async def test_reverse_starts_at_the_newest_event_even_with_a_start_id(
    client: httpx.AsyncClient, long_run: str
) -> None:
    data = await page(client, long_run, start_id=5, reverse="true", limit=2)
    assert ids(data) == [28, 27]


async def test_reverse_stops_at_the_start_id(client: httpx.AsyncClient, long_run: str) -> None:
    # 1.6.0 EventStore.search_events walks range(newest, start_id - 1, -1): a client that asks
    # for the events after the last one it saw gets only those, newest first, and an empty
    # page when nothing is new.
    assert await page(client, long_run, start_id=25, reverse="true", limit=20) == {
        "events": (await page(client, long_run, start_id=25, end_id=28, reverse="true"))["events"],
        "has_more": False,
    }
    assert ids(await page(client, long_run, start_id=25, reverse="true", limit=20)) == [28, 27, 26, 25]
    assert (await page(client, long_run, start_id=25, reverse="true", limit=3))["has_more"] is True
    assert await page(client, long_run, start_id=29, reverse="true", limit=20) == {
        "events": [],
        "has_more": False,
    }


async def test_start_and_end_ids_are_inclusive(client: httpx.AsyncClient, long_run: str) -> None:
    assert ids(await page(client, long_run, start_id=3, end_id=5)) == [3, 4, 5]
    assert ids(await page(client, long_run, start_id=3, end_id=5, reverse="true")) == [5, 4, 3]


async def test_reverse_with_start_after_end_is_empty(client: httpx.AsyncClient, long_run: str) -> None:
    assert await page(client, long_run, start_id=5, end_id=3, reverse="true") == {
        "events": [],
        "has_more": False,
    }


async def test_has_more_comes_from_fetching_one_extra_event(client: httpx.AsyncClient, long_run: str) -> None:
    assert (await page(client, long_run, start_id=20, limit=9))["has_more"] is False
    assert (await page(client, long_run, start_id=20, limit=8))["has_more"] is True


async def test_limit_zero_returns_no_events_but_has_more(client: httpx.AsyncClient, long_run: str) -> None:
    assert await page(client, long_run, limit=0) == {"events": [], "has_more": True}


async def test_limit_zero_past_the_end_has_no_more(client: httpx.AsyncClient, long_run: str) -> None:
    assert await page(client, long_run, start_id=29, limit=0) == {"events": [], "has_more": False}


async def test_negative_start_id_starts_at_the_first_event(client: httpx.AsyncClient, long_run: str) -> None:
    assert ids(await page(client, long_run, start_id=-3, limit=2)) == [0, 1]


async def test_start_id_past_the_end_is_empty_without_more(client: httpx.AsyncClient, long_run: str) -> None:
    assert await page(client, long_run, start_id=100) == {"events": [], "has_more": False}


async def test_limit_100_is_allowed(client: httpx.AsyncClient, long_run: str) -> None:
    assert len((await page(client, long_run, limit=100))["events"]) == 29


@pytest.mark.parametrize("limit", [-1, 101])
async def test_limit_outside_0_to_100_is_400_invalid_limit(
    client: httpx.AsyncClient, long_run: str, limit: int
) -> None:
    response = await client.get(f"/api/conversations/{long_run}/events", params={"limit": limit})
    assert (response.status_code, response.json()) == (400, {"detail": "Invalid limit"})


async def test_non_integer_limit_is_422_int_parsing(client: httpx.AsyncClient, long_run: str) -> None:
    response = await client.get(f"/api/conversations/{long_run}/events", params={"limit": "abc"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "int_parsing",
                "loc": ["query", "limit"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": "abc",
            }
        ]
    }


async def test_events_of_unknown_conversation_are_404(client: httpx.AsyncClient) -> None:
    unknown = "0123456789abcdef0123456789abcdef"
    response = await client.get(f"/api/conversations/{unknown}/events")
    assert (response.status_code, response.json()) == (404, {"detail": f"Conversation {unknown} not found"})


async def test_unknown_conversation_wins_over_a_bad_limit(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/conversations/0123456789abcdef0123456789abcdef/events?limit=abc")
    assert response.status_code == 404


async def test_events_stay_readable_after_stop(client: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(client, clock)
    await client.post(f"/api/conversations/{conversation_id}/stop")
    assert len(await all_events(client, conversation_id)) == 10


async def test_trajectory_returns_every_event(client: httpx.AsyncClient, long_run: str) -> None:
    response = await client.get(f"/api/conversations/{long_run}/trajectory")
    assert response.status_code == 200
    assert list(response.json()) == ["trajectory"]
    assert response.json()["trajectory"] == await all_events(client, long_run)


async def test_trajectory_of_unknown_conversation_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/conversations/0123456789abcdef0123456789abcdef/trajectory")
    assert response.status_code == 404
    assert "not found" in response.json()["detail"]


async def test_events_of_a_starting_conversation_hold_only_loading(client: httpx.AsyncClient) -> None:
    conversation_id = await create(client)
    data = await page(client, conversation_id, reverse="true", limit=50)
    assert [e["extras"]["agent_state"] for e in data["events"]] == ["loading"]
    assert data["has_more"] is False
