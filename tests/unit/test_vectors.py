"""Every shared JSON vector in tests/vectors/, run against the Python client (shapes: its README.md).

The TypeScript client runs the same files. Each case has a ``kind`` (its own, or its file's), and a
kind this runner does not know fails here: a vector written for one client fails the other until
its runner handles it. So does an expectation key a runner does not know.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from openhands_api import errors
from openhands_api.models import AppConversation, ConversationInfo, Outcome, StartTask, V0Event, V1Event
from openhands_api.protocol import v0, v1
from openhands_api.protocol.http import Call, Request, Response
from openhands_api.protocol.lifecycle import (
    ANSWER_GRACE,
    SETTLE_CANDIDATES,
    V0_ROWS,
    V1_ROWS,
    Assessment,
    RestartProgress,
    SettleTracker,
    classify_start_task,
    classify_v0,
    classify_v1,
    error_detail,
    events_prove_new_turn,
    last_known_execution_status,
    needs_error_detail,
    needs_last_known,
    newest_agent_state,
    refine_v1_finished,
    restart_progress,
    v0_page_state,
    with_answer,
)
from openhands_api.protocol.parsing import error_from_response, is_concurrency_limit
from openhands_api.protocol.retry import FailureKind, RetryPolicy, parse_retry_after, server_delay_hint

VECTORS = Path(__file__).parents[1] / "vectors"

FILES: dict[str, dict[str, Any]] = {
    path.name: json.loads(path.read_text()) for path in sorted(VECTORS.glob("*.json"))
}


def _kind(document: dict[str, Any], case: dict[str, Any]) -> str | None:
    kind = case.get("kind", document.get("kind"))
    return kind if isinstance(kind, str) else None


def _every_case() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [(name, document, case) for name, document in FILES.items() for case in document.get("cases", [])]


def _cases_of(kind: str) -> list[dict[str, Any]]:
    return [case for _, document, case in _every_case() if _kind(document, case) == kind]


# ---------------------------------------------------------------------------- helpers


def _plain(value: Any) -> Any:
    """A parsed result as wire JSON, to compare with a vector's plain values."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _response(spec: dict[str, Any]) -> Response:
    headers = {key.lower(): value for key, value in spec.get("headers", {}).items()}
    if "content_type" in spec:
        headers["content-type"] = spec["content_type"]
    return Response(
        status_code=spec["status"],
        headers=headers,
        content=spec.get("body", "").encode(),
        received_at=spec.get("received_at"),
    )


def _subset(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert {key: actual[key] for key in expected} == expected


def _unknown_keys(expect: dict[str, Any], known: set[str]) -> None:
    unknown = set(expect) - known
    assert not unknown, f"expectation keys this runner does not check: {sorted(unknown)}"


def _close(actual: float | None, expected: float | None) -> None:
    if expected is None:
        assert actual is None
    else:
        assert actual == pytest.approx(expected, abs=1e-9)


# ---------------------------------------------------------------------------- routes

ROUTE_MODULES = {"route.v0": v0, "route.v1": v1}
ROUTE_EXPECTATIONS = {
    "error",
    "detail",
    "limit",
    "current",
    "result",
    "result_keys",
    "event_ids",
    "has_more",
    "first",
    "second_is_null",
    "item_ids",
    "item_count",
    "next_page_id",
}


def _run_route(module: Any, case: dict[str, Any]) -> None:
    call: Call[Any] = getattr(module, case["route"])(**case["args"])
    if "request" in case:
        request, expected = call.request, case["request"]
        assert (request.method, request.path) == (expected["method"], expected["path"])
        assert [list(p) for p in request.params] == expected["params"]
        assert request.idempotent is expected["idempotent"]
        if "json" in expected:
            assert request.json == expected["json"]
        else:
            assert not request.has_body
    expect = case["expect"]
    _unknown_keys(expect, ROUTE_EXPECTATIONS)
    response = _response(case["response"])
    if "error" in expect:
        with pytest.raises(errors.OpenHandsError) as caught:
            call.parse(response)
        assert type(caught.value).__name__ == expect["error"]
        for key in ("detail", "limit", "current"):
            if key in expect:
                assert getattr(caught.value, key) == expect[key]
        return
    result = _plain(call.parse(response))
    if "result" in expect:
        if isinstance(expect["result"], dict):
            _subset(result, expect["result"])
        else:
            assert result == expect["result"]
    if "result_keys" in expect:
        assert set(expect["result_keys"]) <= set(result)
    if "event_ids" in expect:
        events = result if isinstance(result, list) else result["events"]
        assert [e["id"] for e in events] == expect["event_ids"]
    if "has_more" in expect:
        assert result["has_more"] is expect["has_more"]
    if "first" in expect:
        if expect["first"] is None:
            assert result[0] is None
        else:
            _subset(result[0], expect["first"])
    if "second_is_null" in expect:
        assert (result[1] is None) is expect["second_is_null"]
    if "item_ids" in expect:
        assert [item["id"] for item in result["items"]] == expect["item_ids"]
    if "item_count" in expect:
        assert len(result["items"]) == expect["item_count"]
    if "next_page_id" in expect:
        assert result["next_page_id"] == expect["next_page_id"]


# ---------------------------------------------------------------------------- decision tables


def _expect_verdict(verdict: Assessment, case: dict[str, Any]) -> None:
    assert verdict.outcome == Outcome(case["outcome"])
    if "row" in case:
        assert verdict.row == case["row"]
    if "detail" in case:
        assert verdict.detail == case["detail"]
    if "phase" in case:
        assert verdict.phase == case["phase"]


def _run_v0_row(case: dict[str, Any]) -> None:
    info = None if case["info"] is None else ConversationInfo.model_validate(case["info"])
    events = [V0Event.model_validate(e) for e in case["events"]]
    _expect_verdict(classify_v0(info, newest_agent_state(events, case["marker"])), case)


def _run_v1_row(case: dict[str, Any]) -> None:
    spec = case["conversation"]
    conversation = None if spec is None else AppConversation.model_validate(spec)
    verdict = classify_v1(
        conversation,
        last_known=case.get("last_known"),
        settled=case.get("settled", True),
        error_detail=case.get("error_detail"),
    )
    _expect_verdict(verdict, case)


def _run_v1_start_task(case: dict[str, Any]) -> None:
    task = None if case["task"] is None else StartTask.model_validate(case["task"])
    verdict = classify_start_task(task)
    if case["outcome"] is None:
        assert verdict is None
    else:
        assert verdict is not None
        _expect_verdict(verdict, case)


# ---------------------------------------------------------------------------- rules around the tables


def _v1_events(case: dict[str, Any]) -> list[V1Event]:
    return [V1Event.model_validate(e) for e in case["events"]]


def _run_restart_progress(case: dict[str, Any]) -> None:
    info = None if case["info"] is None else ConversationInfo.model_validate(case["info"])
    agent = newest_agent_state([V0Event.model_validate(e) for e in case["events"]], case["marker"])
    assert restart_progress(info, agent) is RestartProgress(case["expect"])


def _run_v0_page_state(case: dict[str, Any]) -> None:
    found = v0_page_state(V0Event.model_validate(e) for e in case["events"])
    expect = case["expect"]
    if expect is None:
        assert found is None
    else:
        assert found is not None
        assert (found.state, found.event_id, found.inferred) == (
            expect["state"],
            expect["event_id"],
            expect["inferred"],
        )


def _run_with_answer(case: dict[str, Any]) -> None:
    assessment = Assessment(Outcome(case["outcome"]), detail="before", agent_state=case.get("agent_state"))
    judged = with_answer(
        assessment, case["answered_with"], has_answer=case["has_answer"], ended_for=case["ended_for"]
    )
    assert judged.outcome is Outcome(case["expect"])
    if "expect_detail" in case:
        assert judged.detail == case["expect_detail"]


def _run_refine_v1_finished(case: dict[str, Any]) -> None:
    judged = refine_v1_finished(Assessment(Outcome(case["outcome"]), row=6), case["answered_with"])
    assert judged.outcome is Outcome(case["expect"])
    if "expect_detail" in case:
        assert judged.detail == case["expect_detail"]


def _run_events_prove_new_turn(case: dict[str, Any]) -> None:
    proved = events_prove_new_turn(_v1_events(case), case["status"], case["before_message_id"])
    assert proved is case["expect"]


def _run_needs_last_known(case: dict[str, Any]) -> None:
    assert needs_last_known(AppConversation.model_validate(case["conversation"])) is case["expect"]


def _run_last_known_execution_status(case: dict[str, Any]) -> None:
    assert last_known_execution_status(_v1_events(case)) == case["expect"]


def _run_needs_error_detail(case: dict[str, Any]) -> None:
    conversation = AppConversation.model_validate(case["conversation"])
    assessment = Assessment(Outcome(case["outcome"]))
    assert needs_error_detail(assessment, conversation, case["last_known"]) is case["expect"]


def _run_error_detail(case: dict[str, Any]) -> None:
    assert error_detail(_v1_events(case)) == case["expect"]


def _tracker_of(spec: dict[str, Any]) -> SettleTracker:
    if spec["kind"] == "plain":
        return SettleTracker()
    assert spec["kind"] == "after_message", f"unknown tracker kind {spec['kind']!r}"
    return SettleTracker.after_message(spec["before"], spec["before_message_id"], window=spec["window"])


def _run_settle(case: dict[str, Any]) -> None:
    tracker = _tracker_of(case["tracker"])
    for i, observation in enumerate(case["observations"]):
        if observation.get("confirm_before"):
            tracker.confirm()
        settled = tracker.observe(observation["status"], observation["at"])
        assert settled is observation["expect"], f"observation {i}"
        wants_proof = tracker.wants_proof(observation["status"], settled)
        assert wants_proof is observation["wants_proof"], f"observation {i}"


# ---------------------------------------------------------------------------- retry


def _policy(document: dict[str, Any], case: dict[str, Any]) -> RetryPolicy:
    return RetryPolicy(**{**document["policy"], **case.get("policy", {})})


def _request(spec: dict[str, Any]) -> Request:
    return Request(spec["method"], "/vector", idempotent=spec["idempotent"], deadline=spec.get("deadline"))


def _run_retry_after_response(document: dict[str, Any], case: dict[str, Any]) -> None:
    response = _response(case["response"])
    delay = _policy(document, case).delay_after_response(
        case["attempt"],
        _request(case["request"]),
        response.status_code,
        dict(case["response"].get("headers", {})),
        concurrency_limited=is_concurrency_limit(response),
        rand=case["rand"],
        now=case["now"],
        wall_now=case.get("wall_now"),
    )
    _close(delay, case["expect"])


def _run_retry_after_failure(document: dict[str, Any], case: dict[str, Any]) -> None:
    delay = _policy(document, case).delay_after_failure(
        case["attempt"],
        _request(case["request"]),
        FailureKind(case["failure"]),
        rand=case["rand"],
        now=case["now"],
    )
    _close(delay, case["expect"])


def _run_backoff(document: dict[str, Any], case: dict[str, Any]) -> None:
    _close(_policy(document, case).backoff(case["attempt"], case["rand"]), case["expect"])


def _run_retry_after(case: dict[str, Any]) -> None:
    _close(parse_retry_after(case["value"], wall_now=case["wall_now"]), case["expect"])


def _run_server_delay_hint(case: dict[str, Any]) -> None:
    _close(server_delay_hint(case["headers"], wall_now=case["wall_now"]), case["expect"])


# ---------------------------------------------------------------------------- error answers

ERROR_EXPECTATIONS = {"error", "status", "detail", "server_message", "retry_after", "limit", "current"}


def _run_error_from_response(case: dict[str, Any]) -> None:
    expect = case["expect"]
    _unknown_keys(expect, ERROR_EXPECTATIONS)
    request = Request(case["request"]["method"], case["request"]["path"])
    error = error_from_response(request, _response(case["response"]))
    assert type(error).__name__ == expect["error"]
    assert error.status_code == expect["status"]
    assert error.detail == expect["detail"]
    assert error.server_message == expect["server_message"]
    if "retry_after" in expect:
        assert isinstance(error, errors.RateLimitError)
        _close(error.retry_after, expect["retry_after"])
    for key in ("limit", "current"):
        if key in expect:
            assert getattr(error, key) == expect[key]


# ---------------------------------------------------------------------------- the runner table

Runner = Callable[[dict[str, Any], dict[str, Any]], None]


def _case_only(run: Callable[[dict[str, Any]], None]) -> Runner:
    return lambda _document, case: run(case)


RUNNERS: dict[str, Runner] = {
    "route.v0": lambda _document, case: _run_route(v0, case),
    "route.v1": lambda _document, case: _run_route(v1, case),
    "lifecycle.v0_row": _case_only(_run_v0_row),
    "lifecycle.v1_row": _case_only(_run_v1_row),
    "lifecycle.v1_start_task": _case_only(_run_v1_start_task),
    "lifecycle.restart_progress": _case_only(_run_restart_progress),
    "lifecycle.v0_page_state": _case_only(_run_v0_page_state),
    "lifecycle.with_answer": _case_only(_run_with_answer),
    "lifecycle.refine_v1_finished": _case_only(_run_refine_v1_finished),
    "lifecycle.events_prove_new_turn": _case_only(_run_events_prove_new_turn),
    "lifecycle.needs_last_known": _case_only(_run_needs_last_known),
    "lifecycle.last_known_execution_status": _case_only(_run_last_known_execution_status),
    "lifecycle.needs_error_detail": _case_only(_run_needs_error_detail),
    "lifecycle.error_detail": _case_only(_run_error_detail),
    "lifecycle.settle": _case_only(_run_settle),
    "retry.after_response": _run_retry_after_response,
    "retry.after_failure": _run_retry_after_failure,
    "retry.backoff": _run_backoff,
    "retry.retry_after": _case_only(_run_retry_after),
    "retry.server_delay_hint": _case_only(_run_server_delay_hint),
    "error.from_response": _case_only(_run_error_from_response),
}


@pytest.mark.parametrize(
    ("file", "document", "case"),
    _every_case(),
    ids=[f"{name}:{_kind(document, case)}:{case.get('name', '?')}" for name, document, case in _every_case()],
)
def test_vector(file: str, document: dict[str, Any], case: dict[str, Any]) -> None:
    kind = _kind(document, case)
    if kind not in RUNNERS:
        pytest.fail(
            f"{file}: case {case.get('name')!r} has kind {kind!r}, which the Python runner does not "
            "know: add its runner to tests/unit/test_vectors.py (and its shape to tests/vectors/README.md)"
        )
    RUNNERS[kind](document, case)


# ---------------------------------------------------------------------------- the files themselves


@pytest.mark.parametrize("file", sorted(FILES))
def test_vector_file_has_a_description_and_uniquely_named_cases(file: str) -> None:
    document = FILES[file]
    assert isinstance(document.get("description"), str)
    assert document["description"]
    cases = document.get("cases")
    assert isinstance(cases, list), "a vector file holds a list of cases"
    assert cases, "a vector file holds at least one case"
    assert all(isinstance(case.get("name"), str) and case["name"] for case in cases), "every case has a name"
    named = [(_kind(document, case), case["name"]) for case in cases]
    duplicates = sorted({pair for pair in named if named.count(pair) > 1}, key=str)
    assert not duplicates, f"(kind, name) pairs repeat within {file}: {duplicates}"


def test_the_readme_describes_every_kind() -> None:
    readme = (VECTORS / "README.md").read_text()
    assert [kind for kind in RUNNERS if f"`{kind}`" not in readme] == []


# ---------------------------------------------------------------------------- coverage of the rules


def test_every_v0_table_row_has_a_vector() -> None:
    assert {row.number for row in V0_ROWS} == {case["row"] for case in _cases_of("lifecycle.v0_row")}


def test_every_v1_table_row_has_a_vector() -> None:
    assert {row.number for row in V1_ROWS} == {case["row"] for case in _cases_of("lifecycle.v1_row")}


# Each rule of lifecycle.py (a function or class in its __all__) and the vector kind whose rows
# run it: its own, or the rule it is a step of. Data (the tables, facts and verdict types) has
# no rows of its own. A new rule fails this test until it has rows.
RULE_KINDS = {
    "agent_stepped": "lifecycle.v0_page_state",
    "classify_start_task": "lifecycle.v1_start_task",
    "classify_v0": "lifecycle.v0_row",
    "classify_v1": "lifecycle.v1_row",
    "error_detail": "lifecycle.error_detail",
    "events_prove_new_turn": "lifecycle.events_prove_new_turn",
    "is_runtime_failure": "lifecycle.v0_row",
    "last_known_execution_status": "lifecycle.last_known_execution_status",
    "needs_error_detail": "lifecycle.needs_error_detail",
    "needs_last_known": "lifecycle.needs_last_known",
    "newest_agent_state": "lifecycle.v0_row",
    "refine_v1_finished": "lifecycle.refine_v1_finished",
    "restart_progress": "lifecycle.restart_progress",
    "sandbox_runtime": "lifecycle.v1_row",
    "v0_page_state": "lifecycle.v0_page_state",
    "v0_runtime": "lifecycle.v0_row",
    "with_answer": "lifecycle.with_answer",
    "SettleTracker": "lifecycle.settle",
}
LIFECYCLE_DATA = {
    "V0_ROWS",
    "V1_ROWS",
    "Row",
    "V1Row",
    "AgentStateChange",
    "Assessment",
    "RestartProgress",
    "V0Facts",
    "V1Facts",
}


def test_every_rule_of_lifecycle_has_rows_in_the_vectors() -> None:
    from openhands_api.protocol import lifecycle

    public = set(lifecycle.__all__) | {
        name
        for name, value in vars(lifecycle).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and getattr(value, "__module__", None) == lifecycle.__name__
    }
    assert sorted(public - LIFECYCLE_DATA - RULE_KINDS.keys()) == []
    assert [name for name, kind in RULE_KINDS.items() if not _cases_of(kind)] == []


def test_every_runtime_failure_status_has_a_v0_row_vector() -> None:
    from openhands_api.protocol.lifecycle import RUNTIME_FAILURES

    failing = {
        case["info"]["runtime_status"]
        for case in _cases_of("lifecycle.v0_row")
        if case["info"] and case["outcome"] == "failed"
    }
    prefixed = {status for status in RUNTIME_FAILURES if status.startswith("STATUS$ERROR")}
    assert sorted(RUNTIME_FAILURES - prefixed - failing) == []  # each one the prefix does not catch


# Routes whose answer goes to a file the caller names: their request and streaming are tested in
# tests/unit/test_file_body.py and the e2e suite, not by a language-neutral vector.
STREAMED_ROUTES = {
    "route.v0": {"download_trajectory", "download_workspace"},
    "route.v1": {"download_conversation"},
}


@pytest.mark.parametrize("kind", sorted(ROUTE_MODULES))
def test_every_route_has_a_vector(kind: str) -> None:
    module = ROUTE_MODULES[kind]
    routes = {
        name
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__
        and not name.startswith("_")
        and "Call[" in str(inspect.signature(function).return_annotation)
    }
    covered = {case["route"] for case in _cases_of(kind)}
    assert sorted(routes - covered - STREAMED_ROUTES[kind]) == []


def test_every_restart_progress_value_has_a_vector() -> None:
    expected = {case["expect"] for case in _cases_of("lifecycle.restart_progress")}
    assert expected == {p.value for p in RestartProgress}


def test_v0_page_state_vectors_cover_deciding_inferred_and_undecided() -> None:
    expects = [case["expect"] for case in _cases_of("lifecycle.v0_page_state")]
    assert None in expects
    assert {e["inferred"] for e in expects if e is not None} == {True, False}


def test_the_vectors_answer_grace_is_the_clients() -> None:
    assert FILES["lifecycle_rules.json"]["answer_grace"] == ANSWER_GRACE


def test_with_answer_vectors_cover_the_grace_boundaries() -> None:
    cases = _cases_of("lifecycle.with_answer")
    waited = {case["ended_for"] for case in cases if not case["has_answer"]}
    assert None in waited
    assert ANSWER_GRACE in waited
    assert any(t is not None and 0 < t < ANSWER_GRACE for t in waited)
    assert {case["answered_with"] for case in cases} == {"finish", "message", None}


def test_events_prove_new_turn_vectors_have_both_answers() -> None:
    assert {case["expect"] for case in _cases_of("lifecycle.events_prove_new_turn")} == {True, False}


def test_settle_vectors_use_every_tracker_kind_and_the_default_window() -> None:
    specs = [case["tracker"] for case in _cases_of("lifecycle.settle")]
    assert {spec["kind"] for spec in specs} == {"plain", "after_message"}
    assert SettleTracker().window in {spec.get("window") for spec in specs}


def test_settle_vectors_ask_for_proof_only_of_candidate_statuses() -> None:
    asked = {
        o["status"]
        for case in _cases_of("lifecycle.settle")
        for o in case["observations"]
        if o["wants_proof"]
    }
    assert asked <= SETTLE_CANDIDATES
    assert {"finished", "idle", "error"} <= asked


def test_retry_vectors_name_every_failure_kind() -> None:
    named = {case["failure"] for case in _cases_of("retry.after_failure")}
    assert named == {kind.value for kind in FailureKind}


def test_retry_vectors_use_the_clients_default_policy() -> None:
    policy = RetryPolicy()
    assert FILES["retry.json"]["policy"] == {
        "max_retries": policy.max_retries,
        "initial_delay": policy.initial_delay,
        "max_delay": policy.max_delay,
        "max_retry_after": policy.max_retry_after,
    }


def test_an_unknown_kind_fails() -> None:
    """The rule that keeps the two clients' runners in step, checked on a made-up case."""
    with pytest.raises(pytest.fail.Exception, match="does not know"):
        test_vector("made_up.json", {"kind": "made.up"}, {"name": "x"})


def test_vector_files_are_the_readmes() -> None:
    lines = (VECTORS / "README.md").read_text().splitlines()
    listed = {line.split("`")[1] for line in lines if line.startswith("### `")}
    assert set(FILES) <= listed
