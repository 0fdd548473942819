"""protocol/raw.py: a raw request stays on the configured server, is retried as the library's
own routes are (reads yes, a POST only when it never left), and pages like both generations."""

from __future__ import annotations

import json

import pytest

from openhands_api import errors
from openhands_api.protocol.http import Emit
from openhands_api.protocol.raw import RawResponse, paginate, raw_request

BASE = "http://localhost:3000"


@pytest.mark.parametrize(
    ("given", "path"),
    [
        ("/api/conversations", "/api/conversations"),
        ("api/conversations", "/api/conversations"),
        ("@evil.example/x", "/@evil.example/x"),  # never the userinfo of the base URL
        (f"{BASE}/api/conversations", "/api/conversations"),
    ],
)
def test_a_path_is_always_one_of_the_configured_server(given: str, path: str) -> None:
    assert raw_request("GET", given, BASE).path == path


@pytest.mark.parametrize(
    "given", ["http://evil.example/api", "//evil.example/api", "https://localhost:3000/api", "/a\r\nb"]
)
def test_another_host_or_a_broken_path_is_refused(given: str) -> None:
    with pytest.raises(errors.InvalidInputError):
        raw_request("GET", given, BASE)


def test_reads_are_retried_and_writes_only_when_they_never_left() -> None:
    assert raw_request("get", "/x", BASE).idempotent
    assert raw_request("DELETE", "/x", BASE).idempotent
    for method in ("POST", "PUT", "PATCH"):
        assert not raw_request(method, "/x", BASE, json_body={}).idempotent
    with pytest.raises(errors.InvalidInputError):
        raw_request("FROB", "/x", BASE)


def test_a_path_s_own_query_and_the_params_go_together() -> None:
    request = raw_request("GET", "/api/conversations?limit=2", BASE, params={"flag": True, "none": None})
    assert request.params == (("limit", "2"), ("flag", "true"))


def _answer(body: object) -> RawResponse:
    return RawResponse(200, {"content-type": "application/json"}, json.dumps(body).encode())


@pytest.mark.parametrize("key", ["results", "items"])
def test_paginate_follows_next_page_id_as_page_id(key: str) -> None:
    op = paginate(raw_request("GET", "/list", BASE, params={"limit": 2}))
    pages = [
        {key: [1, 2], "next_page_id": "p2"},
        {key: [3], "next_page_id": "p3"},
        {key: [], "next_page_id": None},
    ]
    emitted, sent = [], []
    step = next(op)
    try:
        while True:
            if isinstance(step, Emit):
                emitted.append(step.item)
                step = op.send(None)
            else:
                sent.append(dict(step.request.params))
                step = op.send(_answer(pages[len(sent) - 1]))
    except StopIteration:
        pass
    assert emitted == [1, 2, 3]
    assert sent == [{"limit": "2"}, {"limit": "2", "page_id": "p2"}, {"limit": "2", "page_id": "p3"}]


def test_an_answer_that_is_no_listing_cannot_be_paged() -> None:
    op = paginate(raw_request("GET", "/one", BASE))
    next(op)
    with pytest.raises(errors.ProtocolError):
        op.send(_answer({"id": "x"}))


def test_the_keys_never_show_in_a_raw_answer() -> None:
    secret = "sk-secret-0123456789abcdef"
    answer = RawResponse(
        200, {"content-type": "application/json"}, json.dumps({"echo": secret}).encode(), (secret,)
    )
    assert secret not in answer.text
    assert secret not in json.dumps(answer.json())
