"""What a browser test needs from the fake: CORS on request (``cors_origin``, ``--cors``) and a page
served from the fake's own origin (``static_dir``, ``--static``, at ``/_fake/static/``)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from openhands_api.testing import FakeServerConfig, FaultRule
from openhands_api.testing.core.config import ConfigError
from tests.fake_server.conftest import MakeClient
from tests.fake_server.test_serve import read_hints, serving

PAGE_ORIGIN = "http://127.0.0.1:5173"
PREFLIGHT = {
    "Origin": PAGE_ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}

# ---------------------------------------------------------------------------- CORS


async def test_cors_is_off_by_default(make_client: MakeClient) -> None:
    client, _ = make_client()
    answer = await client.get("/api/options/config", headers={"Origin": PAGE_ORIGIN})
    assert answer.status_code == 200
    assert not [name for name in answer.headers if name.lower().startswith("access-control-")]
    preflight = await client.options("/api/conversations", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in preflight.headers


async def test_a_preflight_is_answered_with_what_a_client_sends(make_client: MakeClient) -> None:
    client, app = make_client(cors_origin=PAGE_ORIGIN, session_api_key="k")
    answer = await client.options("/api/conversations", headers=PREFLIGHT)
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == PAGE_ORIGIN
    methods = {m.strip() for m in answer.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST", "PATCH", "DELETE"} <= methods
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "x-session-api-key", "content-type"} <= allowed
    assert answer.headers["vary"] == "Origin"
    # The preflight carries no key, and needs none; it is not an API request either.
    assert [r for r in app.fake_state.requests if r.method == "OPTIONS"] == []


async def test_every_answer_allows_the_origin_and_exposes_rate_limit_hints(make_client: MakeClient) -> None:
    client, _ = make_client(cors_origin=PAGE_ORIGIN)
    for answer in (
        await client.get("/api/options/config", headers={"Origin": PAGE_ORIGIN}),
        await client.get("/api/conversations/" + "0" * 32 + "/events", headers={"Origin": PAGE_ORIGIN}),
    ):
        assert answer.headers["access-control-allow-origin"] == PAGE_ORIGIN
        exposed = {h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")}
        assert {"retry-after", "x-ratelimit-reset"} <= exposed


async def test_any_origin(make_client: MakeClient) -> None:
    client, _ = make_client(cors_origin="*")
    answer = await client.get("/api/options/config", headers={"Origin": "https://elsewhere.example"})
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "vary" not in answer.headers or "origin" not in answer.headers["vary"].lower()


async def test_injected_faults_carry_the_headers_so_a_page_sees_their_status(make_client: MakeClient) -> None:
    client, app = make_client(cors_origin="*")
    app.fake_state.faults.add(FaultRule("status", status=503, path="/api/options/config", retry_after="2"))
    answer = await client.get("/api/options/config", headers={"Origin": PAGE_ORIGIN})
    assert answer.status_code == 503
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["retry-after"] == "2"


async def test_an_options_request_that_is_not_a_preflight_reaches_the_app(make_client: MakeClient) -> None:
    client, _ = make_client(cors_origin="*")
    answer = await client.options("/api/conversations")
    assert answer.status_code == 405
    assert answer.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    "origin", ["", "127.0.0.1:5173", "ftp://x", "http://x/page", "http://x?q", "http://x:port", "http://u@x"]
)
def test_a_cors_origin_that_is_not_an_origin_is_refused(origin: str) -> None:
    with pytest.raises(ConfigError, match="cors_origin"):
        FakeServerConfig(cors_origin=origin)


@pytest.mark.parametrize(
    "origin", ["*", "http://127.0.0.1:5173", "https://app.example.com", "http://[::1]:8"]
)
def test_origins_and_any_are_accepted(origin: str) -> None:
    assert FakeServerConfig(cors_origin=origin).cors_origin == origin


# ---------------------------------------------------------------------------- static files


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text("<!doctype html><title>page</title>")
    (tmp_path / "app.mjs").write_text("export const answer = 42;\n")
    return tmp_path


async def test_static_files_are_served_from_the_fakes_origin(make_client: MakeClient, site: Path) -> None:
    client, app = make_client(static_dir=site, session_api_key="k", faults=[FaultRule("status", status=500)])
    module = await client.get("/_fake/static/app.mjs")
    assert module.status_code == 200
    assert module.text == "export const answer = 42;\n"
    assert module.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    page = await client.get("/_fake/static/")
    assert page.status_code == 200
    assert "<title>page</title>" in page.text
    # No key, no fault, no log: the page is not part of the API under test.
    assert app.fake_state.requests == []
    assert app.fake_state.faults.fired == []


async def test_a_missing_static_file_is_a_404(make_client: MakeClient, site: Path) -> None:
    client, _ = make_client(static_dir=site)
    assert (await client.get("/_fake/static/nothing.js")).status_code == 404
    assert (await client.get("/_fake/static/../../etc/passwd")).status_code == 404


async def test_without_static_dir_there_is_no_static_route(make_client: MakeClient) -> None:
    client, _ = make_client()
    assert (await client.get("/_fake/static/index.html")).status_code == 404


def test_a_static_dir_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="static_dir"):
        FakeServerConfig(static_dir=tmp_path / "missing")


# ---------------------------------------------------------------------------- serve flags


def test_serve_with_cors_and_static(site: Path) -> None:
    with serving("--cors", "*", "--static", str(site), "--no-rate-limit") as process:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        hints = read_hints(process)
        assert any("/_fake/static/" in line for line in hints)
        assert any("CORS" in line for line in hints)
        page = httpx.get(f"{url}/_fake/static/app.mjs", timeout=10)
        assert page.status_code == 200
        preflight = httpx.options(f"{url}/api/conversations", headers=PREFLIGHT, timeout=10)
        assert (preflight.status_code, preflight.headers["access-control-allow-origin"]) == (204, "*")


def test_serve_words_bad_browser_flags_as_flags(tmp_path: Path) -> None:
    from tests.fake_server.test_serve import serve

    bad_origin = serve("--cors", "localhost:3000")
    assert bad_origin.returncode == 2
    assert bad_origin.stderr.startswith("error: --cors localhost:3000 is not an origin")
    missing = serve("--static", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert f"--static {tmp_path / 'nope'} is not a directory" in missing.stderr
