"""``openhands-api batch run|status|report`` on the fake server, both API generations: a batch
completes from CSV and JSON lines and is recorded; a failing task sets the exit code and
heads the report; the three report formats (the HTML page escaped, with its SVG chart, also
rendered in headless Chromium); the live table on a pty; a state file that is not a batch's
is refused untouched; Ctrl-C tells how to resume."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

from openhands_api import OpenHandsAPI
from openhands_api.batch import StateStore
from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import TERMINAL, finish, invoke
from tests.cli.test_terminal import _on_a_terminal

SCRIPT_TITLE = "<script>alert('x')</script> & co"
ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "typescript" / "browser-test"


@pytest.fixture(params=["v0", "v1"])
def server(
    request: pytest.FixtureRequest, fake_openhands_factory: Callable[..., FakeOpenHandsServer]
) -> FakeOpenHandsServer:
    return fake_openhands_factory(rate_limit=False, speed=50.0, generations=request.param)


def _rows(count: int, *, failing: int | None = None, script_title: int | None = None) -> list[dict[str, str]]:
    rows = []
    for number in range(count):
        prompt = f"Task {number}. [fake-llm steps=1]"
        if number == failing:
            prompt += " [fake-llm error]"
        title = SCRIPT_TITLE if number == script_title else f"Task {number}"
        rows.append({"id": f"t{number}", "prompt": prompt, "title": title, "repository": "me/app"})
    return rows


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    if path.suffix == ".csv":
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _run(server: FakeOpenHandsServer, tasks: Path, *more: str, terminal=None):  # type: ignore[no-untyped-def]
    args = ("batch", "run", str(tasks), "--concurrency", "3", "--base-url", server.base_url, *more)
    return invoke(*args, terminal=terminal) if terminal is not None else invoke(*args)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_batch_of_20_completes_and_is_recorded(
    server: FakeOpenHandsServer, tmp_path: Path, suffix: str
) -> None:
    tasks = _write(tmp_path / f"tasks{suffix}", _rows(20))
    ran = _run(server, tasks)
    assert ran.code == 0, ran.stderr
    state = tmp_path / f"tasks{suffix}.state.sqlite"
    with StateStore(state) as store:
        assert store.counts()["done"] == 20
        records = list(store.records())
    assert all(record.outcome == "finished" and record.conversation_id for record in records)
    # Piped: one tab-separated line per change, the last of each task its result.
    last = {}
    for line in ran.stdout.splitlines():
        key, status, outcome, conversation_id = line.split("\t")
        last[key] = (status, outcome, conversation_id)
    assert len(last) == 20
    assert {value[:2] for value in last.values()} == {("done", "finished")}
    assert "20 tasks: 20 done" in ran.stderr
    # Run again with the same state file: nothing to do, nothing created again.
    conversations = len(server.state.requests)
    again = _run(server, tasks)
    assert again.code == 0, again.stderr
    assert again.stdout == ""
    creates = [r for r in list(server.state.requests)[conversations:] if r.method == "POST"]
    assert creates == []


def test_json_lines_per_change(server: FakeOpenHandsServer, tmp_path: Path) -> None:
    tasks = _write(tmp_path / "tasks.jsonl", _rows(3))
    ran = _run(server, tasks, "--json")
    assert ran.code == 0, ran.stderr
    changes = [json.loads(line) for line in ran.stdout.splitlines()]
    assert all(
        list(change) == ["key", "status", "outcome", "conversation_id", "source", "error"]
        for change in changes
    )
    assert {change["key"] for change in changes if change["status"] == "done"} == {"id:t0", "id:t1", "id:t2"}


@pytest.fixture
def recorded(server: FakeOpenHandsServer, tmp_path: Path) -> Path:
    """A state file of a batch of 6: task 3 fails, task 2's title is a script."""
    tasks = _write(tmp_path / "tasks.csv", _rows(6, failing=3, script_title=2))
    ran = _run(server, tasks)
    assert ran.code == 1, ran.stderr  # the failed task's code
    return tmp_path / "tasks.csv.state.sqlite"


def test_a_failing_task_exits_1_and_heads_the_report(recorded: Path) -> None:
    ran = invoke("batch", "report", "--state", str(recorded))
    assert ran.code == 0, ran.stderr
    table = [line for line in ran.stdout.splitlines() if line.startswith("| ") and "|---" not in line]
    header_at = next(i for i, line in enumerate(table) if line.startswith("| result | task | repository"))
    rows = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in table[header_at + 1 :]]
    assert len(rows) == 6
    assert rows[0][:3] == ["failed", "Task 3", "me/app"]
    assert {row[0] for row in rows[1:]} == {"finished"}
    assert "\\<script\\>" in ran.stdout
    assert "<script>" not in ran.stdout


def test_status_counts(recorded: Path) -> None:
    ran = invoke("batch", "status", "--state", str(recorded), "--json")
    assert ran.code == 0, ran.stderr
    status = json.loads(ran.stdout)
    assert list(status) == ["total", "counts", "outcomes", "running", "base_url"]
    assert status["total"] == 6
    assert status["counts"] == {"pending": 0, "creating": 0, "running": 0, "done": 5, "failed": 1}
    assert status["outcomes"] == {"failed": 1, "finished": 5}
    assert status["running"] == []
    piped = invoke("batch", "status", "--state", str(recorded))
    assert "count\tdone\t5" in piped.stdout.splitlines()
    human = invoke("batch", "status", "--state", str(recorded), terminal=TERMINAL)
    assert human.stdout.splitlines()[0] == "6 tasks: 5 done, 1 failed"


def test_report_json(recorded: Path) -> None:
    ran = invoke("batch", "report", "--state", str(recorded), "--format", "json")
    assert ran.code == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert list(report) == ["base_url", "totals", "tasks"]
    assert report["totals"]["tasks"] == 6
    assert report["totals"]["ended_well"] == 5
    assert report["totals"]["by_result"] == {"failed": 1, "finished": 5}
    first = report["tasks"][0]
    assert first["result"] == "failed"
    assert first["title"] == "Task 3"
    assert first["error"]
    assert all(task["web_url"].startswith(report["base_url"]) for task in report["tasks"])
    assert all(task["duration_s"] >= 0 for task in report["tasks"])
    assert any(task["title"] == SCRIPT_TITLE for task in report["tasks"])
    assert json.loads(invoke("batch", "report", "--state", str(recorded), "--json", "totals").stdout) == {
        "totals": report["totals"]
    }


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.addresses: list[tuple[str, str, str | None]] = []  # (tag, attribute, value)
        self.rows: list[list[str]] = []
        self.in_body_table = False
        self.cell: list[str] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        links = ("src", "href", "xlink:href")
        self.addresses += [(tag, name, value) for name, value in attrs if name in links]
        if tag == "tbody":
            self.in_body_table = True
        elif tag == "tr" and self.in_body_table:
            self.rows.append([])
        elif tag == "td" and self.in_body_table:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self.in_body_table = False
        elif tag == "td" and self.cell is not None:
            self.rows[-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.cell is not None:
            self.cell.append(data)


def _html_report(recorded: Path, tmp_path: Path) -> Path:
    page = tmp_path / "report.html"
    ran = invoke("batch", "report", "--state", str(recorded), "--format", "html", "-o", str(page))
    assert ran.code == 0, ran.stderr
    assert "wrote the report (6 tasks)" in ran.stderr
    return page


def test_report_html_is_one_escaped_page_with_a_chart(recorded: Path, tmp_path: Path) -> None:
    text = _html_report(recorded, tmp_path).read_text()
    page = _Page()
    page.feed(text)
    assert "script" not in page.tags  # the title's <script> is text, not a tag
    assert "link" not in page.tags
    assert "img" not in page.tags
    assert "svg" in page.tags
    assert "rect" in page.tags
    assert len(page.rows) == 6
    assert page.rows[0][0] == "failed"
    assert page.rows[0][1].startswith("Task 3")
    assert any(row[1] == SCRIPT_TITLE for row in page.rows)
    assert "&lt;script&gt;" in text
    # Nothing is loaded from elsewhere: the only addresses are the links to the conversations.
    assert page.addresses
    assert all(tag == "a" and name == "href" for tag, name, _ in page.addresses)
    assert "@import" not in text
    assert "url(" not in text


def _browser_missing() -> str | None:
    if not (os.access("/usr/bin/chromium", os.X_OK) or shutil.which("chromium")):
        return "no Chromium"
    if shutil.which("node") is None:
        return "no Node.js"
    if not (HARNESS / "node_modules" / "playwright-core").is_dir():
        return "the browser harness is not installed (npm ci in typescript/browser-test)"
    return None


RENDER = """
import { chromium } from "playwright-core";
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium" });
const page = await browser.newPage();
const requests = [];
page.on("request", (request) => requests.push(request.url()));
let dialogs = 0;
page.on("dialog", async (dialog) => { dialogs += 1; await dialog.dismiss(); });
await page.goto(process.argv[1]);
const found = await page.evaluate(() => ({
  rows: document.querySelectorAll("#tasks tbody tr").length,
  svg: document.querySelectorAll("svg rect").length,
  scripts: document.querySelectorAll("script").length,
  text: document.body.innerText,
  width: document.querySelector("svg").getBoundingClientRect().width,
}));
console.log(JSON.stringify({ ...found, dialogs, requests }));
await browser.close();
"""


def test_report_html_renders_in_headless_chromium(recorded: Path, tmp_path: Path) -> None:
    missing = _browser_missing()
    if missing is not None and os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        pytest.skip(missing)
    page = _html_report(recorded, tmp_path)
    done = subprocess.run(
        ["node", "--input-type=module", "-e", RENDER, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=HARNESS,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["rows"] == 6
    assert found["svg"] >= 7  # the outcomes' bar and one bar per task
    assert found["scripts"] == 0
    assert found["dialogs"] == 0
    assert SCRIPT_TITLE in found["text"]
    assert found["width"] > 0
    assert found["requests"] == [page.as_uri()]  # nothing fetched but the page itself


def test_the_live_table_on_a_terminal(server: FakeOpenHandsServer, tmp_path: Path) -> None:
    tasks = _write(tmp_path / "tasks.csv", _rows(4, failing=1))
    code, screen = _on_a_terminal(
        "batch", "run", str(tasks), "--concurrency", "2", "--base-url", server.base_url, columns=100
    )
    assert code == 1, screen
    assert "TASK" in screen
    assert "STATUS" in screen
    assert "CONVERSATION" in screen
    assert "running" in screen or "creating" in screen
    assert "4 tasks" in screen
    final = screen.rstrip().splitlines()
    assert any("done 3" in line and "failed 1" in line for line in final[-6:]), screen[-2000:]


@pytest.mark.parametrize("content", [b"not a database at all\n", None])
def test_a_foreign_or_corrupt_state_file_is_refused_unchanged(
    server: FakeOpenHandsServer, tmp_path: Path, content: bytes | None
) -> None:
    tasks = _write(tmp_path / "tasks.csv", _rows(2))
    state = tmp_path / "other.db"
    if content is None:  # another program's SQLite database
        import sqlite3

        with sqlite3.connect(state) as db:
            db.execute("CREATE TABLE notes (text TEXT)")
        db.close()
    else:
        state.write_bytes(content)
    before = hashlib.sha256(state.read_bytes()).hexdigest()
    requests = len(server.state.requests)
    for args in (
        ("batch", "run", str(tasks), "--state", str(state), "--base-url", server.base_url),
        ("batch", "status", "--state", str(state)),
        ("batch", "report", "--state", str(state)),
    ):
        ran = invoke(*args)
        assert ran.code == 2, (args, ran.stdout, ran.stderr)
        assert ran.stderr.startswith(f"error: State file {state}:"), ran.stderr
        assert "Traceback" not in ran.stderr
    assert hashlib.sha256(state.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db", "tasks.csv"]
    assert len(server.state.requests) == requests  # nothing was sent


def test_a_missing_state_file_for_status_is_an_error(tmp_path: Path) -> None:
    ran = invoke("batch", "status", "--state", str(tmp_path / "none.sqlite"))
    assert ran.code == 2
    assert "no such file" in ran.stderr
    assert not (tmp_path / "none.sqlite").exists()


@pytest.mark.parametrize("generation", ["v0", "v1"])
def test_ctrl_c_says_how_to_resume_and_the_resumed_batch_completes(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], tmp_path: Path, generation: str
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations=generation)
    rows = [{"id": f"slow{n}", "prompt": f"Slow {n}. [fake-llm steps=20]"} for n in range(4)]
    tasks = _write(tmp_path / "tasks.jsonl", rows)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    args = ["batch", "run", str(tasks), "--concurrency", "2", "--base-url", server.base_url]
    process = subprocess.Popen(
        [sys.executable, "-m", "openhands_api", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # interrupt once a task is running
        line = process.stdout.readline()
        if "\trunning\t" in line:
            break
    process.send_signal(signal.SIGINT)
    _out, err = finish(process, 60)
    assert process.returncode == 130, err
    state = tmp_path / "tasks.jsonl.state.sqlite"
    line = err.strip().splitlines()[-1]
    assert "Resume the batch with the same command" in line
    assert (
        f"openhands-api batch run {tasks} --concurrency 2 --state {state} --base-url {server.base_url}"
        in line
    )
    with StateStore(state) as store:
        counts = store.counts()
    assert counts["done"] < 4
    assert counts["running"] + counts["creating"] >= 1
    resumed = invoke(*args)
    assert resumed.code == 0, resumed.stderr
    with StateStore(state) as store:
        assert store.counts()["done"] == 4
        recorded = store.conversation_ids()
    # Nothing was created twice: the server has exactly the batch's 4 conversations.
    with OpenHandsAPI(base_url=server.base_url) as api:
        on_server = {conversation.id for conversation in api.iter_conversations()}
    assert len(recorded) == 4
    assert on_server == recorded


def test_without_rich_a_terminal_gets_one_line_per_change(
    server: FakeOpenHandsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openhands_api.cli import batch as batch_cli

    monkeypatch.setattr(batch_cli, "_rich_available", lambda: False)
    tasks = _write(tmp_path / "tasks.csv", _rows(2))
    ran = _run(server, tasks, terminal=TERMINAL)
    assert ran.code == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert any(line.startswith("t0  running") for line in lines), lines
    assert any(line.startswith("t1  done  finished") for line in lines), lines
    assert "2 tasks: 2 done" in ran.stderr


def test_template_vars_and_follow_up(server: FakeOpenHandsServer, tmp_path: Path) -> None:
    template = tmp_path / "fix.md"
    template.write_text("Fix issue {{ISSUE}} for {{TEAM}}. [fake-llm steps=1]")
    tasks = tmp_path / "issues.jsonl"
    tasks.write_text('{"id": "i1", "ISSUE": "41"}\n{"id": "i2", "ISSUE": "42", "TEAM": "web"}\n')
    state = tmp_path / "custom.sqlite"
    ran = _run(
        server,
        tasks,
        "--template",
        str(template),
        "--var",
        "TEAM=payments",
        "--follow-up",
        "Now add a test. [fake-llm steps=1]",
        "--state",
        str(state),
    )
    assert ran.code == 0, ran.stderr
    with StateStore(state) as store:
        records = {record.key: record for record in store.records()}
    assert records["id:i1"].request["prompt"].startswith("Fix issue 41 for payments.")
    assert records["id:i2"].request["prompt"].startswith("Fix issue 42 for web.")
    assert all(record.phase == "follow_up" and record.status == "done" for record in records.values())
    assert invoke("batch", "run", str(tasks), "--var", "TEAM", "--base-url", server.base_url).code == 2


def test_status_and_report_find_the_state_file_here(
    recorded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ran = invoke("batch", "status", "--json", "total")
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout) == {"total": 6}
    (tmp_path / "second.state.sqlite").write_bytes(recorded.read_bytes())
    ran = invoke("batch", "report")
    assert ran.code == 2
    assert "give --state FILE" in ran.stderr


def test_retry_failed_runs_the_failed_task_again(server: FakeOpenHandsServer, recorded: Path) -> None:
    with StateStore(recorded) as store:
        before = {record.key: record.conversation_id for record in store.records()}
    tasks = recorded.with_name("tasks.csv")
    replayed = _run(server, tasks)
    assert replayed.code == 1  # the failure is replayed, nothing is run
    assert replayed.stdout == ""
    retried = _run(server, tasks, "--retry-failed")
    assert retried.code == 1  # its prompt makes it fail again
    keys = {line.split("\t")[0] for line in retried.stdout.splitlines()}
    assert keys == {"id:t3"}
    with StateStore(recorded) as store:
        after = {record.key: record.conversation_id for record in store.records()}
    assert after["id:t3"] != before["id:t3"]
    assert {k: v for k, v in after.items() if k != "id:t3"} == {
        k: v for k, v in before.items() if k != "id:t3"
    }
