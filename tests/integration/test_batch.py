"""A batch of 3 tasks on the real servers: openhands-ai 1.6.0 (V0), whose limit of 3
running conversations per user (it closes the least recently updated to start a fourth)
makes it the interesting case, and 1.11.0 (V1).

On V0 one conversation of the user's own runs before the batch starts: the batch has two
of the server's three slots, waits for the third, and must not get the user's conversation
evicted. Every conversation made here is deleted at the end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from openhands_api import AsyncOpenHandsAPI
from openhands_api.batch import StateStore, Task, TaskResult, run_batch

from .realserver.harness import RealServer

WAIT = 240.0  # a cold runtime start takes ~15–40 s on a 2-core machine
pytestmark = pytest.mark.timeout(900)


def client(server: RealServer) -> AsyncOpenHandsAPI:
    # ≤ 4 requests/s in all (the harness's throttle): the real server limits to 10 a second.
    return AsyncOpenHandsAPI(
        base_url=server.base_url,
        session_api_key=server.session_api_key,
        poll_interval=1.0,
        max_poll_interval=3.0,
        start_timeout=150,
        http_client=server.async_client(),
    )


async def server_status(api: AsyncOpenHandsAPI, conversation_id: str) -> str | None:
    info = await api.v0.get_conversation(conversation_id)
    assert info is not None
    return info.status


def tasks(generation: str) -> list[Task]:
    return [
        Task(prompt=f"Batch task {i} on {generation}. [fake-llm steps=1]", id=f"{generation}-{i}")
        for i in range(3)
    ]


async def test_a_batch_of_3_on_v0_waits_for_the_servers_slots(real_v0: RealServer, tmp_path: Path) -> None:
    async with client(real_v0) as api:
        mine = await api.create_conversation("The user's own conversation. [fake-llm ask]")
        made: list[str] = [mine.id]
        try:
            await api.wait(mine.id, timeout=WAIT)  # its runtime is up: it holds a slot
            results: list[TaskResult] = [
                r
                async for r in run_batch(
                    api, tasks("v0"), concurrency=3, state=tmp_path / "state.db", wait_timeout=WAIT
                )
            ]
            made += [r.conversation_id for r in results if r.conversation_id]
            assert [r.status for r in results] == ["done"] * 3, [(r.status, r.error) for r in results]
            assert all(r.final_message for r in results)
            # The user's conversation was not evicted to make room; the batch's are stopped.
            assert await server_status(api, mine.id) == "RUNNING"
            for result in results:
                assert result.conversation_id is not None
                assert await server_status(api, result.conversation_id) == "STOPPED"
            with StateStore(tmp_path / "state.db") as store:
                assert store.counts().get("done") == 3
                assert all(record.attempts == 1 for record in store.records())
        finally:
            for conversation_id in made:
                await api.delete_conversation(conversation_id)


async def test_a_batch_of_3_on_v1(real_v1: RealServer, tmp_path: Path) -> None:
    async with client(real_v1) as api:
        results: list[TaskResult] = []
        try:
            async for result in run_batch(
                api, tasks("v1"), concurrency=3, state=tmp_path / "state.db", wait_timeout=WAIT
            ):
                results.append(result)
            assert [r.status for r in results] == ["done"] * 3, [(r.status, r.error) for r in results]
            assert all(r.final_message for r in results)
            with StateStore(tmp_path / "state.db") as store:
                # The batch chose each conversation's id: the one the server made.
                assert {record.conversation_id for record in store.records()} == {
                    r.conversation_id for r in results
                }
                assert all(record.attempts == 1 for record in store.records())
        finally:
            for result in results:
                if result.conversation_id:
                    await api.delete_conversation(result.conversation_id)
