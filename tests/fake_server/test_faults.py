"""Fault injection over loopback: every kind as a client sees it, against V0 and V1 routes,
matching (skip, times, probability, globs), chaos, ``/_fake/faults`` and refused connections.

Plain httpx and raw sockets. The servers are shared per module (starting one costs ~0.1 s);
every test starts from ``state.reset()``, which also restores the configured faults.
"""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from openhands_api.testing import Chaos, FakeOpenHandsServer, FaultRule

CREATE = "/api/conversations"
V1_START = "/api/v1/app-conversations"
V1_SEARCH = "/api/v1/app-conversations/search"
V1_START_BODY = {"initial_message": {"role": "user", "content": [{"type": "text", "text": "Say hello."}]}}
NO_CACHE = {
    "cache-control": "no-cache, no-store, must-revalidate, max-age=0",
    "pragma": "no-cache",
    "expires": "0",
}


@pytest.fixture(scope="module")
def v0_server() -> Iterator[FakeOpenHandsServer]:
    with FakeOpenHandsServer(rate_limit=False, speed=20) as server:
        yield server


@pytest.fixture(scope="module")
def v1_server() -> Iterator[FakeOpenHandsServer]:
    with FakeOpenHandsServer(rate_limit=False, speed=20, generations="v1") as server:
        yield server


@pytest.fixture(scope="module")
def cloud_server() -> Iterator[FakeOpenHandsServer]:
    with FakeOpenHandsServer(
        rate_limit=False, generations="v1", flavor="cloud", api_key="k", concurrency_limit=5
    ) as server:
        yield server


@pytest.fixture
def v0(v0_server: FakeOpenHandsServer) -> Iterator[FakeOpenHandsServer]:
    v0_server.state.reset()
    yield v0_server
    v0_server.state.reset()


@pytest.fixture
def v1(v1_server: FakeOpenHandsServer) -> Iterator[FakeOpenHandsServer]:
    v1_server.state.reset()
    yield v1_server
    v1_server.state.reset()


@pytest.fixture
def cloud(cloud_server: FakeOpenHandsServer) -> Iterator[FakeOpenHandsServer]:
    cloud_server.state.reset()
    yield cloud_server
    cloud_server.state.reset()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One client for the module: building one costs more than a request (its TLS context)."""
    with httpx.Client(timeout=5) as client:
        yield client


def create(http: httpx.Client, server: FakeOpenHandsServer, **kwargs: Any) -> httpx.Response:
    return http.post(server.base_url + CREATE, json={"initial_user_msg": "Say hello."}, **kwargs)


def start_v1(http: httpx.Client, server: FakeOpenHandsServer, **kwargs: Any) -> httpx.Response:
    return http.post(server.base_url + V1_START, json=V1_START_BODY, **kwargs)


def raw_request(method: str, path: str, body: bytes, *, close: bool) -> bytes:
    """One HTTP/1.1 request as bytes; ``close`` asks the server to end the connection after it."""
    connection = "Connection: close\r\n" if close else ""
    return (
        f"{method} {path} HTTP/1.1\r\nHost: fake\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{connection}\r\n"
    ).encode() + body


def raw_exchange(server: FakeOpenHandsServer, method: str, path: str, body: bytes = b"") -> bytes:
    """Send one request on a raw socket and return every byte until the server closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(raw_request(method, path, body, close=True))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def kept_alive_exchange(
    server: FakeOpenHandsServer, method: str, path: str, body: bytes = b""
) -> tuple[bytes, bool]:
    """Send one keep-alive request on a raw socket; return the answer and whether the server
    closed the connection after it (instead of keeping it for the next request)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(raw_request(method, path, body, close=False))
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        head = received.partition(b"\r\n\r\n")[0].lower().split(b"\r\n")
        (length,) = [int(line.split(b":")[1]) for line in head if line.startswith(b"content-length:")]
        while len(received.partition(b"\r\n\r\n")[2]) < length:
            received += sock.recv(65536)
        sock.settimeout(0.5)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
    return received, closed


# ------------------------------------------------------------------------------ resets
def test_reset_before_breaks_the_connection_after_sending_and_creates_nothing(
    http: httpx.Client,
    v0: FakeOpenHandsServer,
) -> None:
    v0.state.faults.add(FaultRule("reset_before", method="POST", path=CREATE))
    with pytest.raises(httpx.ReadError):
        create(http, v0)
    assert (v0.state.conversations, v0.state.create_calls) == ({}, 0)


def test_reset_after_creates_exactly_one_conversation_the_client_never_hears_of(
    http: httpx.Client,
    v0: FakeOpenHandsServer,
) -> None:
    v0.state.faults.add(FaultRule("reset_after", method="POST", path=CREATE))
    with pytest.raises(httpx.ReadError):
        create(http, v0)
    assert (len(v0.state.conversations), v0.state.create_calls) == (1, 1)


def test_reset_after_on_a_v1_start_leaves_exactly_one_start_task(
    http: httpx.Client, v1: FakeOpenHandsServer
) -> None:
    v1.state.faults.add(FaultRule("reset_after", method="POST", path=V1_START))
    with pytest.raises(httpx.ReadError):
        start_v1(http, v1)
    assert (len(v1.state.start_tasks), v1.state.start_calls) == (1, 1)


def test_reset_before_on_a_v1_start_leaves_no_start_task(http: httpx.Client, v1: FakeOpenHandsServer) -> None:
    v1.state.faults.add(FaultRule("reset_before", method="POST", path=V1_START))
    with pytest.raises(httpx.ReadError):
        start_v1(http, v1)
    assert (v1.state.start_tasks, v1.state.start_calls) == ({}, 0)


def test_a_reset_is_a_tcp_rst(v0: FakeOpenHandsServer) -> None:
    v0.state.faults.add(FaultRule("reset_before"))
    with pytest.raises(ConnectionResetError):
        raw_exchange(v0, "GET", "/alive")


# ------------------------------------------------------------------------------ slow
def test_slow_times_out_a_shorter_read_timeout_but_the_request_is_processed(
    http: httpx.Client, v0: FakeOpenHandsServer
) -> None:
    v0.state.faults.add(FaultRule("slow", method="POST", path=CREATE, delay=1.0))
    with pytest.raises(httpx.ReadTimeout):
        create(http, v0, timeout=0.2)
    assert len(v0.state.conversations) == 1


def test_slow_answer_arrives_after_the_delay(http: httpx.Client, v1: FakeOpenHandsServer) -> None:
    v1.state.faults.add(FaultRule("slow", path=V1_SEARCH, delay=0.3))
    began = time.monotonic()
    response = http.get(v1.base_url + V1_SEARCH, timeout=5)
    assert (response.status_code, response.json()) == (200, {"items": [], "next_page_id": None})
    assert time.monotonic() - began >= 0.3


# ------------------------------------------------------------------------------ status
def test_status_500_is_the_servers_plain_text_crash(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.add(FaultRule("status", status=500))
    response = http.get(v0.base_url + CREATE)
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "cache-control" not in response.headers


def test_status_500_closes_the_connection_after_answering_like_uvicorn(v0: FakeOpenHandsServer) -> None:
    """The real stack's plain 500 is an unhandled exception: Starlette answers and re-raises,
    then uvicorn closes the connection, without a ``Connection: close`` header."""
    answer, closed = kept_alive_exchange(v0, "GET", "/alive")
    assert answer.startswith(b"HTTP/1.1 200")
    assert not closed
    v0.state.faults.add(FaultRule("status", status=500))
    answer, closed = kept_alive_exchange(v0, "GET", "/alive")
    assert answer.startswith(b"HTTP/1.1 500")
    assert answer.endswith(b"Internal Server Error")
    assert b"connection: close" not in answer.lower()
    assert closed


def test_a_crash_of_a_route_closes_the_connection_too() -> None:
    with FakeOpenHandsServer(rate_limit=False, git_provider_token_configured=False) as server:
        body = json.dumps({"initial_user_msg": "Hi.", "repository": "octo/repo"}).encode()
        answer, closed = kept_alive_exchange(server, "POST", CREATE, body)
    assert answer.startswith(b"HTTP/1.1 500")
    assert answer.endswith(b"Internal Server Error")
    assert closed


@pytest.mark.parametrize(
    ("status", "title"),
    [(502, "502 Bad Gateway"), (503, "503 Service Temporarily Unavailable"), (504, "504 Gateway Time-out")],
)
def test_gateway_statuses_answer_the_gateways_html_page(
    http: httpx.Client, v1: FakeOpenHandsServer, status: int, title: str
) -> None:
    v1.state.faults.add(FaultRule("status", status=status, path="/api/v1/*"))
    response = http.get(v1.base_url + V1_SEARCH)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert f"<title>{title}</title>" in response.text
    assert "<center>nginx</center>" in response.text


def test_status_401_uses_the_self_hosted_body(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.add(FaultRule("status", status=401))
    response = http.get(v0.base_url + CREATE)
    assert (response.status_code, response.json()) == (401, {"detail": "Unauthorized"})


def test_status_401_uses_clouds_body_on_a_cloud_server(
    http: httpx.Client, cloud: FakeOpenHandsServer
) -> None:
    cloud.state.faults.add(FaultRule("status", status=401))
    response = http.get(cloud.base_url + V1_SEARCH, headers={"Authorization": "Bearer k"})
    assert (response.status_code, response.json()) == (401, {"error": "failed to authenticate"})


@pytest.mark.parametrize(("status", "detail"), [(403, "Forbidden"), (404, "Not Found")])
def test_client_error_statuses_answer_fastapis_detail_with_the_apps_headers(
    http: httpx.Client, v0: FakeOpenHandsServer, status: int, detail: str
) -> None:
    v0.state.faults.add(FaultRule("status", status=status))
    response = http.get(v0.base_url + CREATE)
    assert (response.status_code, response.json()) == (status, {"detail": detail})
    assert {name: response.headers[name] for name in NO_CACHE} == NO_CACHE


def test_status_can_carry_retry_after(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.add(FaultRule("status", status=503, retry_after="3"))
    assert http.get(v0.base_url + "/alive").headers["retry-after"] == "3"


def test_a_status_fault_is_not_processed(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.add(FaultRule("status", status=503, method="POST", path=CREATE))
    assert create(http, v0).status_code == 503
    assert (v0.state.conversations, v0.state.create_calls, v0.state.requests) == ({}, 0, [])


# ------------------------------------------------------------------------------ html
def test_html_answers_a_maintenance_page_with_500(http: httpx.Client, v1: FakeOpenHandsServer) -> None:
    v1.state.faults.add(FaultRule("html"))
    response = http.get(v1.base_url + V1_SEARCH)
    assert (response.status_code, response.headers["content-type"]) == (500, "text/html; charset=utf-8")
    assert "<title>System Maintenance</title>" in response.text


def test_html_can_answer_200(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.add(FaultRule("html", status=200))
    response = create(http, v0)
    assert (response.status_code, response.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert v0.state.conversations == {}


# ------------------------------------------------------------------------------ truncated_json
def test_truncated_json_is_a_complete_answer_whose_json_does_not_parse(
    http: httpx.Client, v0: FakeOpenHandsServer
) -> None:
    v0.state.faults.add(FaultRule("truncated_json", method="POST", path=CREATE))
    response = create(http, v0)
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_truncated_json_comes_after_the_request_was_processed(
    http: httpx.Client, v0: FakeOpenHandsServer
) -> None:
    v0.state.faults.add(FaultRule("truncated_json", method="POST", path=CREATE))
    text = create(http, v0).text
    (conversation_id,) = v0.state.conversations
    assert text == f'{{"status":"ok","conversation_id":"{conversation_id}'[: len(text)]


def test_truncated_json_is_half_the_body_ended_by_closing_the_connection(v0: FakeOpenHandsServer) -> None:
    whole = raw_exchange(v0, "GET", "/alive")
    v0.state.faults.add(FaultRule("truncated_json", path="/alive"))
    head, _, body = raw_exchange(v0, "GET", "/alive").partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    assert lines[0] == b"http/1.1 200 ok"
    assert b"connection: close" in lines
    assert not [line for line in lines if line.startswith((b"content-length", b"transfer-encoding"))]
    assert body == b'{"status"'[: len(body)]
    assert len(body) == len(whole.partition(b"\r\n\r\n")[2]) // 2


def test_truncated_json_on_a_v1_route(http: httpx.Client, v1: FakeOpenHandsServer) -> None:
    v1.state.faults.add(FaultRule("truncated_json", path=V1_SEARCH))
    assert http.get(v1.base_url + V1_SEARCH).text == '{"items":[],"next_page_id":null}'[:16]


# ------------------------------------------------------------------------------ wrong_shape
def test_wrong_shape_answers_200_json_of_another_shape_after_processing(
    http: httpx.Client, v0: FakeOpenHandsServer
) -> None:
    v0.state.faults.add(FaultRule("wrong_shape", method="POST", path=CREATE))
    response = create(http, v0)
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    assert response.json() == {"unexpected": True}
    assert len(v0.state.conversations) == 1


def test_wrong_shape_sends_the_given_body(http: httpx.Client, v1: FakeOpenHandsServer) -> None:
    v1.state.faults.add(FaultRule("wrong_shape", path=V1_SEARCH, body=[]))
    assert http.get(v1.base_url + V1_SEARCH).json() == []


# ------------------------------------------------------------------------------ rate_limit
def test_rate_limit_answers_the_self_hosted_429_without_retry_after_by_default(
    http: httpx.Client, v0: FakeOpenHandsServer
) -> None:
    v0.state.faults.add(FaultRule("rate_limit"))
    response = http.get(v0.base_url + CREATE)
    assert (response.status_code, response.json()) == (429, {"message": "Too many requests"})
    assert not {"retry-after", "x-ratelimit-limit"} & set(response.headers)


def test_rate_limit_sends_retry_after_seconds(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.add(FaultRule("rate_limit", retry_after="2"))
    assert http.get(v0.base_url + CREATE).headers["retry-after"] == "2"


def test_rate_limit_sends_an_http_date_and_a_matching_reset(
    http: httpx.Client, v0: FakeOpenHandsServer
) -> None:
    when = int(time.time()) + 30
    date = email.utils.formatdate(when, usegmt=True)
    v0.state.faults.add(FaultRule("rate_limit", retry_after=date, ratelimit_headers=True))
    response = http.get(v0.base_url + CREATE)
    assert (response.headers["retry-after"], response.headers["x-ratelimit-reset"]) == (date, str(when))


def test_rate_limit_on_cloud_uses_clouds_body_and_ratelimit_headers(
    http: httpx.Client, cloud: FakeOpenHandsServer
) -> None:
    cloud.state.faults.add(FaultRule("rate_limit", retry_after="2", ratelimit_headers=True))
    before = time.time()
    response = http.get(cloud.base_url + V1_SEARCH, headers={"Authorization": "Bearer k"})
    assert (response.status_code, response.json()) == (429, {"error": "Rate limit exceeded: 10 per 1 second"})
    headers = response.headers
    assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"], headers["retry-after"]) == (
        "10",
        "0",
        "2",
    )
    assert before + 2 <= int(headers["x-ratelimit-reset"]) <= time.time() + 3


def test_a_rate_limit_fault_is_not_processed(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.add(FaultRule("rate_limit", method="POST"))
    assert create(http, v0).status_code == 429
    assert v0.state.create_calls == 0


# ------------------------------------------------------------------------------ concurrency_limit
def test_concurrency_limit_answers_v1s_429_and_starts_nothing(
    http: httpx.Client, v1: FakeOpenHandsServer
) -> None:
    v1.state.faults.add(FaultRule("concurrency_limit", method="POST", path=V1_START))
    response = start_v1(http, v1)
    assert response.status_code == 429
    detail = response.json()["detail"]
    assert (detail["error"], detail["limit"], detail["current"]) == ("CONCURRENCY_LIMIT_REACHED", 3, 3)
    assert "maximum of 3 concurrent conversations" in detail["message"]
    assert v1.state.start_calls == 0


def test_concurrency_limit_reports_the_configured_limit(
    http: httpx.Client, cloud: FakeOpenHandsServer
) -> None:
    cloud.state.faults.add(FaultRule("concurrency_limit"))
    response = start_v1(http, cloud, headers={"Authorization": "Bearer k"})
    assert (response.json()["detail"]["limit"], response.json()["detail"]["current"]) == (5, 5)


# ------------------------------------------------------------------------------ matching
def test_skip_lets_the_first_matching_requests_through(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.add(FaultRule("status", status=401, path=CREATE, skip=2))
    statuses = [http.get(v0.base_url + CREATE).status_code for _ in range(4)]
    assert statuses == [200, 200, 401, 200]


def test_times_counts_the_requests_hit(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.add(FaultRule("status", status=503, times=2))
    assert [http.get(v0.base_url + "/alive").status_code for _ in range(3)] == [503, 503, 200]


def test_times_none_hits_every_matching_request(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.add(FaultRule("status", status=503, times=None))
    assert {http.get(v0.base_url + "/alive").status_code for _ in range(5)} == {503}


def test_path_globs_match_the_path_without_query(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    conversation_id = create(http, v0).json()["conversation_id"]
    v0.state.faults.add(FaultRule("status", status=503, path="/api/conversations/*/events", times=None))
    base = f"{v0.base_url}{CREATE}/{conversation_id}"
    assert http.get(base + "/events", params={"limit": 5}).status_code == 503
    assert http.get(base).status_code == 200


def test_method_narrows_a_rule(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.add(FaultRule("status", status=503, method="post", path=CREATE, times=None))
    assert http.get(v0.base_url + CREATE).status_code == 200
    assert create(http, v0).status_code == 503


def test_probability_draws_repeat_for_the_same_seed(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    def pattern() -> list[int]:
        v0.state.faults.add(FaultRule("status", status=503, times=None, probability=0.5))
        return [http.get(v0.base_url + "/alive").status_code for _ in range(16)]

    first = pattern()
    v0.state.reset()  # re-seeds the generator
    assert pattern() == first
    assert set(first) == {200, 503}


def test_control_routes_are_never_faulted(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.add(FaultRule("reset_before", times=None))
    assert http.get(v0.base_url + "/_fake/state").status_code == 200
    assert http.get(v0.base_url + "/_fake/faults").json()["fired"] == []


def test_fired_faults_are_logged(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    rule_id = v0.state.faults.add(FaultRule("status", status=502, path=CREATE))
    before = time.time()
    http.get(v0.base_url + CREATE, params={"limit": 1})
    (record,) = v0.state.faults.fired
    assert (record.rule_id, record.fault, record.method, record.path, record.status) == (
        rule_id,
        "status",
        "GET",
        CREATE,
        502,
    )
    assert before <= record.when <= time.time()


# ------------------------------------------------------------------------------ chaos
def chaos_run(server: FakeOpenHandsServer, count: int = 30) -> list[tuple[str, int | None]]:
    # A new connection per request: after a 500 the server closes the connection, and a kept-
    # alive one could lose the next request to that race, changing the sequence the seed sees.
    with httpx.Client(base_url=server.base_url, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        for _ in range(count):
            with contextlib.suppress(httpx.TransportError):
                client.get("/alive")
    return [(record.fault, record.status) for record in server.state.faults.fired]


def test_chaos_faults_repeat_for_a_seed_and_a_request_sequence(v0: FakeOpenHandsServer) -> None:
    v0.state.faults.chaos = Chaos(0.5, seed=7)
    first = chaos_run(v0)
    v0.state.faults.clear()
    v0.state.faults.chaos = Chaos(0.5, seed=7)
    assert chaos_run(v0) == first
    assert len({fault for fault, _ in first}) >= 3


def test_chaos_draws_from_its_faults_and_statuses(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.chaos = Chaos(1.0, faults=("status",), statuses=(502, 504), seed=1)
    statuses = {http.get(v0.base_url + "/alive").status_code for _ in range(12)}
    assert statuses == {502, 504}


def test_chaos_only_hits_its_paths_and_methods(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.chaos = Chaos(1.0, faults=("status",), paths=("/api/*",), methods=("POST",))
    assert http.get(v0.base_url + CREATE).status_code == 200
    assert http.get(v0.base_url + "/alive").status_code == 200
    assert create(http, v0).status_code >= 500


def test_chaos_can_be_switched_off(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.chaos = Chaos(1.0, faults=("status",))
    v0.state.faults.chaos = None
    assert http.get(v0.base_url + "/alive").status_code == 200


# ------------------------------------------------------------------------------ /_fake/faults
def test_post_fake_faults_adds_a_rule(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    response = http.post(
        v0.base_url + "/_fake/faults", json={"fault": "status", "status": 503, "path": CREATE}
    )
    assert response.json() == {"id": v0.state.faults.rules[0].id}
    assert http.get(v0.base_url + CREATE).status_code == 503


def test_get_fake_faults_lists_rules_counters_chaos_and_the_log(
    http: httpx.Client, v0: FakeOpenHandsServer
) -> None:
    rule_id = v0.state.faults.add(FaultRule("html", path="/alive", times=2))
    http.get(v0.base_url + "/alive")
    listing = http.get(v0.base_url + "/_fake/faults").json()
    (rule,) = listing["rules"]
    assert (rule["id"], rule["fault"], rule["status"], rule["times"], rule["matched"], rule["hits"]) == (
        rule_id,
        "html",
        500,
        2,
        1,
        1,
    )
    assert listing["chaos"] is None
    assert [(r["rule_id"], r["fault"], r["path"]) for r in listing["fired"]] == [(rule_id, "html", "/alive")]


def test_delete_fake_faults_clears_rules_and_chaos(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    v0.state.faults.add(FaultRule("status", times=None))
    v0.state.faults.chaos = Chaos(1.0)
    assert http.delete(v0.base_url + "/_fake/faults").status_code == 200
    assert v0.state.faults.rules == []
    assert v0.state.faults.chaos is None
    assert http.get(v0.base_url + "/alive").status_code == 200


def test_delete_one_fault_rule_by_id(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    keep = v0.state.faults.add(FaultRule("status", path="/keep"))
    drop = v0.state.faults.add(FaultRule("status", path="/drop"))
    assert http.delete(f"{v0.base_url}/_fake/faults/{drop}").json() == {"removed": drop}
    assert [rule.id for rule in v0.state.faults.rules] == [keep]
    assert http.delete(f"{v0.base_url}/_fake/faults/{drop}").status_code == 404


def test_an_invalid_rule_is_refused_with_422(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    response = http.post(v0.base_url + "/_fake/faults", json={"fault": "slow"})
    assert response.status_code == 422
    assert "delay" in response.json()["error"]


def test_chaos_is_switched_on_and_off_over_http(http: httpx.Client, v0: FakeOpenHandsServer) -> None:
    body = {"probability": 1.0, "faults": ["status"], "statuses": [503], "seed": 3}
    assert http.put(v0.base_url + "/_fake/faults/chaos", json=body).status_code == 200
    assert http.get(v0.base_url + "/alive").status_code == 503
    assert http.delete(v0.base_url + "/_fake/faults/chaos").json() == {"chaos": None}
    assert http.get(v0.base_url + "/alive").status_code == 200


# ------------------------------------------------------------------------------ configuration
def test_configured_faults_act_from_the_start_and_come_back_with_reset(http: httpx.Client) -> None:
    rule = FaultRule("status", status=503, path="/alive")
    with FakeOpenHandsServer(faults=[rule]) as server:
        assert http.get(server.base_url + "/alive").status_code == 503
        assert http.get(server.base_url + "/alive").status_code == 200
        http.post(server.base_url + "/_fake/reset")
        assert http.get(server.base_url + "/alive").status_code == 503


def test_configured_chaos_acts_from_the_start(http: httpx.Client) -> None:
    chaos = Chaos(1.0, faults=("status",), statuses=(504,))
    with FakeOpenHandsServer(chaos=chaos) as server:
        assert http.get(server.base_url + "/alive").status_code == 504


# ------------------------------------------------------------------------------ refused connections
def test_refused_connections_fail_to_connect_then_the_same_port_serves_again(http: httpx.Client) -> None:
    with FakeOpenHandsServer() as server:
        port = server.port
        server.refuse_connections(0.2)
        with pytest.raises(httpx.ConnectError):
            http.get(server.base_url + "/alive")
        time.sleep(0.3)
        assert http.get(f"http://127.0.0.1:{port}/alive").status_code == 200


def test_refusing_closes_idle_keep_alive_connections() -> None:
    with FakeOpenHandsServer() as server, httpx.Client(base_url=server.base_url) as client:
        assert client.get("/alive").status_code == 200  # leaves a pooled connection
        server.refuse_connections(5)
        with pytest.raises(httpx.ConnectError):
            client.get("/alive")
        server.accept_connections()
        assert client.get("/alive").status_code == 200


def test_connections_are_refused_on_request_over_http(http: httpx.Client) -> None:
    with FakeOpenHandsServer() as server:
        response = http.post(server.base_url + "/_fake/refuse_connections", json={"seconds": 5})
        assert response.json() == {"refusing": 5.0}
        with pytest.raises(httpx.ConnectError):
            http.get(server.base_url + "/alive")
        server.accept_connections()
        assert http.delete(server.base_url + "/_fake/refuse_connections").json() == {"refusing": None}


def test_a_refusing_server_stops_cleanly() -> None:
    server = FakeOpenHandsServer().start()
    server.refuse_connections(30)
    began = time.monotonic()
    server.stop()
    assert not server.running
    assert time.monotonic() - began < 2


# ---------------------------------------------------------------------------- hostile-network kinds


def test_trickle_sends_the_real_answer_a_byte_at_a_time(v0: FakeOpenHandsServer) -> None:
    v0.state.faults.add(FaultRule("trickle", method="GET", path=CREATE, delay=0.05))
    chunks: list[bytes] = []
    started = time.monotonic()
    with httpx.Client(timeout=5) as client, client.stream("GET", v0.base_url + CREATE) as response:
        chunks.extend(response.iter_raw())
    body = b"".join(chunks)
    assert json.loads(body) == {"results": [], "next_page_id": None}
    assert max(len(chunk) for chunk in chunks) == 1
    assert time.monotonic() - started >= 0.05 * (len(body) - 1) * 0.8


def test_corrupt_gzip_keeps_the_status_and_fails_decoding(
    v0: FakeOpenHandsServer, http: httpx.Client
) -> None:
    v0.state.faults.add(FaultRule("corrupt_gzip", method="GET", path=CREATE))
    with http.stream("GET", v0.base_url + CREATE) as response:
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        with pytest.raises(httpx.DecodingError):
            response.read()


def test_oversize_answers_a_valid_json_object_of_the_given_size(
    v0: FakeOpenHandsServer, http: httpx.Client
) -> None:
    v0.state.faults.add(FaultRule("oversize", method="GET", path=CREATE, size=3_000_000))
    response = http.get(v0.base_url + CREATE)
    assert response.status_code == 200
    assert len(response.content) == 3_000_000
    assert set(response.json()) == {"padding"}


def test_gzip_bomb_inflates_far_beyond_what_was_sent(v1: FakeOpenHandsServer, http: httpx.Client) -> None:
    v1.state.faults.add(FaultRule("gzip_bomb", method="GET", path=V1_SEARCH, size=8 * 1024 * 1024))
    with http.stream("GET", v1.base_url + V1_SEARCH) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    inflated = gzip.decompress(raw)
    assert len(inflated) == 8 * 1024 * 1024
    assert len(raw) * 100 < len(inflated)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"fault": "trickle", "delay": 0}, "delay=SECONDS"),
        ({"fault": "oversize", "size": 0}, "size=BYTES"),
        ({"fault": "slow", "delay": 1, "size": 5}, "size applies"),
    ],
)
def test_hostile_kinds_check_their_parameters(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultRule.from_json(rule)
