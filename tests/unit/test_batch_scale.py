"""run_batch at scale and within a V0 server's limit, against an in-memory stand-in of the
client: the server's running count never goes over its limit (other conversations of the
user's included), and the memory a batch holds grows by little per task."""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from openhands_api.batch import Task, run_batch
from openhands_api.errors import InvalidInputError
from openhands_api.models import Conversation, ConversationResult, Outcome


class V0Server:
    """What the runner asks of a V0 client, over a server that runs ``limit`` agent loops and
    evicts the least recent beyond (as 1.6.0 does), counting the evictions."""

    base_url = "http://fake.invalid"

    def __init__(self, *, limit: int = 3, version: str = "v0", others: int = 0) -> None:
        self.version = version
        self.limit = limit
        self.running: list[str] = [f"other-{i}" for i in range(others)]  # oldest first
        self.created = 0
        self.evicted: list[str] = []
        self.most_running = 0
        self.counts = 0

    async def detect_api_version(self) -> str:
        return self.version

    async def create_conversation(self, **arguments: Any) -> Conversation:
        await asyncio.sleep(0)
        while len(self.running) >= self.limit:
            self.evicted.append(self.running.pop(0))
        self.created += 1
        conversation_id = f"c{self.created}"
        self.running.append(conversation_id)
        self.most_running = max(self.most_running, len(self.running))
        return Conversation(id=conversation_id, api_version=self.version, web_url="http://x/")

    async def wait(self, conversation_id: str, **_: Any) -> ConversationResult:
        await asyncio.sleep(0.001)
        outcome = Outcome.FINISHED if conversation_id in self.running else Outcome.STOPPED
        return ConversationResult(
            conversation_id=conversation_id,
            outcome=outcome,
            final_message="ok",
            web_url="http://x/",
            conversation=Conversation(id=conversation_id, api_version=self.version, web_url="http://x/"),
        )

    async def stop(self, conversation_id: str) -> None:
        if conversation_id in self.running:
            self.running.remove(conversation_id)

    async def _count_running(self) -> int:
        # What each generation counts is its own rule (count_running, tests/unit/test_ops_v*.py).
        await asyncio.sleep(0)
        self.counts += 1
        return len(self.running)

    async def find_created_conversation(self, prompt: str, **_: Any) -> Conversation | None:
        return None


def tasks(count: int) -> list[Task]:
    return [Task(prompt=f"task {i}", id=f"t{i}") for i in range(count)]


async def run(api: V0Server, work: list[Task], state: Path, **kwargs: Any) -> list[str]:
    return [r.status async for r in run_batch(api, work, state=state, **kwargs)]  # type: ignore[arg-type]


async def test_a_v0_batch_stays_below_the_servers_limit(tmp_path: Path) -> None:
    api = V0Server(limit=3)
    statuses = await run(api, tasks(30), tmp_path / "s.db", concurrency=10)
    assert statuses == ["done"] * 30
    assert api.evicted == []
    assert api.most_running <= 3
    assert api.running == []  # every conversation stopped once recorded


async def test_the_users_other_running_conversations_count(tmp_path: Path) -> None:
    api = V0Server(limit=3, others=2)
    statuses = await run(api, tasks(8), tmp_path / "s.db", concurrency=8)
    assert statuses == ["done"] * 8
    assert api.evicted == []
    assert api.running == ["other-0", "other-1"]


async def test_a_given_server_limit_is_used_and_none_counts_nothing(tmp_path: Path) -> None:
    api = V0Server(limit=5)
    assert await run(api, tasks(20), tmp_path / "a.db", concurrency=10, server_limit=5) == ["done"] * 20
    assert api.evicted == []
    assert api.most_running <= 5
    # No counting: the stand-in evicts (as 1.6.0 would), and the evicted ones end stopped.
    careless = V0Server(limit=3)
    statuses = await run(careless, tasks(20), tmp_path / "b.db", concurrency=10, server_limit=None)
    assert careless.evicted
    assert "failed" in statuses


async def test_v1_counts_running_sandboxes_only_when_given_a_limit(tmp_path: Path) -> None:
    api = V0Server(limit=2, version="v1")
    assert await run(api, tasks(10), tmp_path / "s.db", concurrency=5, server_limit=2) == ["done"] * 10
    assert api.evicted == []
    assert api.counts
    unlimited = V0Server(limit=10, version="v1")
    assert await run(unlimited, tasks(5), tmp_path / "auto.db", concurrency=5) == ["done"] * 5
    assert unlimited.counts == 0  # "auto": a self-hosted V1 server has no limit to count against


async def test_a_server_limit_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="server_limit"):
        await run(V0Server(), tasks(1), tmp_path / "s.db", concurrency=1, server_limit=0)


def test_memory_grows_little_per_task(tmp_path: Path) -> None:
    """The peak a batch allocates, at 200 and at 1,000 tasks: the growth per task (the task,
    its key and its result in flight; state rows are on disk) stays small."""

    def peak(count: int) -> int:
        work = [Task(prompt=f"task number {i}", id=f"t{i}") for i in range(count)]
        api = V0Server(limit=10**6, version="v1")
        state = tmp_path / f"s{count}.db"
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            asyncio.run(run(api, work, state, concurrency=50))
            return tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()

    small, large = peak(200), peak(1000)
    per_task = (large - small) / 800
    assert per_task < 16 * 1024, f"{per_task:.0f} bytes per task ({small} → {large})"
