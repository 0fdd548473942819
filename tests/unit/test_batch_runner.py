"""run_batch against a scripted client: what is on disk when each request goes out (the
'creating' mark and the follow-up phase are committed first), the concurrency bound, 429s as
waits, an undecided lookup left for the next run, and retry_failed."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from openhands_api.batch import StateStore, Task, TaskResult, run_batch
from openhands_api.batch import runner as batch_runner
from openhands_api.errors import ConcurrencyLimitError, CreationUndecidedError
from openhands_api.models import Conversation, ConversationResult, Outcome


def on_disk(state: Path, key: str) -> tuple[str, str | None]:
    """The task's committed status and phase, read by another connection."""
    db = sqlite3.connect(state)
    try:
        row = db.execute("SELECT status, phase FROM tasks WHERE key = ?", (key,)).fetchone()
        return str(row[0]), row[1]
    finally:
        db.close()


def conversation(conversation_id: str) -> Conversation:
    return Conversation(id=conversation_id, api_version="v1", web_url=f"http://x/{conversation_id}")


def finished(conversation_id: str, outcome: Outcome = Outcome.FINISHED) -> ConversationResult:
    return ConversationResult(
        conversation_id=conversation_id,
        outcome=outcome,
        final_message="ok",
        web_url=f"http://x/{conversation_id}",
        conversation=conversation(conversation_id),
    )


class Scripted:
    """Enough of AsyncOpenHandsAPI for the runner, recording what it was asked."""

    base_url = "http://fake.invalid"

    def __init__(self, state: Path, version: str = "v1") -> None:
        self.state = state
        self.version = version
        self.created: list[dict[str, Any]] = []
        self.sent: list[str] = []
        self.stopped: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.refuse_creates = 0
        self.lookup: Any = None
        self.outcome = Outcome.FINISHED
        self.phases_at_send: list[str | None] = []

    def phase_on_disk(self, conversation_id: str) -> str | None:
        db = sqlite3.connect(self.state)
        try:
            row = db.execute(
                "SELECT phase FROM tasks WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
            return row[0] if row else None
        finally:
            db.close()

    async def detect_api_version(self) -> str:
        return self.version

    async def create_conversation(self, **arguments: Any) -> Conversation:
        key = Task(prompt=arguments["prompt"]).key
        # The mark is on disk before the create goes out.
        assert on_disk(self.state, key)[0] == "creating"
        if self.refuse_creates:
            self.refuse_creates -= 1
            raise ConcurrencyLimitError(
                "too many", limit=1, current=1, status_code=429, method="POST", path="/x", retry_after=0.01
            )
        self.created.append(arguments)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        return conversation(arguments.get("conversation_id") or f"c{len(self.created)}")

    async def wait(self, conversation_id: str, **_: Any) -> ConversationResult:
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return finished(conversation_id, self.outcome)

    async def send_and_wait(self, conversation_id: str, message: str, **_: Any) -> ConversationResult:
        self.phases_at_send.append(self.phase_on_disk(conversation_id))
        self.sent.append(conversation_id)
        return finished(conversation_id)

    async def stop(self, conversation_id: str) -> None:
        self.stopped.append(conversation_id)

    async def find_created_conversation(self, prompt: str, **kwargs: Any) -> Conversation | None:
        if isinstance(self.lookup, Exception):
            raise self.lookup
        return self.lookup


async def run(api: Scripted, work: list[Task], **kwargs: Any) -> list[TaskResult]:
    kwargs.setdefault("concurrency", 3)
    return [r async for r in run_batch(api, work, state=api.state, **kwargs)]  # type: ignore[arg-type]


def tasks(count: int) -> list[Task]:
    return [Task(prompt=f"p{i}") for i in range(count)]


async def test_the_mark_is_committed_before_each_create_and_concurrency_is_bounded(tmp_path: Path) -> None:
    api = Scripted(tmp_path / "s.db")
    results = await run(api, tasks(10), concurrency=3)
    assert [r.status for r in results] == ["done"] * 10
    assert len(api.created) == 10
    assert api.most_in_flight <= 3
    # V1: the batch chose each id, and it is the conversation's.
    assert {r.conversation_id for r in results} == {a["conversation_id"] for a in api.created}
    assert sorted(api.stopped) == sorted(r.conversation_id for r in results)


async def test_the_follow_up_phase_is_committed_before_it_is_sent(tmp_path: Path) -> None:
    api = Scripted(tmp_path / "s.db")
    results = await run(api, tasks(2), follow_up=lambda task, result: None if task.text == "p1" else "more")
    assert [r.status for r in results] == ["done", "done"]
    assert api.sent == [next(r.conversation_id for r in results if r.task.text == "p0")]
    assert api.phases_at_send == ["follow_up"]


async def test_a_concurrency_refusal_is_a_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_runner, "LIMIT_DELAY", 0.01)
    api = Scripted(tmp_path / "s.db")
    api.refuse_creates = 3
    results = await run(api, tasks(2), concurrency=2)
    assert [r.status for r in results] == ["done", "done"]
    with StateStore(api.state) as store:
        assert sum(r.attempts for r in store.records()) == 2 + 3  # every refused create counted


async def test_an_undecided_lookup_leaves_the_task_creating_and_sends_nothing(tmp_path: Path) -> None:
    api = Scripted(tmp_path / "s.db")
    (task,) = tasks(1)
    with StateStore(api.state) as store:
        store.add_tasks([(task.key, None)])
        store.update(task.key, status="creating", request=task.create_arguments(), create_sent_at=1.0)
    api.lookup = CreationUndecidedError("cannot tell")
    (result,) = await run(api, [task])
    assert result.status == "creating"
    assert "cannot tell" in (result.error or "")
    assert api.created == []
    # Found on the next run: waited for, not created.
    api.lookup = conversation("found")
    api.in_flight = 1
    (result,) = await run(api, [task])
    assert (result.status, result.conversation_id) == ("done", "found")
    assert api.created == []


async def test_failed_tasks_are_replayed_unless_retried(tmp_path: Path) -> None:
    api = Scripted(tmp_path / "s.db")
    api.outcome = Outcome.FAILED
    (first,) = await run(api, tasks(1))
    assert first.status == "failed"
    api.outcome = Outcome.FINISHED
    (again,) = await run(api, tasks(1))
    assert again.replayed
    assert again.status == "failed"
    assert len(api.created) == 1
    (retried,) = await run(api, tasks(1), retry_failed=True)
    assert retried.status == "done"
    assert not retried.replayed
    assert len(api.created) == 2
