"""Listing through the public API on both generations: outcomes decided per row, the
filters, ``limit=None``, and paging that stops once the reader has enough."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from openhands_api import AsyncOpenHandsAPI, InvalidInputError, OpenHandsAPI, Outcome
from openhands_api.testing import FakeOpenHandsServer

POLL = {"poll_interval": 0.05, "max_poll_interval": 0.2}
LISTING_ROUTES = ("/api/conversations", "/api/v1/app-conversations/search")


# A V1 server's LLM title lands shortly after the first message and overwrites a title set
# before it (observed on 1.11.0; the fake does it too): titles to search are set after it.
TITLE_SETTLED = 0.5


def _retitle(api: OpenHandsAPI, titles: dict[str, str]) -> None:
    time.sleep(TITLE_SETTLED)
    for conversation_id, title in titles.items():
        api.set_title(conversation_id, title)


def _listing_requests(server: FakeOpenHandsServer) -> int:
    return sum(urlsplit(r.path).path in LISTING_ROUTES for r in server.state.requests)


@pytest.mark.parametrize("generation", ["v0", "v1"])
def test_list_decides_outcomes_and_filters(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], generation: str
) -> None:
    server = fake_openhands_factory(
        rate_limit=False, speed=5.0, generations=generation, max_concurrent_conversations=10
    )
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        done = api.create_conversation("Done. [fake-llm steps=1]", repository="acme/api", title="Alpha")
        asked = api.create_conversation("Ask. [fake-llm ask]", title="Beta alpha")
        for conversation in (done, asked):
            api.wait(conversation.id, timeout=60)
        _retitle(api, {done.id: "Alpha", asked.id: "Beta alpha"})
        decided = {c.id: c.outcome for c in api.list_conversations(with_outcome=True)}
        assert decided == {done.id: Outcome.FINISHED, asked.id: Outcome.WAITING_FOR_USER}
        plain = {c.id: c.outcome for c in api.list_conversations()}
        if generation == "v0":  # a V0 list item has no agent state
            assert set(plain.values()) == {None}
        else:  # a V1 one has its status, which cannot tell a question from a finished turn
            assert set(plain.values()) == {Outcome.FINISHED}
        assert [c.id for c in api.list_conversations(outcomes=["waiting_for_user"])] == [asked.id]
        assert [c.id for c in api.list_conversations(repository="acme/api")] == [done.id]
        assert {c.id for c in api.list_conversations(search="ALPHA")} == {done.id, asked.id}
        hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
        assert len(api.list_conversations(created_since=hour_ago, updated_since=hour_ago)) == 2
        assert api.list_conversations(created_since=datetime.now(timezone.utc) + timedelta(days=1)) == []
        assert len(api.list_conversations(limit=None)) == 2
        for bad in (0, -1, True):
            with pytest.raises(InvalidInputError, match="limit"):
                api.list_conversations(limit=bad)
        with pytest.raises(InvalidInputError, match="outcomes"):
            api.list_conversations(outcomes=["done"])


@pytest.mark.parametrize("generation", ["v0", "v1"])
def test_a_filtered_listing_stops_paging_once_it_has_enough(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], generation: str
) -> None:
    server = fake_openhands_factory(
        rate_limit=False, speed=5.0, generations=generation, max_concurrent_conversations=10
    )

    async def scenario() -> None:
        async with AsyncOpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
            created = [await api.create_conversation(f"Task {n}.") for n in range(5)]
            await asyncio.sleep(TITLE_SETTLED)
            for n, conversation in enumerate(created):
                await api.set_title(conversation.id, f"{'match' if n % 2 else 'other'} {n}")
            before = _listing_requests(server)  # the creates made the version detection
            async for conversation in api.iter_conversations(page_size=1, search="match"):
                assert conversation.title == "match 3"
                break
            # Newest first, one a page: "other 4", then "match 3", and no page after it.
            assert _listing_requests(server) - before == 2
            before = _listing_requests(server)
            found = await api.list_conversations(limit=2, search="match")
            assert [c.title for c in found] == ["match 3", "match 1"]
            assert _listing_requests(server) - before == 2  # pages of 2: the second has "match 1"

    asyncio.run(scenario())
