"""What a batch's state file says, for people and for CI: :func:`batch_status` (counts and
what is in flight) and :func:`build_report` (one row per task, totals, failures first),
rendered by :func:`report_markdown`, :func:`report_json` and :func:`report_html`.

Pure functions of the records (:class:`~.state.TaskRecord`) and the server's URL: nothing
here sends a request or writes the state file. The HTML page is self-contained (inline CSS,
an inline SVG chart, no script and nothing fetched from the network), so that a CI job can
publish it as an artifact; every value in it is escaped (task titles and prompts are the
batch author's or the agent's text, not ours).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..protocol.http import web_url
from .state import STATUSES, StateFileError, StateStore, TaskRecord

__all__ = [
    "BatchReport",
    "BatchStatus",
    "ReportRow",
    "batch_status",
    "build_report",
    "open_state",
    "report_html",
    "report_json",
    "report_markdown",
    "report_of",
    "result_of",
    "status_json",
]

IN_FLIGHT = ("creating", "running")
# The order of a report's rows: what needs a look first. A task's "result" is its outcome when
# its conversation had one, else its status (a task that failed before it had an outcome, or
# one not finished).
RESULT_ORDER = (
    "failed",
    "blocked",
    "stopped",
    "gone",
    "in_progress",
    "creating",
    "running",
    "pending",
    "waiting_for_user",
    "finished",
)
RESULT_COLORS = {
    "failed": "#d73a49",
    "blocked": "#e3a008",
    "stopped": "#b08800",
    "gone": "#b08800",
    "in_progress": "#0366d6",
    "creating": "#6f42c1",
    "running": "#0366d6",
    "pending": "#959da5",
    "waiting_for_user": "#28a745",
    "finished": "#22863a",
}


def open_state(path: str | Path) -> StateStore:
    """An existing state file, opened to be read (status, reports): a missing one is a
    StateFileError, not a new empty batch."""
    if not Path(path).is_file():
        raise StateFileError(
            "no such file (run 'openhands-api batch run' first, or give --state)", path=str(path)
        )
    return StateStore(path)


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")


def result_of(record: TaskRecord) -> str:
    """What a task came to: its conversation's outcome, else its status."""
    return record.outcome or record.status


# ---------------------------------------------------------------------------------- status


@dataclass(frozen=True)
class BatchStatus:
    """Where a batch stands: ``counts`` by status (every status, 0 included), ``outcomes``
    (how many tasks ended with each outcome), and the tasks ``in_flight`` (creating, running)."""

    counts: dict[str, int]
    outcomes: dict[str, int]
    in_flight: tuple[TaskRecord, ...]
    base_url: str | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def batch_status(store: StateStore) -> BatchStatus:
    outcomes: dict[str, int] = {}
    for status in ("done", "failed"):
        for record in store.records(status):
            outcomes[result_of(record)] = outcomes.get(result_of(record), 0) + 1
    in_flight = tuple(record for status in IN_FLIGHT for record in store.records(status))
    return BatchStatus(
        counts=store.counts(),
        outcomes=dict(sorted(outcomes.items(), key=lambda item: _rank(item[0]))),
        in_flight=tuple(sorted(in_flight, key=lambda record: record.seq)),
        base_url=store.meta("base_url"),
    )


def _rank(result: str) -> int:
    return RESULT_ORDER.index(result) if result in RESULT_ORDER else len(RESULT_ORDER)


# ---------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class ReportRow:
    """One task in a report."""

    key: str
    source: str | None
    title: str | None
    repository: str | None
    status: str
    outcome: str | None
    result: str
    pr_numbers: tuple[int, ...]
    cost: float | None
    duration_s: float | None
    conversation_id: str | None
    web_url: str | None
    error: str | None
    started_at: str | None
    finished_at: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "source": self.source,
            "title": self.title,
            "repository": self.repository,
            "status": self.status,
            "outcome": self.outcome,
            "result": self.result,
            "pr_numbers": list(self.pr_numbers),
            "cost": self.cost,
            "duration_s": self.duration_s,
            "conversation_id": self.conversation_id,
            "web_url": self.web_url,
            "error": self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


REPORT_ROW_FIELDS = tuple(ReportRow.__dataclass_fields__)


@dataclass(frozen=True)
class BatchReport:
    """Every task of a batch (``rows``, failures first), with totals."""

    rows: tuple[ReportRow, ...]
    counts: dict[str, int] = field(default_factory=dict)  # by result, worst first
    base_url: str | None = None

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def ended_well(self) -> int:
        return sum(row.status == "done" for row in self.rows)

    @property
    def cost(self) -> float:
        return sum(row.cost or 0.0 for row in self.rows)

    @property
    def pr_count(self) -> int:
        return sum(len(row.pr_numbers) for row in self.rows)

    @property
    def duration_s(self) -> float:
        """The sum of the tasks' durations (each from its start to its result)."""
        return sum(row.duration_s or 0.0 for row in self.rows)

    def totals(self) -> dict[str, Any]:
        return {
            "tasks": self.total,
            "ended_well": self.ended_well,
            "by_result": dict(self.counts),
            "cost": round(self.cost, 6),
            "pr_count": self.pr_count,
            "duration_s": round(self.duration_s, 3),
        }


def _row(record: TaskRecord, base_url: str | None) -> ReportRow:
    request: Mapping[str, Any] = record.request or {}
    prompt = request.get("prompt")
    title = request.get("title") or (str(prompt).strip().splitlines()[0][:80] if prompt else None)
    duration = (
        record.finished_at - record.started_at
        if record.finished_at is not None and record.started_at is not None
        else None
    )
    link = (
        web_url(base_url, record.conversation_id)
        if base_url and record.conversation_id and record.status not in ("pending", "creating")
        else None
    )
    return ReportRow(
        key=record.key,
        source=record.source,
        title=title,
        repository=request.get("repository"),
        status=record.status,
        outcome=record.outcome,
        result=result_of(record),
        pr_numbers=record.pr_numbers,
        cost=record.cost,
        duration_s=round(duration, 3) if duration is not None else None,
        conversation_id=record.conversation_id,
        web_url=link,
        error=record.error,
        started_at=_iso(record.started_at),
        finished_at=_iso(record.finished_at),
    )


def build_report(records: Iterable[TaskRecord], *, base_url: str | None = None) -> BatchReport:
    """The report of ``records`` (a state file's, in input order): rows sorted worst result
    first (failed, blocked, stopped …, then not finished, then the ones that ended well),
    input order within each."""
    rows = [_row(record, base_url) for record in records]
    rows.sort(key=lambda row: _rank(row.result))  # stable: input order within a result
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.result] = counts.get(row.result, 0) + 1
    return BatchReport(rows=tuple(rows), counts=counts, base_url=base_url)


def report_of(store: StateStore) -> BatchReport:
    return build_report(store.records(), base_url=store.meta("base_url"))


# ---------------------------------------------------------------------------------- renderings


def _money(cost: float | None) -> str:
    return f"${cost:.2f}" if cost is not None else "-"


def _seconds(duration: float | None) -> str:
    if duration is None:
        return "-"
    if duration < 60:
        return f"{duration:.1f}s"
    minutes, seconds = divmod(int(duration), 60)
    return f"{minutes}m{seconds:02d}s"


def _prs(numbers: tuple[int, ...]) -> str:
    return " ".join(f"#{n}" for n in numbers) or "-"


def _md_cell(text: str | None) -> str:
    """A value in one Markdown table cell: one line, pipes and markup characters escaped."""
    if not text:
        return "-"
    flat = " ".join(str(text).split())
    for char in ("\\", "|", "`", "*", "_", "[", "]", "<", ">"):
        flat = flat.replace(char, "\\" + char)
    return flat


MARKDOWN_HEADER = ("result", "task", "repository", "PRs", "cost", "duration", "link")


def report_markdown(report: BatchReport) -> str:
    """The report as Markdown: a summary line, the totals by result, one table row a task."""
    lines = [
        "# Batch report",
        "",
        f"{report.ended_well} of {report.total} tasks ended well · {report.pr_count} PRs · "
        f"cost {_money(report.cost)} · total duration {_seconds(report.duration_s)}",
        "",
        "| result | tasks |",
        "|---|---|",
        *(f"| {_md_cell(result)} | {count} |" for result, count in report.counts.items()),
        "",
        "| " + " | ".join(MARKDOWN_HEADER) + " |",
        "|" + "---|" * len(MARKDOWN_HEADER),
    ]
    for row in report.rows:
        link = f"[{_md_cell(row.conversation_id)}]({row.web_url})" if row.web_url else "-"
        cells = (
            _md_cell(row.result),
            _md_cell(row.title or row.key),
            _md_cell(row.repository),
            _md_cell(_prs(row.pr_numbers)),
            _md_cell(_money(row.cost)),
            _md_cell(_seconds(row.duration_s)),
            link,
        )
        lines.append("| " + " | ".join(cells) + " |")
    failures = [row for row in report.rows if row.status == "failed" and row.error]
    if failures:
        lines += ["", "## Failures", ""]
        lines += [f"- {_md_cell(row.title or row.key)}: {_md_cell(row.error)}" for row in failures]
    return "\n".join(lines) + "\n"


def report_json(report: BatchReport) -> dict[str, Any]:
    """The report as one JSON object: ``totals`` and ``tasks`` (failures first)."""
    return {
        "base_url": report.base_url,
        "totals": report.totals(),
        "tasks": [row.as_json() for row in report.rows],
    }


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#24292e}
h1{font-size:1.5rem}table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{border:1px solid #e1e4e8;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;white-space:nowrap}
.result{font-weight:600;white-space:nowrap}.error{color:#86181d;font-size:.9em}
.summary{font-size:1.1rem}svg{display:block;margin:1rem 0}
"""


CHART_TASKS = 40  # up to this many tasks, one duration bar each; more: a histogram


def _duration_bars(timed: list[ReportRow], parts: list[str], y: int, width: int) -> int:
    longest = max((row.duration_s or 0.0 for row in timed), default=0.0) or 1.0
    for row in timed:
        span = max(1.0, (width - 160) * (row.duration_s or 0.0) / longest)
        color = RESULT_COLORS.get(row.result, "#959da5")
        name = html.escape((row.title or row.key)[:24])
        tip = html.escape(f"{row.title or row.key}: {_seconds(row.duration_s)} ({row.result})")
        parts.append(f'<text x="0" y="{y + 10}" font-size="11">{name}</text>')
        parts.append(
            f'<rect x="160" y="{y}" width="{span:.1f}" height="12" fill="{color}"><title>{tip}</title></rect>'
        )
        y += 16
    return y


def _duration_histogram(timed: list[ReportRow], parts: list[str], y: int, width: int) -> int:
    """How many tasks took how long: 10 equal spans from 0 to the longest."""
    buckets = 10
    longest = max(row.duration_s or 0.0 for row in timed) or 1.0
    counts = [0] * buckets
    for row in timed:
        counts[min(buckets - 1, int((row.duration_s or 0.0) / longest * buckets))] += 1
    most = max(counts) or 1
    for index, count in enumerate(counts):
        low, high = longest * index / buckets, longest * (index + 1) / buckets
        label = html.escape(f"{_seconds(low)}–{_seconds(high)}")
        span = max(1.0, (width - 160) * count / most) if count else 0.0
        parts.append(f'<text x="0" y="{y + 10}" font-size="11">{label}</text>')
        parts.append(
            f'<rect x="160" y="{y}" width="{span:.1f}" height="12" fill="#0366d6">'
            f"<title>{label}: {count} tasks</title></rect>"
        )
        y += 16
    return y


def _chart(report: BatchReport) -> str:
    """An inline SVG: one bar of the tasks by result, then the durations (one bar a task, or
    a histogram for a large batch)."""
    width, bar = 640, 24
    parts: list[str] = []
    x = 0.0
    total = max(report.total, 1)
    for result, count in report.counts.items():
        span = width * count / total
        color = RESULT_COLORS.get(result, "#959da5")
        label = html.escape(f"{result}: {count}")
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{span:.1f}" height="{bar}" fill="{color}">'
            f"<title>{label}</title></rect>"
        )
        if span > 60:
            parts.append(f'<text x="{x + 4:.1f}" y="16" fill="#fff" font-size="12">{label}</text>')
        x += span
    timed = [row for row in report.rows if row.duration_s is not None]
    y = bar + 16
    if len(timed) <= CHART_TASKS:
        y = _duration_bars(timed, parts, y, width)
    else:
        y = _duration_histogram(timed, parts, y, width)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y + 4}" '
        f'viewBox="0 0 {width} {y + 4}" role="img" aria-label="tasks by result and duration">'
        + "".join(parts)
        + "</svg>"
    )


def report_html(report: BatchReport) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG; no script, nothing
    loaded from the network); every value escaped."""
    esc = html.escape
    counts = ", ".join(f"{esc(result)} {count}" for result, count in report.counts.items())
    rows = []
    for row in report.rows:
        color = RESULT_COLORS.get(row.result, "#959da5")
        link = f'<a href="{esc(row.web_url)}">{esc(row.conversation_id or "")}</a>' if row.web_url else "-"
        error = f'<div class="error">{esc(row.error)}</div>' if row.error and row.status == "failed" else ""
        rows.append(
            "<tr>"
            f'<td class="result" style="color:{color}">{esc(row.result)}</td>'
            f"<td>{esc(row.title or row.key)}{error}</td>"
            f"<td>{esc(row.repository or '-')}</td>"
            f"<td>{esc(_prs(row.pr_numbers))}</td>"
            f'<td class="num">{esc(_money(row.cost))}</td>'
            f'<td class="num">{esc(_seconds(row.duration_s))}</td>'
            f"<td>{link}</td>"
            "</tr>"
        )
    header = "".join(f"<th>{esc(name)}</th>" for name in MARKDOWN_HEADER)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No script may run, and nothing may be fetched: the page is an artifact.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>Batch report: {report.ended_well} of {report.total} ended well</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>Batch report</h1>"
        f'<p class="summary">{report.ended_well} of {report.total} tasks ended well · '
        f"{report.pr_count} PRs · cost {esc(_money(report.cost))} · "
        f"total duration {esc(_seconds(report.duration_s))}</p>"
        f"<p>{counts}</p>"
        + (f"<p>Server: {esc(report.base_url)}</p>" if report.base_url else "")
        + _chart(report)
        + f'<table id="tasks"><thead><tr>{header}</tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></body></html>\n"
    )


def status_json(status: BatchStatus) -> dict[str, Any]:
    """``batch status --json``'s object (docs/cli-json.md)."""
    return {
        "total": status.total,
        "counts": {name: status.counts.get(name, 0) for name in STATUSES},
        "outcomes": dict(status.outcomes),
        "running": [
            {
                "key": record.key,
                "status": record.status,
                "conversation_id": record.conversation_id,
                "source": record.source,
                "started_at": _iso(record.started_at),
            }
            for record in status.in_flight
        ],
        "base_url": status.base_url,
    }
