"""Batch runs: many tasks, each a conversation, run with bounded concurrency and recorded in a
state file so that a run killed at any moment resumes without creating anything twice.

* :mod:`.tasks` — :class:`Task` and :func:`load_tasks` (JSON lines, JSON, CSV, YAML).
* :mod:`.state` — :class:`StateStore`, the SQLite state file.
* :mod:`.runner` — :func:`run_batch` (async client) and :func:`run_batch_sync`.
* :mod:`.report` — a state file's status and report (Markdown, JSON, one HTML page).
"""

from __future__ import annotations

from .runner import FollowUp, TaskResult, run_batch, run_batch_sync
from .state import STATUSES, ResumePlan, StateFileError, StateStore, TaskRecord
from .tasks import MissingDependencyError, Task, TaskFileError, load_tasks, tasks_from_rows

__all__ = [
    "STATUSES",
    "FollowUp",
    "MissingDependencyError",
    "ResumePlan",
    "StateFileError",
    "StateStore",
    "Task",
    "TaskFileError",
    "TaskRecord",
    "TaskResult",
    "load_tasks",
    "run_batch",
    "run_batch_sync",
    "tasks_from_rows",
]
