"""``list`` and ``get`` on both generations, in-process against the fake server: the outcome
of every listed row, --limit / --all and the note when more match, the filters (sent to the
server where it filters, checked on every row), and ``get``'s view and ``--web``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from openhands_api import OpenHandsAPI
from openhands_api.cli.app import Seam
from openhands_api.cli.output import Terminal
from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import PIPED, TERMINAL, Ran, invoke

# Each conversation's prompt steers the fake's agent to one outcome; the last keeps working.
SCENARIOS = {
    "finished": ("Fix the flaky test. [fake-llm steps=1]", "acme/api", "main"),
    "failed": ("Break it. [fake-llm error]", "acme/api", "fix/login"),
    "waiting_for_user": ("Ask me first. [fake-llm ask]", "acme/web", None),
    "in_progress": ("Take your time. [fake-llm steps=40 delay=60]", None, None),
}
TITLES = {
    "finished": "Fix FLAKY test",
    "failed": "Break the build",
    "waiting_for_user": "Ask about the flaky one",
    "in_progress": "Long refactor",
}


@dataclass
class Populated:
    server: FakeOpenHandsServer
    generation: str
    ids: dict[str, str]  # outcome -> conversation id

    @property
    def url(self) -> str:
        return self.server.base_url

    def run(self, *args: str, terminal: Terminal = PIPED, seam: Seam | None = None) -> Ran:
        return invoke(*args, "--base-url", self.url, terminal=terminal, seam=seam)

    def requests_since(self, start: int) -> list[str]:
        return [r.path for r in self.server.state.requests[start:]]

    def listing_query(self, start: int) -> dict[str, list[str]]:
        """The query of the last listing request since ``start`` (a version detection may
        list first)."""
        last = [p for p in self.requests_since(start) if _is_listing(p)][-1]
        return parse_qs(urlsplit(last).query)


def _is_listing(path: str) -> bool:
    route = urlsplit(path).path
    return route in ("/api/conversations", "/api/v1/app-conversations/search")


@pytest.fixture(scope="module", params=["v0", "v1"])
def populated(request: pytest.FixtureRequest) -> Iterator[Populated]:
    """One server per generation with a conversation in each outcome (oldest first, so the
    listing, newest first, ends with the finished one)."""
    # Room for every conversation at once: a V0 server stops its oldest runtime past the limit.
    server = FakeOpenHandsServer(
        rate_limit=False, speed=5.0, generations=request.param, max_concurrent_conversations=10
    ).start()
    try:
        ids: dict[str, str] = {}
        with OpenHandsAPI(base_url=server.base_url) as api:
            for outcome, (prompt, repository, branch) in SCENARIOS.items():
                created = api.create_conversation(
                    prompt, repository=repository, branch=branch, title=TITLES[outcome]
                )
                ids[outcome] = created.id
            for outcome in ("finished", "failed", "waiting_for_user"):
                assert api.wait(ids[outcome], timeout=60).outcome.value == outcome
            # A V1 server's LLM title lands shortly after the first message and overwrites a
            # title set before it (observed on 1.11.0; the fake does it too): set them again.
            time.sleep(0.5)
            for outcome, cid in ids.items():
                api.set_title(cid, TITLES[outcome])
        yield Populated(server, request.param, ids)
    finally:
        server.stop()


def _json_rows(ran_stdout: str) -> dict[str, dict[str, object]]:
    return {row["id"]: row for row in json.loads(ran_stdout)}


# ---------------------------------------------------------------------------- outcomes


def test_list_shows_every_rows_outcome_in_the_table(populated: Populated) -> None:
    ran = populated.run("list", terminal=TERMINAL)
    assert ran.code == 0, ran.stderr
    header, *rows = ran.stdout.splitlines()
    assert header.split()[:2] == ["ID", "OUTCOME"]
    assert all(len(line) <= 80 for line in ran.stdout.splitlines())
    shown = {row.split()[0]: row.split()[1] for row in rows}
    assert shown == {cid[:8]: outcome for outcome, cid in populated.ids.items()}
    assert ran.stderr == ""  # four rows, all shown: no note


def test_list_outcomes_in_json_and_piped(populated: Populated) -> None:
    ran = populated.run("list", "--json", "id,outcome")
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout) == [
        {"id": cid, "outcome": outcome} for outcome, cid in reversed(populated.ids.items())
    ]
    ran = populated.run("list")
    rows = [line.split("\t") for line in ran.stdout.splitlines()]
    assert {row[0]: row[1] for row in rows} == {cid: outcome for outcome, cid in populated.ids.items()}


def test_list_json_carries_repository_and_branch(populated: Populated) -> None:
    ran = populated.run("list", "--json", "id,repository,branch")
    rows = _json_rows(ran.stdout)
    for outcome, (_prompt, repository, branch) in SCENARIOS.items():
        assert rows[populated.ids[outcome]] == {
            "id": populated.ids[outcome],
            "repository": repository,
            "branch": branch,
        }


def test_a_rows_outcome_costs_at_most_two_requests(populated: Populated) -> None:
    """The outcome of a listed row costs at most two requests (V0: the events read of a look;
    V1: at most the answer's two reads), through the client like any other request."""
    start = len(populated.server.state.requests)
    ran = populated.run("list", "--api-version", populated.generation)
    assert ran.code == 0, ran.stderr
    paths = populated.requests_since(start)
    listing = [p for p in paths if _is_listing(p)]
    assert len(listing) == 1
    assert len(paths) - len(listing) <= 2 * len(populated.ids)


# ---------------------------------------------------------------------------- limit and --all


def test_limit_shows_that_many_and_says_more_match(populated: Populated) -> None:
    ran = populated.run("list", "--limit", "2", terminal=TERMINAL)
    assert ran.code == 0, ran.stderr
    assert len(ran.stdout.splitlines()) == 3  # header and two rows
    assert "showing 2 of more; use --limit N or --all" in ran.stderr
    ran = populated.run("list", "--limit", "2", "--json", "id")
    assert len(json.loads(ran.stdout)) == 2  # the note is on stderr: the JSON stays whole
    assert "showing 2 of more" in ran.stderr
    ran = populated.run("list", "--limit", "4")
    assert len(ran.stdout.splitlines()) == 4
    assert ran.stderr == ""
    ran = populated.run("list", "--all", "--limit", "1")
    assert len(ran.stdout.splitlines()) == 4
    assert ran.stderr == ""
    ran = populated.run("list", "--limit", "1", "-q")
    assert len(ran.stdout.splitlines()) == 1
    assert ran.stderr == ""  # -q: no notes


# ---------------------------------------------------------------------------- filters


def _listed(populated: Populated, *args: str) -> set[str]:
    ran = populated.run("list", *args, "--json", "id,outcome")
    assert ran.code == 0, ran.stderr
    by_id = {cid: outcome for outcome, cid in populated.ids.items()}
    return {by_id[row["id"]] for row in json.loads(ran.stdout)}


def test_repo_filter(populated: Populated) -> None:
    start = len(populated.server.state.requests)
    assert _listed(populated, "--repo", "acme/api") == {"finished", "failed"}
    if populated.generation == "v0":  # the V0 server filters the repository itself
        assert populated.listing_query(start)["selected_repository"] == ["acme/api"]
    assert _listed(populated, "--repo", "acme/nothing") == set()


def test_search_is_case_insensitive_and_decided_by_the_client(populated: Populated) -> None:
    start = len(populated.server.state.requests)
    assert _listed(populated, "--search", "flaky") == {"finished", "waiting_for_user"}
    # Never sent: V1's title__contains is case-sensitive on PostgreSQL (Cloud).
    assert not any("title__contains" in p for p in populated.requests_since(start))


def test_outcome_filter_is_repeatable(populated: Populated) -> None:
    assert _listed(populated, "--outcome", "failed") == {"failed"}
    assert _listed(populated, "--outcome", "failed", "--outcome", "waiting_for_user") == {
        "failed",
        "waiting_for_user",
    }
    assert _listed(populated, "--outcome", "gone") == set()
    ran = populated.run("list", "--outcome", "done")
    assert ran.code == 2
    assert "--outcome" in ran.stderr


def test_time_filters(populated: Populated) -> None:
    everything = set(populated.ids)
    start = len(populated.server.state.requests)
    assert _listed(populated, "--created-since", "1h") == everything
    if populated.generation == "v1":  # the V1 server filters the times itself
        assert "created_at__gte" in populated.listing_query(start)
    assert _listed(populated, "--updated-since", "2020-01-01") == everything
    future = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    assert _listed(populated, "--created-since", future) == set()
    ran = populated.run("list", "--updated-since", future, terminal=TERMINAL)
    assert ran.code == 0
    assert ran.stdout == ""
    assert "no conversations match" in ran.stderr


def test_limit_counts_the_rows_the_filters_kept(populated: Populated) -> None:
    ran = populated.run("list", "--repo", "acme/api", "--limit", "1", "--json", "id,outcome")
    assert json.loads(ran.stdout) == [{"id": populated.ids["failed"], "outcome": "failed"}]
    assert "showing 1 of more" in ran.stderr
    ran = populated.run("list", "--repo", "acme/api", "--limit", "2", "--json", "id")
    assert len(json.loads(ran.stdout)) == 2
    assert ran.stderr == ""


@pytest.mark.parametrize("when", ["yesterday", "7x", "-2h", "2026-13-01"])
def test_a_bad_when_is_a_usage_error(populated: Populated, when: str) -> None:
    start = len(populated.server.state.requests)
    ran = populated.run("list", "--created-since", when)
    assert ran.code == 2
    assert "--created-since" in ran.stderr
    assert "duration" in ran.stderr
    assert "ISO" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert populated.requests_since(start) == []  # refused before anything was sent


# ---------------------------------------------------------------------------- get


def _give_prs(populated: Populated, outcome: str, numbers: list[int]) -> str:
    """The fake has no agent that opens PRs: set them as the server records them."""
    cid = populated.ids[outcome]
    state = populated.server.state
    with state.lock:
        if populated.generation == "v0":
            state.v0.conversations[cid].pr_number = numbers
        else:
            state.v1.conversations[uuid.UUID(cid).hex].pr_number = numbers
    return cid


def test_get_shows_repository_branch_prs_and_cost(populated: Populated) -> None:
    cid = _give_prs(populated, "finished", [12, 15])
    ran = populated.run("get", cid, terminal=TERMINAL)
    assert ran.code == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0] == TITLES["finished"]
    assert f"  id          {cid}" in lines
    assert "  outcome     finished" in lines
    assert "  repository  acme/api @ main" in lines
    assert "  PRs         #12, #15" in lines
    assert any(line.startswith("  cost        $0.0000") for line in lines)
    assert any(line.startswith("  created     ") and ", updated " in line for line in lines)
    assert lines[-1] == f"  {populated.url}/conversations/{cid}"
    ran = populated.run("get", cid, "--json", "repository,branch,pr_numbers,cost,outcome")
    assert json.loads(ran.stdout) == {
        "repository": "acme/api",
        "branch": "main",
        "pr_numbers": [12, 15],
        "cost": 0.0,
        "outcome": "finished",
    }
    ran = populated.run("get", cid[:8], "--jq", ".pr_numbers[]")
    assert ran.stdout.split() == ["12", "15"]


def test_get_without_repository_leaves_the_line_out(populated: Populated) -> None:
    ran = populated.run("get", populated.ids["in_progress"], terminal=TERMINAL)
    assert ran.code == 0, ran.stderr
    assert "  outcome     in_progress" in ran.stdout.splitlines()
    assert "repository" not in ran.stdout
    assert "PRs" not in ran.stdout


def test_get_web_opens_the_page(populated: Populated) -> None:
    cid = populated.ids["finished"]
    opened: list[str] = []

    def browser(url: str) -> bool:
        opened.append(url)
        return True

    ran = populated.run("get", cid, "--web", seam=Seam(open_browser=browser))
    assert ran.code == 0, ran.stderr
    assert opened == [f"{populated.url}/conversations/{cid}"]
    assert ran.stderr == ""
    ran = populated.run("get", cid, "--web", seam=Seam(open_browser=lambda url: False))
    assert ran.code == 0
    assert ran.stdout.splitlines()[0] == TITLES["finished"]  # the view is still shown
    assert f"could not start a browser; open {populated.url}/conversations/{cid}" in ran.stderr
