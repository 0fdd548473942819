"""``openhands-api batch run|status|report``: many tasks, one conversation each, recorded in a
state file (the library's :mod:`openhands_api.batch`; this module only parses and renders).

- ``batch run TASKS``: on a terminal a live table (with ``rich``; plain lines without it);
  piped, one tab-separated line per change (task key, status, outcome, conversation id);
  ``--json``, one JSON object per change. Exits 0 when every task ended well, else with the
  code of the worst result (as ``wait --exit-status``: failed 1 > blocked 3 > stopped 4 >
  not finished 8). Ctrl-C leaves the state file consistent, prints the command that resumes
  the batch, and exits 130.
- ``batch status``: counts by status and outcome, and the tasks in flight.
- ``batch report``: one row per task, failures first, as Markdown, JSON or one HTML page.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import exit_codes
from .app import (
    again_command,
    cli,
    connection_options,
    handle_errors,
    make_async_client,
    output,
    terminal,
)
from .jq import Filter
from .output import Column, Printer, fit_table, json_output
from .prompt import InputProblem, read_text_file
from .waiting import worst_code

if TYPE_CHECKING:
    from ..batch import StateStore, Task, TaskRecord, TaskResult
    from ..batch.report import BatchStatus

CHANGE_FIELDS = ("key", "status", "outcome", "conversation_id", "source", "error")
"""batch run --json: one object per change of a task."""

STATUS_FIELDS = ("total", "counts", "outcomes", "running", "base_url")
"""batch status --json."""

REPORT_FIELDS = ("base_url", "totals", "tasks")
"""batch report --json (the same as --format json)."""

STATE_SUFFIX = ".state.sqlite"
_ORDER = ("pending", "creating", "running", "done", "failed")  # the state file's statuses
RECENT_ROWS = 8  # finished tasks the live table keeps showing under the running ones


@cli.group("batch", epilog=exit_codes.SEE_EXIT_CODES)
def batch_group() -> None:
    """Run many tasks, resumable, and report on them.

    \b
    Examples:
      openhands-api batch run tasks.csv --concurrency 5
      openhands-api batch status --state tasks.csv.state.sqlite
      openhands-api batch report --format html -o report.html
    """


# ---------------------------------------------------------------------------------- helpers


def default_state(tasks: str) -> Path:
    """TASKS' state file: beside it, its name + ``.state.sqlite``."""
    path = Path(tasks)
    return path.with_name(path.name + STATE_SUFFIX)


def _found_state(state: str | None) -> Path:
    """``--state``, else the one state file in the current directory."""
    if state is not None:
        return Path(state)
    found = sorted(Path.cwd().glob("*" + STATE_SUFFIX))
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputProblem(f"No state file here (*{STATE_SUFFIX}): give --state FILE")
    raise InputProblem(f"Several state files here ({', '.join(p.name for p in found)}): give --state FILE")


def _variables(pairs: tuple[str, ...]) -> dict[str, str]:
    variables: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise InputProblem(f"--var {pair}: give KEY=VALUE")
        variables[name] = value
    return variables


def _shown_key(key: str, source: str | None) -> str:
    """A task as a person knows it: its id, else where it comes from in the task file."""
    if key.startswith("id:"):
        return key[3:]
    return source.rsplit(", ", 1)[-1] if source else key[:19]


def _title(record: TaskRecord) -> str:
    """The task's title, else its prompt's first line (what the create sent)."""
    request = record.request or {}
    text = str(request.get("title") or request.get("prompt") or "").strip()
    return " ".join(text.splitlines()[0].split()) if text else "-"


def _result_code(status: str, outcome: str | None) -> int:
    """A task's exit code: its outcome's; an error without an outcome is a failure; a task
    the run could not finish (left creating or running) has no outcome yet."""
    if status == "done":
        return exit_codes.OK
    if status == "failed":
        return exit_codes.BY_OUTCOME.get(outcome or "failed", exit_codes.FAILED)
    return exit_codes.IN_PROGRESS


# ---------------------------------------------------------------------------------- the views


class _Changes:
    """What a run shows of each change of a task: a line per change (piped, --json), or the
    live table's rows and counts."""

    def __init__(self, printer: Printer) -> None:
        self.printer = printer
        self.counts: dict[str, int] = {}  # by status, from known() on
        self.last: dict[str, tuple[str, str | None, str | None]] = {}
        self.statuses: dict[str, str] = {}
        self.active: dict[str, TaskRecord] = {}  # creating / running, in the order they started
        self.recent: list[TaskRecord] = []
        self.lock = threading.Lock()  # the live table renders from rich's refresh thread
        self.started = time.monotonic()

    def known(self, records: Iterator[TaskRecord], tasks: list[Task]) -> None:
        """What the state file holds before the run, and the tasks it has yet to add (pending)."""
        self.counts = {}
        for record in records:
            self.statuses[record.key] = record.status
            self.last[record.key] = (record.status, record.outcome, record.conversation_id)
        for task in tasks:
            if task.key not in self.statuses:
                self.statuses[task.key] = "pending"
                self.last[task.key] = ("pending", None, None)
        for status in self.statuses.values():
            self.counts[status] = self.counts.get(status, 0) + 1

    def change(self, record: TaskRecord) -> None:
        shown = (record.status, record.outcome, record.conversation_id)
        if self.last.get(record.key) == shown:
            return
        self.last[record.key] = shown
        with self.lock:
            before = self.statuses.get(record.key)
            if before is not None:
                self.counts[before] -= 1
            self.counts[record.status] = self.counts.get(record.status, 0) + 1
            self.statuses[record.key] = record.status
            if record.status in ("creating", "running"):
                self.active[record.key] = record
            else:
                self.active.pop(record.key, None)
                if record.status in ("done", "failed"):
                    self.recent = [r for r in self.recent if r.key != record.key][-(RECENT_ROWS - 1) :]
                    self.recent.append(record)
        self.emit(record)

    def emit(self, record: TaskRecord) -> None:
        """A line for this change (not for the live table, which redraws instead)."""
        data = {
            "key": record.key,
            "status": record.status,
            "outcome": record.outcome,
            "conversation_id": record.conversation_id,
            "source": record.source,
            "error": record.error,
        }
        cells = (record.key, record.status, record.outcome or "-", record.conversation_id or "-")
        self.printer.line(data, "\t".join(cells))

    def summary(self) -> str:
        with self.lock:
            parts = [f"{self.counts[s]} {s}" for s in _ORDER if self.counts.get(s)]
        return f"{sum(self.counts.values())} tasks: " + ", ".join(parts)


class _HumanLines(_Changes):
    """A terminal without rich: one readable line per change."""

    def emit(self, record: TaskRecord) -> None:
        parts = [_shown_key(record.key, record.source), record.status]
        if record.outcome:
            parts.append(self.printer.paint(record.outcome, record.outcome))
        if record.conversation_id:
            parts.append(record.conversation_id)
        self.printer.line({}, "  ".join(parts))


class _LiveTable(_Changes):
    """The rich live table: the running tasks and the last finished, and counts by status."""

    def emit(self, record: TaskRecord) -> None:
        pass

    def render(self) -> Any:
        from rich.console import Group as RichGroup
        from rich.table import Table
        from rich.text import Text

        table = Table(expand=False, box=None, header_style="bold")
        table.add_column("TASK", no_wrap=True, overflow="ellipsis", max_width=24)
        table.add_column("TITLE", no_wrap=True, overflow="ellipsis", max_width=36)
        for header in ("STATUS", "OUTCOME", "CONVERSATION", "TIME"):
            table.add_column(header, no_wrap=True, overflow="ellipsis")
        now = time.time()
        with self.lock:
            rows = [*self.active.values(), *reversed(self.recent)]
            counts = dict(self.counts)
        for record in rows:
            began = record.started_at or now
            ended = record.finished_at or now
            outcome = record.outcome or "-"
            table.add_row(
                _shown_key(record.key, record.source),
                _title(record),
                record.status,
                Text(outcome, style=_RICH_STYLES.get(outcome, "")),
                record.conversation_id or "-",
                f"{max(0.0, ended - began):.0f}s",
            )
        line = "  ".join(f"{status} {counts.get(status, 0)}" for status in _ORDER)
        elapsed = time.monotonic() - self.started
        return RichGroup(table, Text(f"{sum(counts.values())} tasks · {line} · {elapsed:.0f}s"))


_RICH_STYLES = {
    "finished": "green",
    "waiting_for_user": "green",
    "failed": "red",
    "blocked": "yellow",
    "stopped": "yellow",
    "gone": "yellow",
}


def _rich_available() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def _live(view: _Changes) -> Iterator[None]:
    """The live table on stdout while the batch runs (nothing for the other views)."""
    if not isinstance(view, _LiveTable):
        yield
        return
    from rich.console import Console
    from rich.live import Live

    screen = terminal()
    console = Console(
        file=sys.stdout,
        force_terminal=True,
        width=screen.columns,
        color_system="standard" if screen.color else None,
        highlight=False,
    )
    with Live(get_renderable=view.render, console=console, refresh_per_second=4, transient=False):
        yield


def _view(printer: Printer) -> _Changes:
    if printer.as_json or not printer.terminal.stdout_tty:
        return _Changes(printer)
    if printer.quiet or not _rich_available():
        return _HumanLines(printer)
    return _LiveTable(printer)


# ---------------------------------------------------------------------------------- batch run


async def _run(
    tasks: list[Task],
    store: StateStore,
    on_result: Callable[[TaskResult], None],
    connection: dict[str, Any],
    **batch_options: Any,
) -> None:
    from ..batch import run_batch

    async with make_async_client(**connection) as api:
        async for result in run_batch(api, tasks, state=store, **batch_options):
            on_result(result)


def _resume_command(
    tasks: str, state: Path, concurrency: int, given: list[str], connection: dict[str, Any]
) -> str:
    parts = [tasks, "--concurrency", str(concurrency), "--state", str(state), *given]
    return again_command("batch run", *(shlex.quote(part) for part in parts), **connection)


@batch_group.command("run", epilog=exit_codes.SEE_EXIT_CODES)
@click.argument("tasks_file", metavar="TASKS", type=click.Path(dir_okay=False))
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="At most this many tasks at once (V0 servers run 3 conversations).",
)
@click.option(
    "--state",
    metavar="FILE",
    help=f"The state file (default: TASKS{STATE_SUFFIX} beside TASKS). The same file resumes the batch.",
)
@click.option(
    "--timeout-s",
    type=click.FloatRange(min=0, min_open=True),
    help="Give up waiting for a task after this many seconds (it stays running; a re-run waits again).",
)
@click.option("--follow-up", metavar="TEXT", help="Send TEXT after each first turn that ended well.")
@click.option("--retry-failed", is_flag=True, help="Run the tasks that failed in an earlier run again.")
@click.option(
    "--template",
    "template_file",
    metavar="FILE",
    help="A prompt template ({{KEY}} placeholders) for the rows without prompt or template.",
)
@click.option(
    "--var", "variables", metavar="KEY=VALUE", multiple=True, help="A template variable for every row."
)
@json_output(CHANGE_FIELDS)
@connection_options
@handle_errors
def run_command(
    tasks_file: str,
    concurrency: int,
    state: str | None,
    timeout_s: float | None,
    follow_up: str | None,
    retry_failed: bool,
    template_file: str | None,
    variables: tuple[str, ...],
    json_fields: str | None,
    jq: Filter | None,
    **connection: Any,
) -> None:
    """Run every task of TASKS (.csv, .jsonl, .json, .yaml), each a conversation.

    Each task is created, its outcome waited for (then --follow-up sent and its answer waited
    for), and everything recorded in the state file. Run again with the same state file, the
    batch resumes: finished tasks are not run again and no conversation is created twice.
    Exits 0 when every task ended well (finished, or waiting for the user), else with the
    worst result's code: failed 1 > blocked 3 > stopped 4 > not finished 8.

    \b
    Examples:
      openhands-api batch run tasks.csv --concurrency 5
      openhands-api batch run issues.jsonl --template fix.md --var TEAM=pay
      openhands-api batch run tasks.csv --json --jq 'select(.status == "failed")'
    """
    from ..batch import StateStore, load_tasks

    printer = output(json_fields, jq)
    template = read_text_file(template_file, "template file") if template_file is not None else None
    tasks = load_tasks(tasks_file, template=template, variables=_variables(variables))
    state_path = Path(state) if state is not None else default_state(tasks_file)
    given: list[str] = []
    if timeout_s is not None:
        given += ["--timeout-s", f"{timeout_s:g}"]
    if follow_up is not None:
        given += ["--follow-up", follow_up]
    if template_file is not None:
        given += ["--template", template_file]
    for pair in variables:
        given += ["--var", pair]

    view = _view(printer)
    codes: dict[str, int] = {}

    def on_result(result: TaskResult) -> None:
        codes[result.key] = _result_code(result.status, result.outcome)

    # The state file first: one that is not a batch's is refused before anything is shown or
    # sent. The store is used in this thread only (the event loop runs here too).
    try:
        with StateStore(state_path, on_change=view.change) as store, _live(view):
            view.known(store.records(), tasks)
            asyncio.run(
                _run(
                    tasks,
                    store,
                    on_result,
                    connection,
                    concurrency=concurrency,
                    follow_up=follow_up,
                    retry_failed=retry_failed,
                    wait_timeout=timeout_s,
                )
            )
    except KeyboardInterrupt:
        again = _resume_command(tasks_file, state_path, concurrency, given, connection)
        click.echo(
            f"interrupted: the state file {state_path} is saved; the tasks' conversations go on "
            f"running on the server. Resume the batch with the same command: {again}",
            err=True,
        )
        sys.exit(exit_codes.INTERRUPTED)
    printer.note(
        f"{view.summary()} (state: {state_path}; report: openhands-api batch report --state {state_path})"
    )
    sys.exit(worst_code(list(codes.values())))


# ---------------------------------------------------------------------------------- batch status

IN_FLIGHT_COLUMNS = (
    Column("task", "task"),
    Column("status", "status"),
    Column("conversation", "conversation_id", lambda value: value or "-"),
    Column("started", "started_at", lambda value: value or "-"),
    Column("source", "source", lambda value: value or "-", flexible=True),
)


def _status_lines(status: BatchStatus, printer: Printer, rows: list[dict[str, Any]]) -> list[str]:
    if not printer.terminal.stdout_tty:
        lines = [f"count\t{name}\t{count}" for name, count in status.counts.items()]
        lines += [f"outcome\t{name}\t{count}" for name, count in status.outcomes.items()]
        lines += [f"task\t{row['key']}\t{row['status']}\t{row['conversation_id'] or '-'}" for row in rows]
        return lines
    counts = ", ".join(f"{count} {name}" for name, count in status.counts.items() if count)
    lines = [f"{status.total} tasks: {counts or 'none'}"]
    if status.outcomes:
        lines.append(
            "outcomes: "
            + ", ".join(f"{printer.paint(name, name)} {count}" for name, count in status.outcomes.items())
        )
    if rows:
        lines.append("")
        lines += fit_table(rows, IN_FLIGHT_COLUMNS, printer.terminal.columns)
    return lines


@batch_group.command("status", epilog=exit_codes.SEE_EXIT_CODES)
@click.option("--state", metavar="FILE", help=f"The state file (default: the one *{STATE_SUFFIX} here).")
@json_output(STATUS_FIELDS)
@handle_errors
def status_command(state: str | None, json_fields: str | None, jq: Filter | None) -> None:
    """Where a batch stands: counts by status and outcome, and the tasks in flight.

    Reads the state file only (no request is sent); it may be read while the batch runs.

    \b
    Example:
      openhands-api batch status --state tasks.csv.state.sqlite
    """
    from ..batch.report import batch_status, open_state, status_json

    printer = output(json_fields, jq)
    with open_state(_found_state(state)) as store:
        status = batch_status(store)
    data = status_json(status)
    rows = [{**row, "task": _shown_key(row["key"], row["source"])} for row in data["running"]]
    printer.record(data, _status_lines(status, printer, rows))


# ---------------------------------------------------------------------------------- batch report


@batch_group.command("report", epilog=exit_codes.SEE_EXIT_CODES)
@click.option("--state", metavar="FILE", help=f"The state file (default: the one *{STATE_SUFFIX} here).")
@click.option(
    "--format",
    "report_format",
    type=click.Choice(["md", "json", "html"]),
    default="md",
    show_default=True,
    help="Markdown, JSON, or one self-contained HTML page (for a CI artifact).",
)
@click.option(
    "-o", "--output", "output_file", metavar="FILE", help="Write the report to FILE (default: stdout)."
)
@json_output(REPORT_FIELDS)
@handle_errors
def report_command(
    state: str | None,
    report_format: str,
    output_file: str | None,
    json_fields: str | None,
    jq: Filter | None,
) -> None:
    """One row per task (result, task, repository, PRs, cost, duration, link), failures
    first, with totals. --json is --format json.

    \b
    Examples:
      openhands-api batch report --state tasks.csv.state.sqlite > report.md
      openhands-api batch report --format html -o report.html
    """
    from ..batch.report import open_state, report_html, report_json, report_markdown, report_of

    with open_state(_found_state(state)) as store:
        report = report_of(store)
    if json_fields is not None or jq is not None:
        report_format = "json"
    printer = output(json_fields or ("*" if report_format == "json" else None), jq)
    if output_file is None:
        if report_format == "json":
            printer.document(printer.pick(report_json(report)))
        else:
            printer.text(report_markdown(report) if report_format == "md" else report_html(report))
        return
    if report_format == "json":
        import json

        text = json.dumps(printer.pick(report_json(report)), indent=2, default=str) + "\n"
    else:
        text = report_markdown(report) if report_format == "md" else report_html(report)
    try:
        Path(output_file).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputProblem(f"Cannot write {output_file}: {exc.strerror}") from None
    printer = output(None, None)
    printer.note(f"wrote the report ({report.total} tasks) to {output_file}")
