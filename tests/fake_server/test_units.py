"""Pure parts of the fake: directives, error outcomes, the scheduler, the workspace, clocks, config."""

from __future__ import annotations

import pytest

from openhands_api.testing import FakeServerConfig, ManualClock
from openhands_api.testing.core.scheduler import Process, Scheduler
from openhands_api.testing.core.workspace import Workspace, normalise
from openhands_api.testing.v0.agent import Directives, error_outcome, parse_directives, plan_outcome

DEFAULTS = Directives()


# ------------------------------------------------------------------------------ directives
def test_directives_default_to_the_server_wide_values() -> None:
    defaults = Directives(steps=2, error=None, delay=0.5, ask=True)
    assert parse_directives(["no directives here"], defaults) == defaults


def test_directives_combine_in_one_bracket() -> None:
    parsed = parse_directives(["do [fake-llm steps=3 error=400 delay=1.5]"], DEFAULTS)
    assert parsed == Directives(steps=3, error=400, delay=1.5, ask=False)


def test_bare_error_means_500() -> None:
    assert parse_directives(["[fake-llm error]"], DEFAULTS).error == 500


def test_later_messages_win() -> None:
    parsed = parse_directives(
        ["[fake-llm steps=2 error]", "[fake-llm noerror]", "[fake-llm steps=5]"], DEFAULTS
    )
    assert (parsed.steps, parsed.error) == (5, None)


def test_ask_and_noask() -> None:
    assert parse_directives(["[fake-llm ask]"], DEFAULTS).ask is True
    assert parse_directives(["[fake-llm ask]", "[fake-llm noask]"], DEFAULTS).ask is False


def test_malformed_directive_values_are_ignored() -> None:
    assert parse_directives(["[fake-llm steps=many delay=soon error=x]"], DEFAULTS) == DEFAULTS


def test_directive_keys_are_case_insensitive() -> None:
    assert parse_directives(["[fake-llm STEPS=4]"], DEFAULTS).steps == 4


@pytest.mark.parametrize(
    ("status", "state", "reason_part"),
    [
        (400, "error", "Fake LLM error (injected, HTTP 400)."),
        (401, "error", "BadRequestError: litellm.BadRequestError"),
        (404, "error", "HTTP 404"),
        (429, "rate_limited", ""),
        (500, "error", "STATUS$ERROR_LLM_INTERNAL_SERVER_ERROR"),
        (502, "error", "unexpected error while running the agent: BadGatewayError."),
        (503, "error", "ServiceUnavailableError"),
    ],
)
def test_error_outcomes_mirror_the_real_server(status: int, state: str, reason_part: str) -> None:
    outcome = error_outcome(status)
    assert outcome.agent_state == state
    assert reason_part in outcome.reason
    if status == 429:
        assert outcome.reason == ""


def test_an_error_wins_over_ask_which_wins_over_finish() -> None:
    assert plan_outcome(Directives(error=500, ask=True)).kind == "error"
    assert plan_outcome(Directives(ask=True)).kind == "ask"
    assert plan_outcome(Directives()).agent_state == "finished"


# ------------------------------------------------------------------------------ scheduler
def make_scheduler(clock: ManualClock, speed: float = 1.0) -> Scheduler:
    return Scheduler(clock.now, lambda seconds: seconds / speed)


def test_processes_run_only_when_time_is_due(clock: ManualClock) -> None:
    scheduler = make_scheduler(clock)
    log: list[float] = []

    def ticker() -> Process:
        for _ in range(3):
            log.append(scheduler.now())
            yield 1.0

    start = clock.now()
    scheduler.spawn(ticker(), owner="a", name="t", delay=0.5)
    scheduler.run_until()
    assert log == []
    clock.advance(2.0)
    scheduler.run_until()
    # each step sees its own due time, not the time of the call
    assert log == [start + 0.5, start + 1.5]


def test_processes_interleave_in_due_order(clock: ManualClock) -> None:
    scheduler = make_scheduler(clock)
    log: list[str] = []

    def worker(name: str, step: float) -> Process:
        for i in range(3):
            log.append(f"{name}{i}")
            yield step

    scheduler.spawn(worker("a", 1.0), owner="a", name="w")
    scheduler.spawn(worker("b", 0.4), owner="b", name="w")
    clock.advance(10)
    scheduler.run_until()
    assert log == ["a0", "b0", "b1", "b2", "a1", "a2"]


def test_cancel_drops_an_owners_processes(clock: ManualClock) -> None:
    scheduler = make_scheduler(clock)
    log: list[str] = []

    def worker(name: str) -> Process:
        while True:
            log.append(name)
            yield 1.0

    scheduler.spawn(worker("a"), owner="a", name="w")
    scheduler.spawn(worker("b"), owner="b", name="w")
    assert scheduler.cancel("a") == 1
    clock.advance(1.5)
    scheduler.run_until()
    assert log == ["b", "b"]
    assert not scheduler.pending("a")
    assert scheduler.pending("b", "w")


def test_speed_divides_delays(clock: ManualClock) -> None:
    scheduler = make_scheduler(clock, speed=10)
    fired: list[bool] = []
    scheduler.call_later(lambda: fired.append(True), owner="x", name="once", delay=5.0)
    clock.advance(0.49)
    scheduler.run_until()
    assert fired == []
    clock.advance(0.02)
    scheduler.run_until()
    assert fired == [True]
    clock.advance(10)
    scheduler.run_until()
    assert fired == [True]
    assert not scheduler.pending("x")


# ------------------------------------------------------------------------------ workspace
def test_workspace_paths_are_normalised() -> None:
    assert normalise("/a/./b/../c.txt") == "a/c.txt"
    assert normalise("") == ""
    assert normalise("../../etc/passwd") == "etc/passwd"


def test_workspace_reads_text_binary_directories_and_missing_files() -> None:
    workspace = Workspace()
    workspace.seed({"a/b.txt": "x", "bin": b"\xff\xfe", "empty/": ""})
    assert workspace.read("a/b.txt") == ("text", "x")
    assert workspace.read("bin")[0] == "binary"
    assert workspace.read("a")[0] == "directory"
    assert workspace.read("empty")[0] == "directory"
    assert workspace.read("nope")[0] == "missing"


# ------------------------------------------------------------------------------ clock and config
def test_manual_clock_only_moves_forward() -> None:
    clock = ManualClock(start=10.0)
    assert clock.advance(2.5) == 12.5
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


async def test_manual_clock_sleep_advances_instead_of_waiting() -> None:
    clock = ManualClock(start=0.0)
    await clock.sleep(3.0)
    assert clock.now() == 3.0


@pytest.mark.parametrize(
    "knobs", [{"speed": 0}, {"step_delay": -1}, {"generations": "v2"}, {"rate_limit_requests": 0}]
)
def test_config_rejects_impossible_values(knobs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - several different messages
        FakeServerConfig(**knobs)  # type: ignore[arg-type]


def test_config_overrides_copy_the_config() -> None:
    base = FakeServerConfig()
    faster = base.with_overrides(speed=5)
    assert (base.speed, faster.speed) == (1.0, 5)
    assert faster.scaled(10) == 2.0
    with pytest.raises(TypeError):
        base.with_overrides(no_such_knob=1)
