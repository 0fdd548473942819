"""``openhands-api api``: any route, with the configured server, keys and retries (gh api)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from openhands_api import OpenHandsAPI
from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import invoke

Factory = Callable[..., FakeOpenHandsServer]
SESSION_KEY = "sk-apitest-0123456789abcdef0123456789"
ID_KEY = {"v0": "conversation_id", "v1": "id"}
# Each generation's listing and the key its items are under (CONTRACT §3.2, §4.1).
LISTING = {"v0": ("/api/conversations", "results"), "v1": ("/api/v1/app-conversations/search", "items")}


@pytest.fixture(params=["v0", "v1"])
def generation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(fake_openhands_factory: Factory, generation: str) -> FakeOpenHandsServer:
    return fake_openhands_factory(
        rate_limit=False, speed=50.0, generations=generation, session_api_key=SESSION_KEY
    )


def _env(server: FakeOpenHandsServer) -> dict[str, str]:
    return {"OPENHANDS_BASE_URL": server.base_url, "OPENHANDS_SESSION_API_KEY": SESSION_KEY}


def _create(server: FakeOpenHandsServer, count: int) -> list[str]:
    with OpenHandsAPI(base_url=server.base_url, session_api_key=SESSION_KEY) as api:
        return [api.create_conversation(f"Task {n}.").id for n in range(count)]


def _item_id(item: dict[str, str]) -> str:
    """A listed conversation's id, dashes dropped (V0 calls it conversation_id, V1 id)."""
    return (item.get("id") or item["conversation_id"]).replace("-", "")


def test_get_a_listing_with_a_query_field(server: FakeOpenHandsServer, generation: str) -> None:
    ids = _create(server, 3)
    path, key = LISTING[generation]
    ran = invoke("api", "GET", path, "-f", "limit=2", env=_env(server))
    assert ran.code == 0, ran.stderr
    page = json.loads(ran.stdout)
    assert len(page[key]) == 2
    assert {_item_id(item) for item in page[key]} <= {i.replace("-", "") for i in ids}
    assert ran.stdout.startswith("{\n")  # indented, as every --json of the CLI
    assert "limit=2" in server.state.requests[-1].path
    assert SESSION_KEY not in ran.stdout + ran.stderr


def test_post_creates_a_conversation_that_the_listing_then_shows(
    server: FakeOpenHandsServer, generation: str, tmp_path: Path
) -> None:
    if generation == "v0":  # fields are a POST's JSON body
        ran = invoke(
            "api", "POST", "/api/conversations", "-f", "initial_user_msg=Made via api.", env=_env(server)
        )
    else:  # a body with an object inside: --input (here from stdin)
        body = {"initial_message": {"role": "user", "content": [{"type": "text", "text": "Made via api."}]}}
        ran = invoke(
            "api",
            "POST",
            "/api/v1/app-conversations",
            "--input",
            "-",
            env=_env(server),
            stdin=json.dumps(body),
        )
    assert ran.code == 0, ran.stderr
    assert isinstance(json.loads(ran.stdout), dict)
    posts = [r for r in server.state.requests if r.method == "POST"]
    assert len(posts) == 1  # sent once
    deadline = time.monotonic() + 20
    path, key = LISTING[generation]
    while time.monotonic() < deadline:  # V1 lists it once its start task made it
        listed = json.loads(invoke("api", "GET", path, env=_env(server)).stdout)[key]
        if listed:
            break
        time.sleep(0.1)
    assert len(listed) == 1


def test_typed_fields_are_json_values_and_a_file_s_text(
    server: FakeOpenHandsServer, generation: str, tmp_path: Path
) -> None:
    (tmp_path / "title.txt").write_text("A title from a file")
    [cid] = _create(server, 1)
    title = "title=@" + str(tmp_path / "title.txt")
    if generation == "v0":
        ran = invoke("api", "PATCH", f"/api/conversations/{cid}", "-F", title, env=_env(server))
        assert (ran.code, ran.stdout.strip()) == (0, "true"), ran.stderr
    else:
        path = f"/api/v1/app-conversations/{cid}"
        ran = invoke("api", "PATCH", path, "-F", title, "-F", "public=true", env=_env(server))
        assert ran.code == 0, ran.stderr
        assert json.loads(ran.stdout)["public"] is True  # a JSON true, not "true"
    with OpenHandsAPI(base_url=server.base_url, session_api_key=SESSION_KEY) as api:
        assert api.get_conversation(cid).title == "A title from a file"
    path, key = LISTING[generation]
    ran = invoke("api", "GET", path, "-F", "limit=1", "--jq", f".{key} | length", env=_env(server))
    assert (ran.code, ran.stdout.strip()) == (0, "1"), ran.stderr


def test_paginate_merges_every_page_into_one_array(server: FakeOpenHandsServer, generation: str) -> None:
    ids = _create(server, 5)
    path, _ = LISTING[generation]
    ran = invoke("api", "GET", path, "-f", "limit=2", "--paginate", env=_env(server))
    assert ran.code == 0, ran.stderr
    items = json.loads(ran.stdout)
    assert isinstance(items, list)
    assert {_item_id(item) for item in items} == {i.replace("-", "") for i in ids}
    pages = [r for r in server.state.requests if r.method == "GET" and r.path.startswith(path)]
    assert len(pages) >= 3  # 5 items, 2 a page
    assert any("page_id=" in r.path for r in pages)


def test_jq_filters_the_answer(server: FakeOpenHandsServer, generation: str) -> None:
    ids = _create(server, 2)
    path, key = LISTING[generation]
    ran = invoke("api", "GET", path, "--jq", f".{key}[].{ID_KEY[generation]}", env=_env(server))
    assert ran.code == 0, ran.stderr
    assert {line.replace("-", "") for line in ran.stdout.split()} == {i.replace("-", "") for i in ids}
    ran = invoke("api", "GET", path, "--json", env=_env(server))
    assert ran.code == 2  # api prints the server's JSON: there are no fields to choose


def test_an_error_status_is_one_line_with_the_status_and_its_exit_code(
    server: FakeOpenHandsServer, generation: str
) -> None:
    path, _ = LISTING[generation]
    ran = invoke("api", "GET", "/api/no-such-route", env=_env(server))
    assert ran.code == 4  # 404: the code of "not found" (exit_code_for)
    assert ran.stdout == ""
    [line] = ran.stderr.strip().splitlines()
    assert line.startswith("error:")
    assert "HTTP 404" in line
    ran = invoke("api", "GET", path, "--debug", "-f", "limit=1", env=_env(server))
    assert SESSION_KEY not in ran.stdout + ran.stderr


def test_the_key_is_refused_for_another_host_and_nothing_is_sent(
    server: FakeOpenHandsServer, generation: str
) -> None:
    before = len(server.state.requests)
    ran = invoke("api", "GET", "http://elsewhere.test/api/conversations", env=_env(server))
    assert ran.code == 2
    assert "nothing was sent" in ran.stderr
    assert len(server.state.requests) == before
    path, _ = LISTING[generation]
    ran = invoke("api", "GET", server.base_url + path, "--jq", "length", env=_env(server))
    assert ran.code == 0, ran.stderr  # the configured server's own URL is a path there


def test_paginate_needs_a_get_and_fields_need_an_equals_sign(server: FakeOpenHandsServer) -> None:
    assert invoke("api", "POST", "/api/conversations", "--paginate", env=_env(server)).code == 2
    assert invoke("api", "GET", "/api/conversations", "-f", "limit", env=_env(server)).code == 2
    assert invoke("api", "GET", "/api/conversations", "-H", "no colon", env=_env(server)).code == 2
    assert invoke("api", "FROB", "/api/conversations", env=_env(server)).code == 2


def test_a_read_is_retried_and_a_post_that_may_have_arrived_is_not_sent_again(
    server: FakeOpenHandsServer, generation: str
) -> None:
    from openhands_api.testing import FaultRule

    path, _ = LISTING[generation]
    gateway = server.state.faults.add(FaultRule("status", method="GET", path=path, status=503, times=1))
    ran = invoke("api", "GET", path, env=_env(server))
    assert ran.code == 0, ran.stderr  # the gateway's 503 was retried
    assert _hits(server, gateway) == 1

    create = LISTING_CREATE[generation]
    reset = server.state.faults.add(FaultRule("reset_after", method="POST", path=create, times=None))
    body = {"initial_user_msg": "Once."} if generation == "v0" else {"initial_message": _message("Once.")}
    ran = invoke("api", "POST", create, "--input", "-", env=_env(server), stdin=json.dumps(body))
    assert ran.code == 7  # the connection broke after the server had the request
    assert "may have reached the server" in ran.stderr
    assert _hits(server, reset) == 1  # never sent twice


LISTING_CREATE = {"v0": "/api/conversations", "v1": "/api/v1/app-conversations"}


def _hits(server: FakeOpenHandsServer, rule_id: int) -> int:
    return next(status.hits for status in server.state.faults.rules if status.id == rule_id)


def _message(text: str) -> dict[str, object]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}
