"""openhands_api.batch.report: pure functions of a state file's records (no server)."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from openhands_api.batch import TaskRecord
from openhands_api.batch.report import build_report, report_html, report_json, report_markdown


def _record(number: int, status: str, outcome: str | None, **more: object) -> TaskRecord:
    return TaskRecord(
        key=f"id:t{number}",
        seq=number,
        status=status,
        source=f"tasks.csv, line {number + 1}",
        request={"prompt": f"Do {number}", "title": f"Task {number}", "repository": "me/app"},
        conversation_id=f"c{number}" if status != "pending" else None,
        outcome=outcome,
        started_at=1000.0,
        finished_at=1000.0 + number if status in ("done", "failed") else None,
        **more,  # type: ignore[arg-type]
    )


def test_rows_worst_first_and_totals() -> None:
    records = [
        _record(1, "done", "finished", cost=0.5, pr_numbers=(7,)),
        _record(2, "failed", "stopped"),
        _record(3, "pending", None),
        _record(4, "failed", None, error="HTTP 500"),
        _record(5, "done", "waiting_for_user", cost=0.25),
    ]
    report = build_report(records, base_url="http://localhost:3000")
    assert [row.result for row in report.rows] == [
        "failed",
        "stopped",
        "pending",
        "waiting_for_user",
        "finished",
    ]
    assert report.counts == {"failed": 1, "stopped": 1, "pending": 1, "waiting_for_user": 1, "finished": 1}
    totals = report_json(report)["totals"]
    assert totals == {
        "tasks": 5,
        "ended_well": 2,
        "by_result": report.counts,
        "cost": 0.75,
        "pr_count": 1,
        "duration_s": 1 + 2 + 4 + 5,
    }
    assert report.rows[0].web_url == "http://localhost:3000/conversations/c4"
    assert report.rows[2].web_url is None  # pending: no conversation
    json.dumps(report_json(report))


def test_markdown_cells_cannot_break_the_table() -> None:
    record = _record(1, "done", "finished")
    hostile = TaskRecord(**{**record.__dict__, "request": {"prompt": "x", "title": "a | b\n# c <b>"}})
    text = report_markdown(build_report([hostile]))
    row = next(line for line in text.splitlines() if line.startswith("| finished | a"))
    assert row.count(" | ") == 6
    assert "a \\| b # c \\<b\\>" in row


def test_a_large_batch_gets_a_histogram_not_a_bar_per_task() -> None:
    records = [_record(n, "done", "finished") for n in range(500)]
    page = report_html(build_report(records))

    class Rects(HTMLParser):
        count = 0

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.count += tag == "rect"

    rects = Rects()
    rects.feed(page)
    assert rects.count == 1 + 10  # the results' bar and 10 buckets
