"""The state file of a batch run: one SQLite database (the standard library's sqlite3).

One row per task (its key, see :attr:`~.tasks.Task.key`) with where it stands:

``pending``   never started: nothing was sent for it.
``creating``  its create is about to be sent, or was sent and its answer is not recorded: a
              conversation may exist. Written, and committed, *before* the create is sent,
              with the request and the time it was sent at; a resumed run looks the
              conversation up (``find_created_conversation``) before anything is sent again.
``running``   its conversation id is known; waiting for the outcome (a resumed run waits again).
``done``      the agent's turn ended well (finished, or answered and awaits input).
``failed``    it did not (an error, or an outcome such as failed/stopped); ``error`` says why.

The file is marked as ours (``PRAGMA application_id``, ``PRAGMA user_version`` and a
``batch_meta`` table): a file that is not SQLite, a SQLite database of something else, one
written by a newer schema, or a damaged one is refused with :class:`StateFileError` before
anything is written to it. WAL mode; ``synchronous=FULL``, so a commit survives a killed
process and a power cut.

Writes are batched: :class:`StateStore` collects changes in one open transaction and commits
every ``commit_every`` changes or ``commit_interval`` seconds (:meth:`StateStore.maybe_commit`),
on :meth:`StateStore.commit` (the runner's "creating" mark) and on close. What a kill loses is
at most the uncommitted tail, and nothing that the exactly-once rule rests on.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError

__all__ = ["STATUSES", "ResumePlan", "StateFileError", "StateStore", "TaskRecord"]

APPLICATION_ID = 0x4F484254  # "OHBT": openhands-api batch state
SCHEMA_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
STATUSES = ("pending", "creating", "running", "done", "failed")

_SCHEMA = f"""
CREATE TABLE batch_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tasks (
    key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({", ".join(repr(s) for s in STATUSES)})),
    source TEXT,
    request TEXT,
    conversation_id TEXT,
    start_task_id TEXT,
    create_sent_at REAL,
    phase TEXT,
    outcome TEXT,
    final_message TEXT,
    pr_numbers TEXT,
    cost REAL,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    conversation_at REAL,
    finished_at REAL,
    updated_at REAL NOT NULL
);
CREATE INDEX tasks_status ON tasks (status, seq);
CREATE INDEX tasks_conversation ON tasks (conversation_id);
"""

_COLUMNS = (
    "key",
    "seq",
    "status",
    "source",
    "request",
    "conversation_id",
    "start_task_id",
    "create_sent_at",
    "phase",
    "outcome",
    "final_message",
    "pr_numbers",
    "cost",
    "error",
    "attempts",
    "started_at",
    "conversation_at",
    "finished_at",
    "updated_at",
)
_WRITABLE = frozenset(_COLUMNS) - {"key", "seq", "updated_at"}


class StateFileError(InvalidInputError):
    """A state file that cannot be used: not SQLite, another program's database, a newer
    schema, damaged, or one of a batch on another server. It was not written to, and nothing
    was sent. ``path`` names it."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(f"State file {path}: {message}")
        self.path = path


@dataclass(frozen=True)
class TaskRecord:
    """A task's row in the state file."""

    key: str
    seq: int
    status: str
    source: str | None = None
    request: dict[str, Any] | None = None
    conversation_id: str | None = None
    start_task_id: str | None = None
    create_sent_at: float | None = None
    phase: str | None = None
    outcome: str | None = None
    final_message: str | None = None
    pr_numbers: tuple[int, ...] = ()
    cost: float | None = None
    error: str | None = None
    attempts: int = 0
    started_at: float | None = None
    conversation_at: float | None = None
    finished_at: float | None = None
    updated_at: float | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> TaskRecord:
        values = dict(zip(_COLUMNS, row, strict=True))
        values["request"] = json.loads(values["request"]) if values["request"] else None
        values["pr_numbers"] = tuple(json.loads(values["pr_numbers"])) if values["pr_numbers"] else ()
        return cls(**values)


@dataclass(frozen=True)
class ResumePlan:
    """What a run finds in the state file: how many tasks stand where (``counts``, by status)
    — ``pending`` never started, ``creating`` need a lookup first (a create may have been in
    flight), ``running`` are waited for again, ``done``/``failed`` are finished."""

    counts: dict[str, int]

    @property
    def needs_lookup(self) -> int:
        return self.counts.get("creating", 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _refuse_foreign(path: Path) -> None:
    """Raise StateFileError unless ``path`` is missing, empty, or a state file of ours. Reads
    with SQLite's ``immutable`` flag, so that not even a ``-wal`` or ``-shm`` side file is
    made for a file that is refused."""
    name = str(path)
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StateFileError(f"cannot be read ({exc.strerror})", path=name) from None
    if not head:
        return  # an empty file: sqlite3 makes a new database of it
    if head != SQLITE_MAGIC:
        raise StateFileError(
            "is not a batch state file (not an SQLite database); choose another path", path=name
        )
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise StateFileError(f"cannot be opened ({exc})", path=name) from None
    try:
        _check_marks(connection, name)
    finally:
        connection.close()


def _check_marks(connection: sqlite3.Connection, name: str) -> bool:
    """Whether the database is empty (to be made ours); StateFileError unless it is empty or
    ours. Only reads."""
    try:
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        user_version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise StateFileError(f"is damaged or not a batch state file ({exc})", path=name) from None
    if application_id == 0 and user_version == 0 and not tables:
        return True
    if application_id != APPLICATION_ID:
        raise StateFileError(
            "is an SQLite database of another program, not a batch state file; choose another path", path=name
        )
    if user_version > SCHEMA_VERSION:
        raise StateFileError(
            f"was written by a newer openhands-api (state schema {user_version}; this one reads "
            f"{SCHEMA_VERSION}): upgrade openhands-api",
            path=name,
        )
    if not {"batch_meta", "tasks"} <= tables:
        raise StateFileError("is marked as a batch state file but lacks its tables (damaged)", path=name)
    return False


class StateStore:
    """A batch state file, open. Changes are batched (see the module's docstring): call
    :meth:`maybe_commit` after changes, :meth:`commit` where a change must be durable before
    going on, and :meth:`close` at the end (or use ``with``). ``on_change`` is called with a
    task's record after each change to it (the CLI's live table)."""

    def __init__(
        self,
        path: str | Path,
        *,
        commit_every: int = 200,
        commit_interval: float = 1.0,
        on_change: Callable[[TaskRecord], None] | None = None,
    ) -> None:
        self.path = Path(path)
        # Told each task record as it is after a change (a live view of the batch); called
        # where the change is made, in the store's thread.
        self.on_change = on_change
        self.commit_every = commit_every
        self.commit_interval = commit_interval
        self._uncommitted = 0
        self._last_commit = time.monotonic()
        self.commits = 0  # how many commits wrote something (for tests and reports)
        _refuse_foreign(self.path)
        try:
            # isolation_level=None: transactions are begun and committed here, explicitly.
            self._db = sqlite3.connect(str(self.path), isolation_level=None)
        except sqlite3.Error as exc:
            raise StateFileError(f"cannot be opened ({exc})", path=str(self.path)) from None
        try:
            self._db.execute("PRAGMA busy_timeout=5000")
            # Checked again through this connection, before its first write: the file may
            # have changed since, and the immutable read above does not see a pending WAL.
            empty = _check_marks(self._db, str(self.path))
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            if empty:
                self._create_schema()
        except BaseException as exc:
            self._db.close()
            if isinstance(exc, sqlite3.Error):
                raise StateFileError(f"cannot be used ({exc})", path=str(self.path)) from None
            raise
        self._in_transaction = False

    def _create_schema(self) -> None:
        # One script, one transaction: the tables and the marks appear together or not at all.
        self._db.executescript(
            f"""
            BEGIN IMMEDIATE;
            {_SCHEMA}
            INSERT INTO batch_meta (name, value)
                VALUES ('schema_version', '{SCHEMA_VERSION}'), ('created_at', '{time.time():.6f}');
            PRAGMA application_id={APPLICATION_ID};
            PRAGMA user_version={SCHEMA_VERSION};
            COMMIT;
            """
        )

    # ------------------------------------------------------------------ transactions

    def _begin(self) -> None:
        if not self._in_transaction:
            self._db.execute("BEGIN")
            self._in_transaction = True

    def _changed(self, count: int = 1) -> None:
        self._uncommitted += count

    def commit(self) -> None:
        """Commit what was changed (durable on return)."""
        if self._in_transaction:
            self._db.execute("COMMIT")
            self._in_transaction = False
            if self._uncommitted:
                self.commits += 1
        self._uncommitted = 0
        self._last_commit = time.monotonic()

    def maybe_commit(self) -> None:
        """Commit when ``commit_every`` changes are waiting or ``commit_interval`` has passed."""
        if not self._uncommitted:
            return
        if (
            self._uncommitted >= self.commit_every
            or time.monotonic() - self._last_commit >= self.commit_interval
        ):
            self.commit()

    @property
    def uncommitted(self) -> int:
        return self._uncommitted

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ tasks

    def add_tasks(self, tasks: Iterable[tuple[str, str | None]]) -> int:
        """Register tasks (``(key, source)`` pairs, in input order) not yet in the file, as
        ``pending``; known keys keep their record. How many were new. Committed."""
        self._begin()
        next_seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM tasks").fetchone()[0] + 1
        added = 0
        now = time.time()
        for key, source in tasks:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO tasks (key, seq, status, source, updated_at) "
                "VALUES (?, ?, 'pending', ?, ?)",
                (key, next_seq, source, now),
            )
            if cursor.rowcount:
                added += 1
                next_seq += 1
        self._changed(added)
        self.commit()
        return added

    def get(self, key: str) -> TaskRecord | None:
        row = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM tasks WHERE key = ?", (key,)).fetchone()
        return TaskRecord.from_row(row) if row is not None else None

    def update(self, key: str, **fields: Any) -> None:
        """Change a task's record (batched: see :meth:`maybe_commit`). ``request`` and
        ``pr_numbers`` are stored as JSON."""
        unknown = set(fields) - _WRITABLE
        if unknown:
            raise ValueError(f"not a task record field: {', '.join(sorted(unknown))}")
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"not a task status: {fields['status']!r}")
        if "request" in fields and fields["request"] is not None:
            fields["request"] = json.dumps(fields["request"], sort_keys=True)
        if "pr_numbers" in fields and fields["pr_numbers"] is not None:
            fields["pr_numbers"] = json.dumps(list(fields["pr_numbers"]))
        fields["updated_at"] = time.time()
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self._begin()
        cursor = self._db.execute(f"UPDATE tasks SET {assignments} WHERE key = ?", (*fields.values(), key))
        if not cursor.rowcount:
            raise KeyError(key)
        self._changed()
        if self.on_change is not None:
            record = self.get(key)
            assert record is not None
            self.on_change(record)

    def records(self, status: str | None = None) -> Iterator[TaskRecord]:
        """The records (of one status), in input order, read a page at a time."""
        last = 0
        while True:
            where = "seq > ?" + (" AND status = ?" if status else "")
            params: tuple[Any, ...] = (last, status) if status else (last,)
            rows = self._db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM tasks WHERE {where} ORDER BY seq LIMIT 500", params
            ).fetchall()
            if not rows:
                return
            for row in rows:
                record = TaskRecord.from_row(row)
                last = record.seq
                yield record

    def counts(self) -> dict[str, int]:
        found = dict(self._db.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status").fetchall())
        return {status: int(found.get(status, 0)) for status in STATUSES}

    def plan(self) -> ResumePlan:
        """What a resumed run has to do (see :class:`ResumePlan`)."""
        return ResumePlan(self.counts())

    def meta(self, name: str) -> str | None:
        """A value of the file's ``batch_meta`` table (``schema_version``, ``created_at``,
        ``base_url`` …), None when unset."""
        row = self._db.execute("SELECT value FROM batch_meta WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row is not None else None

    def set_meta(self, name: str, value: str) -> None:
        """Set a ``batch_meta`` value (committed)."""
        self._begin()
        self._db.execute("INSERT OR REPLACE INTO batch_meta (name, value) VALUES (?, ?)", (name, value))
        self._changed()
        self.commit()

    def conversation_ids(self) -> frozenset[str]:
        """Every conversation id the file knows (of any task)."""
        rows = self._db.execute("SELECT conversation_id FROM tasks WHERE conversation_id IS NOT NULL")
        return frozenset(row[0] for row in rows)
