"""Fault rules without a network: validation and JSON forms, ``FaultSet``'s decisions, faults
in-process (``httpx.ASGITransport``) and the ``serve`` options that configure them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from openhands_api.testing import Chaos, FakeServerConfig, FaultRule, ManualClock
from openhands_api.testing.faults.rules import FaultSet
from openhands_api.testing.serving.cli import _parser, config_from_args, main

from .conftest import MakeClient
from .helpers import create


# ------------------------------------------------------------------------------ FaultRule
def test_a_rule_defaults_to_one_hit_on_any_request() -> None:
    rule = FaultRule("reset_after")
    assert (rule.method, rule.path, rule.times, rule.skip, rule.probability) == (None, None, 1, 0, 1.0)
    assert rule.matches("DELETE", "/anything")


def test_status_and_html_default_to_500() -> None:
    assert (FaultRule("status").status, FaultRule("html").status) == (500, 500)


@pytest.mark.parametrize(
    ("fault", "knobs", "complaint"),
    [
        ("explode", {}, "fault must be one of"),
        ("slow", {}, "delay"),
        ("slow", {"delay": 0}, "delay"),
        ("status", {"status": 302}, "4xx or 5xx"),
        ("html", {"status": 404}, "200 or a 5xx"),
        ("reset_after", {"status": 500}, "status applies"),
        ("status", {"delay": 1.0}, "delay applies"),
        ("html", {"retry_after": "1"}, "retry_after applies"),
        ("rate_limit", {"retry_after": "soon"}, "HTTP-date"),
        ("status", {"ratelimit_headers": True}, "ratelimit_headers applies"),
        ("status", {"body": []}, "body applies"),
        ("status", {"times": 0}, "times"),
        ("status", {"skip": -1}, "skip"),
        ("status", {"probability": 1.5}, "probability"),
        ("status", {"path": ""}, "path"),
    ],
)
def test_invalid_rules_are_refused(fault: str, knobs: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        FaultRule(fault, **knobs)


def test_refuse_is_not_a_rule_and_says_what_to_use() -> None:
    with pytest.raises(ValueError, match="refuse_connections"):
        FaultRule("refuse")


def test_method_is_matched_case_insensitively() -> None:
    rule = FaultRule("status", method="post")
    assert (rule.method, rule.matches("post", "/x"), rule.matches("GET", "/x")) == ("POST", True, False)


def test_star_in_a_path_glob_also_matches_slashes() -> None:
    rule = FaultRule("status", path="/api/v1/*")
    assert rule.matches("GET", "/api/v1/app-conversations/search")
    assert not rule.matches("GET", "/api/conversations")


def test_retry_after_accepts_seconds_as_an_int_and_http_dates() -> None:
    assert FaultRule("rate_limit", retry_after=2).retry_after == "2"  # type: ignore[arg-type]
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    assert FaultRule("rate_limit", retry_after=date).retry_after == date


def test_a_rule_survives_its_json_form() -> None:
    rule = FaultRule("rate_limit", method="POST", path="/api/*", times=None, skip=1, retry_after="3")
    assert FaultRule.from_json(rule.to_json()) == rule


def test_unknown_json_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault rule keys"):
        FaultRule.from_json({"fault": "status", "code": 503})


# ------------------------------------------------------------------------------ Chaos
def test_chaos_survives_its_json_form() -> None:
    chaos = Chaos(
        0.3, faults=("status", "slow"), statuses=(503,), paths=("/api/*",), methods=("get",), seed=4
    )
    assert Chaos.from_json(chaos.to_json()) == chaos
    assert chaos.methods == ("GET",)


@pytest.mark.parametrize(
    ("knobs", "complaint"),
    [
        ({"probability": -0.1}, "probability"),
        ({"faults": ()}, "faults"),
        ({"faults": ("refuse",)}, "unknown fault kinds"),
        ({"statuses": (200,)}, "statuses"),
        ({"delay": 0}, "delay"),
    ],
)
def test_invalid_chaos_is_refused(knobs: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        Chaos(**knobs)


# ------------------------------------------------------------------------------ FaultSet
def picks(faults: FaultSet, count: int, path: str = "/x") -> list[int | None]:
    """The rule id (0 for chaos) or None for each of ``count`` requests."""
    out: list[int | None] = []
    for _ in range(count):
        picked = faults.pick("GET", path, 0.0)
        out.append(None if picked is None else (picked[1].rule_id or 0))
    return out


def test_the_first_rule_that_hits_takes_the_request() -> None:
    faults = FaultSet()
    first = faults.add(FaultRule("status", times=1))
    second = faults.add(FaultRule("html", times=1))
    assert picks(faults, 3) == [first, second, None]


def test_a_skipping_rule_lets_later_rules_hit() -> None:
    faults = FaultSet()
    faults.add(FaultRule("status", skip=1))
    fallback = faults.add(FaultRule("html", times=None))
    assert picks(faults, 3)[0] == fallback


def test_rules_come_before_chaos() -> None:
    faults = FaultSet(chaos=Chaos(1.0))
    rule_id = faults.add(FaultRule("status"))
    assert picks(faults, 2) == [rule_id, 0]


def test_the_fault_seed_decides_the_draws() -> None:
    def pattern(seed: int) -> list[int | None]:
        return picks(FaultSet([FaultRule("status", times=None, probability=0.5)], seed=seed), 24)

    assert pattern(1) == pattern(1)
    assert pattern(1) != pattern(2)


def test_chaos_without_a_seed_uses_the_fault_seed() -> None:
    def kinds(seed: int) -> list[str]:
        faults = FaultSet(seed=seed, chaos=Chaos(0.5))
        return [picked[0].fault if (picked := faults.pick("GET", "/x", 0.0)) else "-" for _ in range(24)]

    assert kinds(5) == kinds(5)
    assert kinds(5) != kinds(6)


def test_reset_restores_the_configured_rules_with_fresh_counters() -> None:
    faults = FaultSet([FaultRule("status")])
    faults.add(FaultRule("html"))
    picks(faults, 1)
    faults.reset()
    (only,) = faults.rules
    assert (only.rule.fault, only.hits, faults.fired) == ("status", 0, [])


def test_removing_an_unknown_rule_raises_key_error() -> None:
    with pytest.raises(KeyError):
        FaultSet().remove(1)


def test_config_checks_and_summarises_faults() -> None:
    config = FakeServerConfig(faults=[FaultRule("status", status=503)], chaos=Chaos(0.2, seed=1))
    summary = config.summary()
    assert (summary["faults"][0]["status"], summary["chaos"]["seed"]) == (503, 1)
    with pytest.raises(ValueError, match="FaultRule"):
        FakeServerConfig(faults=[{"fault": "status"}])  # type: ignore[list-item]


# ------------------------------------------------------------------------------ in-process
async def test_in_process_a_reset_raises_read_error(make_client: MakeClient) -> None:
    client, app = make_client()
    app.fake_state.faults.add(FaultRule("reset_after", method="POST"))
    with pytest.raises(httpx.ReadError):
        await client.post("/api/conversations", json={"initial_user_msg": "hi"})
    assert len(app.fake_state.conversations) == 1


async def test_in_process_truncation_is_a_short_complete_answer(make_client: MakeClient) -> None:
    client, app = make_client()
    app.fake_state.faults.add(FaultRule("truncated_json"))
    response = await client.get("/alive")
    assert (response.status_code, response.text) == (200, '{"statu')
    assert response.headers["content-length"] == "7"


async def test_in_process_slow_moves_a_manual_clock_instead_of_waiting(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, app = make_client()
    app.fake_state.faults.add(FaultRule("slow", delay=600))
    before = clock.now()
    await create(client)
    assert clock.now() - before == pytest.approx(600)


async def test_in_process_answering_faults_answer_as_over_loopback(make_client: MakeClient) -> None:
    client, app = make_client()
    app.fake_state.faults.add(FaultRule("concurrency_limit"))
    response = await client.post("/api/conversations", json={})
    assert response.json()["detail"]["error"] == "CONCURRENCY_LIMIT_REACHED"


async def test_refusing_connections_needs_a_real_server(client: httpx.AsyncClient) -> None:
    response = await client.post("/_fake/refuse_connections", json={"seconds": 1})
    assert response.status_code == 409


# ------------------------------------------------------------------------------ serve options
def test_serve_takes_fault_rules_as_json_and_chaos() -> None:
    args = _parser().parse_args(
        [
            "serve",
            "--fault",
            '{"fault": "status", "status": 503, "path": "/api/*"}',
            "--fault",
            '{"fault": "reset_after", "method": "POST"}',
            "--chaos",
            "0.25",
            "--chaos-seed",
            "9",
        ]
    )
    config = config_from_args(args)
    assert config.faults == [
        FaultRule("status", status=503, path="/api/*"),
        FaultRule("reset_after", method="POST"),
    ]
    assert config.chaos == Chaos(0.25, seed=9)


def test_serve_refuses_an_invalid_fault_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--fault", '{"fault": "slow"}']) == 2
    assert "delay" in capsys.readouterr().err
