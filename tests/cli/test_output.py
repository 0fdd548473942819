"""The output layer through the real command tree, in-process: tables that fit the terminal,
tab-separated rows when piped, --json FIELDS, --jq, colour rules and -q."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from openhands_api.cli.jq import JqError, compile_jq
from openhands_api.cli.output import Column, fit_table
from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import PIPED, TERMINAL, invoke

LONG_TITLE = ("A very long title that would wrap an eighty column terminal if nothing cut it " * 2).strip()


def _create(server: FakeOpenHandsServer, count: int = 3) -> list[str]:
    ids = []
    for n in range(count):
        ran = invoke(
            "new-conversation", "--base-url", server.base_url, "--prompt", f"Task {n}.", "--title", LONG_TITLE
        )
        assert ran.code == 0, ran.stderr
        ids.append(ran.stdout.strip().rsplit("/", 1)[1])
    return ids


def test_list_on_a_terminal_is_a_table_with_a_header_that_fits(cli_server: FakeOpenHandsServer) -> None:
    ids = _create(cli_server)
    ran = invoke("list", "--base-url", cli_server.base_url, terminal=TERMINAL)
    assert ran.code == 0, ran.stderr
    header, *rows = ran.stdout.splitlines()
    assert header.split() == ["ID", "OUTCOME", "UPDATED", "REPOSITORY", "TITLE"]
    assert len(rows) == 3
    assert all(len(line) <= 80 for line in ran.stdout.splitlines())
    assert {row.split()[0] for row in rows} == {cid[:8] for cid in ids}  # short ids, usable as prefixes
    assert all(row.endswith("…") for row in rows)  # the long title was cut, not wrapped


def test_list_piped_is_tab_separated_with_full_ids_and_no_header(cli_server: FakeOpenHandsServer) -> None:
    ids = _create(cli_server)
    ran = invoke("list", "--base-url", cli_server.base_url, terminal=PIPED)
    rows = [line.split("\t") for line in ran.stdout.splitlines()]
    assert {row[0] for row in rows} == set(ids)
    assert all(len(row) == 5 for row in rows)
    assert rows[0][4] == " ".join(LONG_TITLE.split())  # whole, never cut


def test_json_fields_choose_and_unknown_fields_are_a_usage_error(cli_server: FakeOpenHandsServer) -> None:
    (cid,) = _create(cli_server, 1)
    ran = invoke("get", "--json", "id,title", cid, "--base-url", cli_server.base_url)
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout) == {"id": cid, "title": LONG_TITLE}
    ran = invoke("get", cid, "--json", "--base-url", cli_server.base_url)  # bare: the documented fields
    data = json.loads(ran.stdout)
    assert data["id"] == cid
    assert "raw" not in data
    ran = invoke("get", cid, "--json", "id,raw", "--base-url", cli_server.base_url)  # raw only when named
    assert set(json.loads(ran.stdout)) == {"id", "raw"}
    ran = invoke("get", cid, "--json=id,nope", "--base-url", cli_server.base_url)
    assert ran.code == 2
    assert "no field nope" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_jq_filters_the_json(cli_server: FakeOpenHandsServer) -> None:
    ids = _create(cli_server)
    ran = invoke("list", "--jq", ".[].id", "--base-url", cli_server.base_url)
    assert ran.code == 0, ran.stderr
    assert set(ran.stdout.split()) == set(ids)  # strings print raw, one a line
    ran = invoke(
        "list", "--jq", '.[] | select(.id == "' + ids[0] + '") | .title', "--base-url", cli_server.base_url
    )
    assert ran.stdout == LONG_TITLE + "\n"
    ran = invoke("list", "--jq", ".[] | @base64", "--base-url", cli_server.base_url)
    assert ran.code == 2
    assert "--jq" in ran.stderr


def test_quiet_keeps_only_what_a_script_reads(cli_server: FakeOpenHandsServer) -> None:
    (cid,) = _create(cli_server, 1)
    assert invoke("stop", cid, "--base-url", cli_server.base_url).stdout == f"stopped {cid}\n"
    ran = invoke("stop", cid, "-q", "--base-url", cli_server.base_url)
    assert ran.code == 0
    assert ran.stdout == ""
    ran = invoke("stop", cid, "-q", "--json", "--base-url", cli_server.base_url)
    assert json.loads(ran.stdout) == {"id": cid, "action": "stopped"}


def test_outcomes_are_coloured_only_when_colour_is_on() -> None:
    from openhands_api.cli.output import Printer

    rows = [{"id": "a" * 32, "outcome": "failed"}]
    columns = [Column("id", "id"), Column("outcome", "outcome")]
    lines: list[str] = []
    colour = Printer(replace(TERMINAL, color=True), _echo=lambda text, err=False: lines.append(text))
    colour.table(rows, columns)
    assert "\x1b[31m" in lines[1]  # red
    lines.clear()
    Printer(TERMINAL, _echo=lambda text, err=False: lines.append(text)).table(rows, columns)
    assert "\x1b[" not in "".join(lines)


def test_no_color_turns_colour_off(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    from openhands_api.cli.output import Terminal

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdout", Tty())
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert Terminal.detect().color
    monkeypatch.setenv("NO_COLOR", "1")
    assert not Terminal.detect().color


def test_a_table_too_wide_is_cut_at_the_edge() -> None:
    rows = [{"a": "x" * 50, "b": "y" * 50}]
    lines = fit_table(rows, [Column("a", "a"), Column("b", "b")], 60)
    assert all(len(line) <= 60 for line in lines)
    assert lines[1].endswith("…")


@pytest.mark.parametrize(
    ("expression", "results"),
    [
        (".", [[{"id": "a", "n": 1}, {"id": "b", "n": 3}]]),
        (".[].id", ["a", "b"]),
        (".[] | select(.n > 2) | .id", ["b"]),
        ('.[] | select(.id != "a") | .n', [3]),
        ("length", [2]),
        (".[-1].id", ["b"]),
        (".[0] | keys", [["id", "n"]]),
        (".[0].missing.deeper", [None]),
        (".[] | .id, .n", ["a", 1, "b", 3]),
        ('.[0]."id"', ["a"]),
        (".[] | select(.missing) | .id", []),
        (".[0].id | not", [False]),
    ],
)
def test_the_jq_subset(expression: str, results: list[object]) -> None:
    data = [{"id": "a", "n": 1}, {"id": "b", "n": 3}]
    assert list(compile_jq(expression)(data)) == results


@pytest.mark.parametrize("expression", ["", ".[] | map(.id)", ".foo(", "select(.a == .b)", ". .a"])
def test_the_jq_subset_refuses_what_it_does_not_know(expression: str) -> None:
    with pytest.raises(JqError):
        compile_jq(expression)
