"""The library's raw request, paging and wait_many, async and sync, on both generations."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from openhands_api import AsyncOpenHandsAPI, InvalidInputError, NotFoundError, OpenHandsAPI, WaitTimeoutError
from openhands_api.models import ConversationResult
from openhands_api.testing import FakeOpenHandsServer
from tests.e2e.conftest import POLL

Factory = Callable[..., FakeOpenHandsServer]
LISTING = {"v0": "/api/conversations", "v1": "/api/v1/app-conversations/search"}


@pytest.fixture(params=["v0", "v1"])
def generation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fake(fake_openhands_factory: Factory, generation: str) -> FakeOpenHandsServer:
    return fake_openhands_factory(rate_limit=False, speed=20.0, generations=generation)


async def test_async_wait_many_gives_each_result_or_error_in_order(fake: FakeOpenHandsServer) -> None:
    async with AsyncOpenHandsAPI(base_url=fake.base_url, **POLL) as api:
        quick = (await api.create_conversation("Quick. [fake-llm steps=1]")).id
        asks = (await api.create_conversation("Ask. [fake-llm ask]")).id
        long = (await api.create_conversation("Long. [fake-llm steps=20000]")).id
        seen: list[str] = []
        answers = await api.wait_many(
            [quick, asks, long], timeout=2, on_progress=lambda r: seen.append(r.outcome.value)
        )
        with pytest.raises(InvalidInputError):
            await api.wait_many([])
    outcomes = [answer.outcome.value for answer in answers[:2] if isinstance(answer, ConversationResult)]
    assert outcomes == ["finished", "waiting_for_user"]
    assert isinstance(answers[2], WaitTimeoutError)
    assert {"finished", "waiting_for_user"} <= set(seen)  # each final result is reported too


def test_sync_request_and_pages(fake: FakeOpenHandsServer, generation: str) -> None:
    with OpenHandsAPI(base_url=fake.base_url, **POLL) as api:
        ids = {api.create_conversation(f"Task {n}.").id.replace("-", "") for n in range(5)}
        answer = api.request("GET", LISTING[generation], params={"limit": 2})
        assert answer.status_code == 200
        assert answer.is_json
        items = list(api.iter_pages(LISTING[generation], params={"limit": 2}))
        assert {(i.get("id") or i["conversation_id"]).replace("-", "") for i in items} == ids
        with pytest.raises(NotFoundError):
            api.request("GET", "/api/no-such-route")
        with pytest.raises(InvalidInputError):
            api.request("GET", "https://elsewhere.example/api/conversations")
