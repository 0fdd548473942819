"""V1 events of the app server: search filters, both sort orders, page ids, count, batch get."""

from __future__ import annotations

import uuid

import httpx
import pytest

from openhands_api.testing import ManualClock

from .conftest import MakeClient
from .v1_helpers import ONE_STEP_RUN, V1, events, kinds, run


@pytest.fixture
def v1(make_client: MakeClient) -> httpx.AsyncClient:
    return make_client(**V1)[0]


async def search(client: httpx.AsyncClient, conversation_id: str, **params: object) -> httpx.Response:
    return await client.get(f"/api/v1/conversation/{conversation_id}/events/search", params=params)


async def test_search_sorts_by_timestamp_ascending_by_default(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    items = await events(v1, await run(v1, clock))
    assert kinds(items) == ONE_STEP_RUN


async def test_search_sorts_newest_first_with_timestamp_desc(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock)
    ascending = await events(v1, conversation_id)
    descending = await events(v1, conversation_id, sort_order="TIMESTAMP_DESC")
    assert descending == ascending[::-1]


async def test_unknown_sort_order_is_422_with_the_enum_values(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    response = await search(v1, await run(v1, clock), sort_order="SIDEWAYS")
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "enum",
                "loc": ["query", "sort_order"],
                "msg": "Input should be 'TIMESTAMP' or 'TIMESTAMP_DESC'",
                "input": "SIDEWAYS",
                "ctx": {"expected": "'TIMESTAMP' or 'TIMESTAMP_DESC'"},
            }
        ]
    }


async def test_page_ids_are_decimal_offsets(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    everything = await events(v1, conversation_id)
    first = (await search(v1, conversation_id, limit=3)).json()
    assert first["next_page_id"] == "3"
    second = (await search(v1, conversation_id, limit=3, page_id="3")).json()
    assert second["items"] == everything[3:6]
    assert second["next_page_id"] == "6"
    last = (await search(v1, conversation_id, limit=100, page_id="9")).json()
    assert last == {"items": everything[9:], "next_page_id": None}


async def test_page_ids_page_the_descending_order_too(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    newest = (await search(v1, conversation_id, limit=3, sort_order="TIMESTAMP_DESC")).json()
    following = (await search(v1, conversation_id, limit=3, sort_order="TIMESTAMP_DESC", page_id="3")).json()
    everything = await events(v1, conversation_id, sort_order="TIMESTAMP_DESC")
    assert newest["items"] + following["items"] == everything[:6]


async def test_a_non_numeric_page_id_is_a_plain_500(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    response = await search(v1, await run(v1, clock), page_id="x")
    assert (response.status_code, response.text) == (500, "Internal Server Error")


async def test_a_negative_page_id_slices_from_the_end(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    page = (await search(v1, conversation_id, page_id="-2")).json()
    assert page == {"items": (await events(v1, conversation_id))[-2:], "next_page_id": None}


@pytest.mark.parametrize(
    ("limit", "error"), [(0, "greater_than"), (101, "less_than_equal"), ("abc", "int_parsing")]
)
async def test_limit_must_be_1_to_100(v1: httpx.AsyncClient, limit: object, error: str) -> None:
    response = await search(v1, uuid.uuid4().hex, limit=limit)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == error


async def test_kind_filter(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    updates = await events(v1, conversation_id, kind__eq="ConversationStateUpdateEvent")
    assert {e["kind"] for e in updates} == {"ConversationStateUpdateEvent"}
    assert len(updates) == 7


async def test_unknown_kind_is_422_listing_every_kind(v1: httpx.AsyncClient) -> None:
    response = await search(v1, uuid.uuid4().hex, kind__eq="Nope")
    error = response.json()["detail"][0]
    assert (response.status_code, error["type"]) == (422, "literal_error")
    assert error["msg"].startswith("Input should be 'ServerErrorEvent', 'ACPToolCallEvent', 'Condensation',")
    assert error["msg"].endswith("'TokenEvent', 'InterruptEvent' or 'PauseEvent'")


async def test_timestamp_filters_compare_like_the_real_service(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock)
    everything = await events(v1, conversation_id)
    middle = everything[5]["timestamp"]
    after = await events(v1, conversation_id, timestamp__gte=middle)
    before = await events(v1, conversation_id, timestamp__lt=middle)
    assert after == everything[5:]
    assert before == everything[:5]
    # With a timezone the real service compares "…+00:00" against "…123456": whole seconds win.
    with_zone = await events(v1, conversation_id, timestamp__gte=middle[:19] + "Z")
    assert with_zone == [e for e in everything if e["timestamp"] >= middle[:19] + "+00:00"]


async def test_bad_timestamp_is_422(v1: httpx.AsyncClient) -> None:
    response = await search(v1, uuid.uuid4().hex, timestamp__gte="x")
    assert response.json()["detail"][0]["type"] == "datetime_from_date_parsing"


async def test_unknown_conversation_gives_an_empty_page_and_zero(v1: httpx.AsyncClient) -> None:
    unknown = uuid.uuid4().hex
    assert (await search(v1, unknown)).json() == {"items": [], "next_page_id": None}
    assert (await v1.get(f"/api/v1/conversation/{unknown}/events/count")).json() == 0


async def test_non_uuid_conversation_is_a_plain_500(v1: httpx.AsyncClient) -> None:
    for path in ("events/search", "events/count"):
        response = await v1.get(f"/api/v1/conversation/not-a-uuid/{path}")
        assert (response.status_code, response.text) == (500, "Internal Server Error")
        assert response.headers["content-type"].startswith("text/plain")


async def test_count_with_filters(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    url = f"/api/v1/conversation/{conversation_id}/events/count"
    assert (await v1.get(url)).json() == len(ONE_STEP_RUN)
    assert (await v1.get(url, params={"kind__eq": "MessageEvent"})).json() == 1


async def test_batch_get_by_dashed_or_hex_ids_with_null_for_unknown(
    v1: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(v1, clock)
    first = (await events(v1, conversation_id))[0]
    ids = [first["id"], str(uuid.uuid4()), first["id"].replace("-", "")]
    response = await v1.get(f"/api/v1/conversation/{conversation_id}/events", params={"id": ids})
    assert response.json() == [first, None, first]


async def test_batch_get_errors(v1: httpx.AsyncClient, clock: ManualClock) -> None:
    conversation_id = await run(v1, clock)
    url = f"/api/v1/conversation/{conversation_id}/events"
    assert (await v1.get(url)).json()["detail"][0]["loc"] == ["query", "id"]
    assert (await v1.get(url, params={"id": "bad"})).status_code == 500
    too_many = await v1.get(url, params={"id": [str(uuid.uuid4()) for _ in range(101)]})
    assert too_many.json() == {"detail": "Cannot request more than 100 events at once, got 101"}
    unknown = await v1.get(
        f"/api/v1/conversation/{uuid.uuid4().hex}/events", params={"id": str(uuid.uuid4())}
    )
    assert unknown.json() == [None]
