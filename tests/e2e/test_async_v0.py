"""The asynchronous client: the same operations, driven by the same protocol ops, over
httpx.AsyncClient — against the fake server over loopback and in-process (ASGI)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from openhands_api import AsyncOpenHandsAPI, NotFoundError, Outcome, WaitTimeoutError
from openhands_api.testing import FakeOpenHandsServer, create_app


async def test_create_wait_follow_up_and_delete(aapi: AsyncOpenHandsAPI) -> None:
    conversation = await aapi.create_conversation("Say hello. [fake-llm steps=2]")
    result = await aapi.wait(conversation.id, timeout=30)
    assert result.outcome is Outcome.FINISHED
    assert result.final_message
    again = await aapi.send_and_wait(conversation.id, "And bye. [fake-llm ask]", timeout=30)
    assert again.outcome is Outcome.WAITING_FOR_USER
    events = [event async for event in aapi.iter_events(conversation.id, page_size=7)]
    assert [e.seq for e in events] == list(range(len(events)))
    assert await aapi.delete_conversation(conversation.id) is True
    with pytest.raises(NotFoundError):
        await aapi.get_conversation(conversation.id)


async def test_many_conversations_waited_on_concurrently(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, max_concurrent_conversations=20)
    async with AsyncOpenHandsAPI(base_url=server.base_url, poll_interval=0.05, max_poll_interval=0.2) as api:
        conversations = await asyncio.gather(*(api.create_conversation(f"Task {i}") for i in range(8)))
        results = await asyncio.gather(*(api.wait(c.id, timeout=60) for c in conversations))
    assert [r.outcome for r in results] == [Outcome.FINISHED] * 8
    assert {r.conversation_id for r in results} == {c.id for c in conversations}


async def test_a_fourth_running_conversation_evicts_the_oldest_on_v0(aapi: AsyncOpenHandsAPI) -> None:
    conversations = [await aapi.create_conversation(f"Slow {i}. [fake-llm delay=5]") for i in range(4)]
    results = await asyncio.gather(*(aapi.wait(c.id, timeout=30) for c in conversations))
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes == ["finished", "finished", "finished", "stopped"]
    assert next(r for r in results if r.outcome is Outcome.STOPPED).conversation.runtime == "stopped"


async def test_async_iter_conversations(aapi: AsyncOpenHandsAPI) -> None:
    ids = {(await aapi.create_conversation(f"T{i}")).id for i in range(6)}
    listed = [c.id async for c in aapi.iter_conversations(page_size=4)]
    assert ids <= set(listed)


async def test_async_wait_timeout(aapi: AsyncOpenHandsAPI) -> None:
    conversation = await aapi.create_conversation("Slow. [fake-llm delay=30]")
    with pytest.raises(WaitTimeoutError):
        await aapi.wait(conversation.id, timeout=0.5)


async def test_async_raw_routes_and_download(
    aapi: AsyncOpenHandsAPI, server: FakeOpenHandsServer, tmp_path: Path
) -> None:
    conversation = await aapi.create_conversation("Hi.")
    await aapi.wait(conversation.id, timeout=30)
    server.state.seed_workspace({"a.txt": "A"})
    assert await aapi.v0.read_file(conversation.id, "a.txt") == "A"
    assert await aapi.v0.download_workspace(conversation.id, tmp_path / "w.zip") > 0
    path = await aapi.download_history(conversation.id, tmp_path / "h.json")
    assert path.stat().st_size > 0


async def test_in_process_through_the_asgi_transport() -> None:
    app = create_app(rate_limit=False, speed=5.0)
    transport = httpx.ASGITransport(app=app)
    async with AsyncOpenHandsAPI(
        base_url="http://fake.local", transport=transport, poll_interval=0.05, max_poll_interval=0.2
    ) as api:
        conversation = await api.create_conversation("In process.")
        result = await api.wait(conversation.id, timeout=30)
    assert result.outcome is Outcome.FINISHED
