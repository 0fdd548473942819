"""``GET /api/conversations``: sorting, filters and 1.6.0's combined base64 page ids."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from openhands_api.testing import ManualClock

from .conftest import MakeClient
from .helpers import create


def decode(page_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(base64.b64decode(page_id))
    return data


async def listing(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/conversations", params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def make_conversations(
    client: httpx.AsyncClient, clock: ManualClock, count: int, **body: Any
) -> list[str]:
    """``count`` conversations, one simulated second apart; returned newest first."""
    created = []
    for _ in range(count):
        created.append(await create(client, **body))
        clock.advance(1.0)
    return created[::-1]


async def test_empty_server_lists_nothing(client: httpx.AsyncClient) -> None:
    assert await listing(client) == {"results": [], "next_page_id": None}


async def test_list_is_sorted_by_creation_newest_first(client: httpx.AsyncClient, clock: ManualClock) -> None:
    newest_first = await make_conversations(client, clock, 3)
    data = await listing(client)
    assert [c["conversation_id"] for c in data["results"]] == newest_first
    assert data["next_page_id"] is None


async def test_page_id_is_base64_of_v0_and_v1_page_ids(client: httpx.AsyncClient, clock: ManualClock) -> None:
    await make_conversations(client, clock, 2)
    data = await listing(client, limit=1)
    assert data["next_page_id"] == "eyJ2MCI6ICJNUT09IiwgInYxIjogbnVsbH0="  # as captured from 1.6.0
    assert decode(data["next_page_id"]) == {"v0": "MQ==", "v1": None}


async def test_paging_with_limit_1_walks_every_conversation(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    newest_first = await make_conversations(client, clock, 4)
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        data = await listing(client, **params)
        seen += [c["conversation_id"] for c in data["results"]]
        if data["next_page_id"] is None:
            break
        params["page_id"] = data["next_page_id"]
    assert seen == newest_first


async def test_an_exactly_full_last_page_ends_the_listing(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    await make_conversations(client, clock, 4)
    first = await listing(client, limit=2)
    second = await listing(client, limit=2, page_id=first["next_page_id"])
    assert len(second["results"]) == 2
    assert second["next_page_id"] is None
    assert (await listing(client, limit=4))["next_page_id"] is None


async def test_filters_apply_after_paging_so_pages_can_be_empty_with_a_next_id(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    wanted = await create(client, repository="o/wanted")
    clock.advance(1)
    await make_conversations(client, clock, 2)
    first = await listing(client, limit=2, selected_repository="o/wanted")
    assert first["results"] == []
    assert first["next_page_id"] is not None
    second = await listing(client, limit=2, selected_repository="o/wanted", page_id=first["next_page_id"])
    assert [c["conversation_id"] for c in second["results"]] == [wanted]


async def test_filter_by_trigger(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client()
    gui = await create(client)
    await create(client, create_microagent={"repo": "o/r"})
    data = await listing(client, conversation_trigger="gui")
    assert [c["conversation_id"] for c in data["results"]] == [gui]


async def test_invalid_trigger_is_422_listing_the_values(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/conversations", params={"conversation_trigger": "bogus"})
    assert response.status_code == 422
    values = (
        "'resolver', 'gui', 'suggested_task', 'openhands_api', 'slack', 'microagent_management', "
        "'jira', 'jira_dc', 'linear' or 'bitbucket'"
    )
    assert response.json() == {
        "detail": [
            {
                "type": "enum",
                "loc": ["query", "conversation_trigger"],
                "msg": f"Input should be {values}",
                "input": "bogus",
                "ctx": {"expected": values},
            }
        ]
    }


async def test_non_integer_limit_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/conversations", params={"limit": "abc"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "int_parsing"


async def test_non_boolean_include_sub_conversations_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/conversations", params={"include_sub_conversations": "maybe"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "bool_parsing"


@pytest.mark.parametrize("page_id", ["notbase64!!", "MQ==", "aGVsbG8=", "WzFd"])
async def test_unusable_page_id_is_plain_500(client: httpx.AsyncClient, page_id: str) -> None:
    await create(client)
    response = await client.get("/api/conversations", params={"page_id": page_id})
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "Internal Server Error"


async def test_unusable_page_id_on_a_never_used_server_lists_nothing(client: httpx.AsyncClient) -> None:
    # The real file store returns before reading page_id while it has no conversations dir.
    assert await listing(client, page_id="aGVsbG8=") == {"results": [], "next_page_id": None}


async def test_limit_zero_gives_an_empty_page_with_a_next_id(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    await make_conversations(client, clock, 2)
    data = await listing(client, limit=0)
    assert data["results"] == []
    assert decode(data["next_page_id"]) == {"v0": "MA==", "v1": None}


async def test_negative_limit_reproduces_the_real_slicing(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    newest_first = await make_conversations(client, clock, 4)
    data = await listing(client, limit=-1)
    # the store slices [0:-1], the merge cuts [:-1] again; V1 reports a next page "-1"
    assert [c["conversation_id"] for c in data["results"]] == newest_first[:2]
    assert decode(data["next_page_id"]) == {"v0": "LTE=", "v1": "-1"}


async def test_conversations_older_than_max_age_are_not_listed(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, _ = make_client(conversation_max_age_seconds=100)
    old = await create(client)
    clock.advance(150)
    new = await create(client)
    data = await listing(client)
    assert [c["conversation_id"] for c in data["results"]] == [new]
    assert old in (await client.get(f"/api/conversations/{old}")).text
