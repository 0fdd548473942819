"""The batch state file: refused when it is not ours (and then left untouched), resume
classification, and batched commits."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

import pytest

from openhands_api.batch import StateFileError, StateStore


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def untouched(path: Path) -> None:
    """Open the file as a state file: StateFileError, and not a byte (nor a side file) written."""
    before = digest(path)
    siblings = sorted(p.name for p in path.parent.iterdir())
    with pytest.raises(StateFileError) as caught:
        StateStore(path)
    assert str(path) in str(caught.value)
    assert digest(path) == before
    assert sorted(p.name for p in path.parent.iterdir()) == siblings


def test_a_text_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("my notes\n" * 100)
    untouched(path)


def test_another_programs_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE tasks (key TEXT, status TEXT)")
        db.execute("INSERT INTO tasks VALUES ('a', 'done')")
    db.close()
    untouched(path)


def test_a_damaged_state_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore(path).close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page's contents
    path.write_bytes(bytes(data))
    untouched(path)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(StateFileError, match="newer"):
        StateStore(path)


def test_a_new_file_is_marked_ours_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA application_id").fetchone()[0] == 0x4F484254
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    StateStore(path).close()  # and it opens again


def test_resume_classification(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore(path) as store:
        assert store.add_tasks((f"k{i}", f"row {i}") for i in range(6)) == 6
        store.update("k1", status="creating", request={"prompt": "p"}, create_sent_at=1.5)
        store.update("k2", status="running", conversation_id="c2")
        store.update("k3", status="done", conversation_id="c3", pr_numbers=[4, 5], cost=0.5)
        store.update("k4", status="failed", error="boom")
    with StateStore(path) as store:
        assert store.add_tasks([("k0", None), ("k6", None)]) == 1  # known keys keep their record
        plan = store.plan()
        assert plan.counts == {"pending": 3, "creating": 1, "running": 1, "done": 1, "failed": 1}
        assert plan.needs_lookup == 1
        assert plan.total == 7
        assert [r.key for r in store.records("pending")] == ["k0", "k5", "k6"]
        (creating,) = store.records("creating")
        assert creating.request == {"prompt": "p"}
        assert creating.create_sent_at == 1.5
        done = store.get("k3")
        assert done is not None
        assert done.pr_numbers == (4, 5)
        assert done.cost == 0.5
        assert store.conversation_ids() == {"c2", "c3"}
        assert [r.seq for r in store.records()] == sorted(r.seq for r in store.records())


def test_unknown_fields_and_statuses_are_refused(tmp_path: Path) -> None:
    with StateStore(tmp_path / "s.db") as store:
        store.add_tasks([("k", None)])
        with pytest.raises(ValueError, match="status"):
            store.update("k", status="lost")
        with pytest.raises(ValueError, match="field"):
            store.update("k", colour="red")
        with pytest.raises(KeyError):
            store.update("absent", status="done")


def test_changes_are_committed_in_batches(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = StateStore(path, commit_every=10, commit_interval=3600)
    store.add_tasks((f"k{i}", None) for i in range(25))
    commits = store.commits
    reader = sqlite3.connect(path)

    def done_on_disk() -> int:
        return int(reader.execute("SELECT COUNT(*) FROM tasks WHERE status = 'done'").fetchone()[0])

    for i in range(25):
        store.update(f"k{i}", status="done")
        store.maybe_commit()
    # 25 changes, a commit every 10: two commits, five changes still waiting.
    assert store.commits - commits == 2
    assert store.uncommitted == 5
    assert done_on_disk() == 20
    store.close()  # commits the rest
    assert done_on_disk() == 25
    reader.close()


def test_changes_are_committed_after_the_interval(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db", commit_every=1000, commit_interval=0.05)
    store.add_tasks([("k", None)])
    store.update("k", status="running")
    store.maybe_commit()
    assert store.uncommitted == 1
    time.sleep(0.06)
    store.maybe_commit()
    assert store.uncommitted == 0
    store.close()
