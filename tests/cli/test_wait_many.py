"""``wait ID...``: several conversations at once, and gh's ``--exit-status`` semantics
(without it: 0 once every conversation has an outcome; with it: the worst outcome's code)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from openhands_api import OpenHandsAPI
from openhands_api.cli import exit_codes
from openhands_api.cli.waiting import worst_code
from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import TERMINAL, invoke
from tests.cli.test_interrupt import _interrupt_once_waiting

Factory = Callable[..., FakeOpenHandsServer]
UNKNOWN = "0123456789abcdef0123456789abcdef"


@pytest.fixture(params=["v0", "v1"])
def server(request: pytest.FixtureRequest, fake_openhands_factory: Factory) -> FakeOpenHandsServer:
    return fake_openhands_factory(rate_limit=False, speed=20.0, generations=request.param)


def _start(server: FakeOpenHandsServer, *prompts: str) -> list[str]:
    with OpenHandsAPI(base_url=server.base_url) as api:
        return [api.create_conversation(prompt).id for prompt in prompts]


def _wait(server: FakeOpenHandsServer, *args: str, **kwargs: object) -> tuple[int, str, str]:
    ran = invoke("wait", *args, env={"OPENHANDS_BASE_URL": server.base_url}, **kwargs)  # type: ignore[arg-type]
    return ran.code, ran.stdout, ran.stderr


def test_several_ids_are_waited_for_together_and_printed_in_order(server: FakeOpenHandsServer) -> None:
    ids = _start(server, "One. [fake-llm steps=1]", "Two. [fake-llm ask]", "Three. [fake-llm steps=2]")
    code, out, err = _wait(server, ids[0], ids[1][:8], ids[2], "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [row["id"] for row in rows] == ids  # the prefix resolved to the full id
    assert [row["outcome"] for row in rows] == ["finished", "waiting_for_user", "finished"]
    code, out, err = _wait(server, *ids)  # piped: one tab-separated row each
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [
        [ids[0], "finished"],
        [ids[1], "waiting_for_user"],
        [ids[2], "finished"],
    ]


def test_without_exit_status_an_outcome_is_enough_with_it_the_worst_decides(
    server: FakeOpenHandsServer,
) -> None:
    ids = _start(server, "Fine. [fake-llm steps=1]", "Fail. [fake-llm error]")
    code, _, err = _wait(server, *ids)
    assert code == 0, err
    code, out, err = _wait(server, *ids, "--exit-status", "--json", "id,outcome")
    assert code == exit_codes.FAILED, err
    assert json.loads(out) == [{"id": ids[0], "outcome": "finished"}, {"id": ids[1], "outcome": "failed"}]
    code, _, _ = _wait(server, ids[0], UNKNOWN, "--exit-status")
    assert code == exit_codes.STOPPED  # gone
    code, _, _ = _wait(server, ids[0], UNKNOWN)
    assert code == exit_codes.OK


def test_one_id_prints_one_object_and_exit_status_gives_its_outcome(server: FakeOpenHandsServer) -> None:
    [cid] = _start(server, "Fail. [fake-llm error]")
    code, out, err = _wait(server, cid, "--json")
    assert code == exit_codes.OK, err
    result = json.loads(out)
    assert isinstance(result, dict)
    assert result["outcome"] == "failed"
    code, out, _ = _wait(server, cid, "--exit-status")
    assert code == exit_codes.FAILED
    assert out.startswith("failed")


def test_a_timeout_among_several_keeps_its_code_and_reports_each(server: FakeOpenHandsServer) -> None:
    ids = _start(server, "Quick. [fake-llm steps=1]", "Long. [fake-llm steps=20000]")
    code, out, err = _wait(server, *ids, "--timeout-s", "2", "--json")
    assert code == exit_codes.TIMED_OUT
    rows = json.loads(out)
    assert rows[0]["outcome"] == "finished"
    assert (rows[1]["id"], rows[1]["outcome"], rows[1]["status"]) == (ids[1], None, "timed_out")
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: {ids[1]}: ")


def test_several_waits_on_a_terminal_show_how_many_are_done(server: FakeOpenHandsServer) -> None:
    ids = _start(server, "One. [fake-llm steps=3]", "Two. [fake-llm steps=3]")
    code, out, err = _wait(server, *ids, terminal=TERMINAL)
    assert code == 0, err
    assert "of 2 done" in err
    assert err.endswith("\r\x1b[2K")  # erased at the end
    assert out.splitlines()[0].split()[:2] == ["ID", "STATUS"]


def test_the_worst_outcome_order() -> None:
    ordered = [
        exit_codes.FAILED,
        exit_codes.BLOCKED,
        exit_codes.STOPPED,
        exit_codes.IN_PROGRESS,
        exit_codes.OK,
    ]
    for i, code in enumerate(ordered):
        assert worst_code(ordered[i:]) == code
        assert worst_code(list(reversed(ordered[i:]))) == code
    assert worst_code([]) == exit_codes.OK


def test_ctrl_c_while_waiting_for_several_names_each_and_how_to_wait_again(
    fake_openhands_factory: Factory,
) -> None:
    server = fake_openhands_factory(speed=1.0, generations="v0")
    ids = _start(server, "Long one. [fake-llm steps=200]", "Long two. [fake-llm steps=200]")
    done = _interrupt_once_waiting(
        server, ["wait", *ids, "--base-url", server.base_url], {**os.environ}, reads=2
    )
    assert done.returncode == exit_codes.INTERRUPTED, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert f"conversations {ids[0]}, {ids[1]} go on running" in line
    assert f"openhands-api wait {ids[0]} {ids[1]} --base-url {server.base_url}" in line
