"""Serving the fake: FakeOpenHandsServer over loopback, the serve command, the pytest
fixtures, the ``/_fake/`` control routes and the fault-injection hook."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from openhands_api.testing import FakeOpenHandsServer, ManualClock

from .conftest import MakeClient
from .helpers import create

FAST = {"speed": 20.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_state(base_url: str, conversation_id: str, wanted: set[str], timeout: float = 10.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = httpx.get(
            f"{base_url}/api/conversations/{conversation_id}/events", params={"reverse": "true", "limit": 20}
        ).json()["events"]
        states = [e["extras"]["agent_state"] for e in events if e.get("observation") == "agent_state_changed"]
        if states and states[0] in wanted:
            return list(events)
        time.sleep(0.05)
    raise AssertionError(f"no agent state in {wanted} within {timeout} s")


# ------------------------------------------------------------------------------ FakeOpenHandsServer
def test_server_serves_on_a_free_loopback_port_and_stops_cleanly() -> None:
    server = FakeOpenHandsServer().start()
    try:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert server.port > 0
        assert httpx.get(server.base_url + "/alive").json() == {"status": "ok"}
        assert server.running
    finally:
        server.stop()
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{server.port}/alive", timeout=2)


def test_server_is_a_context_manager_and_stop_is_idempotent() -> None:
    with FakeOpenHandsServer() as server:
        assert server.running
    assert not server.running
    server.stop()


def test_server_on_a_chosen_port() -> None:
    port = free_port()
    with FakeOpenHandsServer(port=port) as server:
        assert server.base_url == f"http://127.0.0.1:{port}"
        assert httpx.get(server.base_url + "/health").json() == "OK"


def test_server_exposes_state_and_config() -> None:
    with FakeOpenHandsServer(startup_delay=0.01, rate_limit=False) as server:
        assert server.config.startup_delay == 0.01
        created = httpx.post(server.base_url + "/api/conversations", json={"initial_user_msg": "hi"})
        conversation_id = created.json()["conversation_id"]
        assert server.state.create_calls == 1
        assert conversation_id in server.state.conversations
        records = list(server.state.requests)
        assert (records[-1].method, records[-1].path, records[-1].status) == (
            "POST",
            "/api/conversations",
            200,
        )
        assert records[-1].body_bytes == len(created.content)


def test_full_run_over_loopback_in_real_time() -> None:
    with FakeOpenHandsServer(**FAST) as server:
        created = httpx.post(
            server.base_url + "/api/conversations", json={"initial_user_msg": "go [fake-llm steps=3]"}
        )
        conversation_id = created.json()["conversation_id"]
        events = wait_for_state(server.base_url, conversation_id, {"finished"})
        assert events[1]["action"] == "finish"
        info = httpx.get(f"{server.base_url}/api/conversations/{conversation_id}").json()
        assert (info["status"], info["title"]) == ("RUNNING", "Fake title")
        assert server.state.conversation(conversation_id).agent_state == "finished"


def test_python_seeded_workspace_is_served_over_http() -> None:
    with FakeOpenHandsServer(**FAST) as server:
        server.state.seed_workspace({"src/app.py": "print(1)\n"})
        created = httpx.post(server.base_url + "/api/conversations", json={"initial_user_msg": "hi"})
        conversation_id = created.json()["conversation_id"]
        wait_for_state(server.base_url, conversation_id, {"finished"})
        response = httpx.get(
            f"{server.base_url}/api/conversations/{conversation_id}/select-file",
            params={"file": "src/app.py"},
        )
        assert response.json() == {"code": "print(1)\n"}


# ------------------------------------------------------------------------------ control routes
async def test_control_state_reports_conversations_and_counters(make_client: MakeClient) -> None:
    client, _ = make_client()
    conversation_id = await create(client)
    state = (await client.get("/_fake/state")).json()
    assert state["create_calls"] == 1
    assert state["settings_stored"] is True
    [summary] = state["conversations"]
    assert summary["conversation_id"] == conversation_id
    assert (summary["status"], summary["agent_state"], summary["events"]) == ("STARTING", "loading", 1)


async def test_control_reset_forgets_everything(make_client: MakeClient) -> None:
    client, app = make_client()
    await create(client)
    assert (await client.post("/_fake/reset")).json() == {"reset": True}
    assert app.fake_state.create_calls == 0
    assert (await client.get("/api/conversations")).json() == {"results": [], "next_page_id": None}


async def test_control_workspace_seeds_files_and_git_answers(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, _ = make_client()
    body = {
        "files": {"README.md": "# hi\n", "docs/": ""},
        "git_changes": [{"status": "A", "path": "README.md"}],
        "git_diffs": {"README.md": {"modified": "# hi\n", "original": ""}},
    }
    assert (await client.post("/_fake/workspace", json=body)).json() == {"files": ["README.md", "docs/"]}
    conversation_id = await create(client)
    clock.advance(5)
    base = f"/api/conversations/{conversation_id}"
    assert (await client.get(f"{base}/list-files")).json() == ["docs/", "README.md"]
    assert (await client.get(f"{base}/git/changes")).json() == [{"status": "A", "path": "README.md"}]
    assert (await client.get(f"{base}/git/diff", params={"path": "README.md"})).json()["original"] == ""


async def test_control_workspace_rejects_non_string_files(client: httpx.AsyncClient) -> None:
    assert (await client.post("/_fake/workspace", json={"files": {"a": 1}})).status_code == 422


async def test_control_forget_settings_makes_settings_404_and_create_400(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/settings")).status_code == 200
    await client.delete("/_fake/settings")
    response = await client.get("/api/settings")
    assert (response.status_code, response.json()) == (404, {"error": "Settings not found"})
    assert (await client.post("/api/conversations", json={"initial_user_msg": "x"})).status_code == 400


async def test_control_clock_advance_moves_a_manual_clock(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await create(client)
    before = clock.now()
    response = await client.post("/_fake/clock/advance", json={"seconds": 5})
    assert response.json() == {"now": pytest.approx(before + 5)}
    assert (await client.get(f"/api/conversations/{conversation_id}")).json()["status"] == "RUNNING"


def test_control_clock_advance_is_409_on_the_system_clock() -> None:
    with FakeOpenHandsServer() as server:
        response = httpx.post(server.base_url + "/_fake/clock/advance", json={"seconds": 1})
        assert response.status_code == 409


async def test_control_routes_are_not_logged_as_requests(make_client: MakeClient) -> None:
    client, app = make_client()
    await client.get("/_fake/state")
    await client.get("/alive")
    assert [r.path for r in app.fake_state.requests] == ["/alive"]


# ------------------------------------------------------------------------------ settings and options
async def test_settings_round_trip_hides_the_api_key(client: httpx.AsyncClient) -> None:
    stored = await client.post(
        "/api/settings", json={"llm_model": "openai/other", "llm_api_key": "sk-x", "agent": "CodeActAgent"}
    )
    assert stored.json() == {"message": "Settings stored"}
    settings = (await client.get("/api/settings")).json()
    assert settings["llm_model"] == "openai/other"
    assert settings["llm_api_key"] is None
    assert settings["llm_api_key_set"] is True
    assert list(settings)[:3] == ["language", "agent", "max_iterations"]
    assert list(settings)[-3:] == ["provider_tokens_set", "llm_api_key_set", "search_api_key_set"]


async def test_options_routes(client: httpx.AsyncClient) -> None:
    config = (await client.get("/api/options/config")).json()
    assert list(config) == ["APP_MODE", "GITHUB_CLIENT_ID", "POSTHOG_CLIENT_KEY", "FEATURE_FLAGS"]
    assert config["APP_MODE"] == "oss"
    assert "CodeActAgent" in (await client.get("/api/options/agents")).json()
    assert (await client.get("/api/options/security-analyzers")).json() == ["grayswan", "invariant", "llm"]
    assert isinstance((await client.get("/api/options/models")).json(), list)


async def test_health_routes(client: httpx.AsyncClient, clock: ManualClock) -> None:
    assert (await client.get("/alive")).json() == {"status": "ok"}
    assert (await client.get("/health")).json() == "OK"
    assert (await client.get("/ready")).json() == "OK"
    clock.advance(7)
    info = (await client.get("/server_info")).json()
    assert info["uptime"] == pytest.approx(7)
    assert set(info["resources"]) == {"cpu_percent", "memory", "disk", "io"}


# ------------------------------------------------------------------------------ fault hook
async def test_fault_hook_sees_requests_before_everything_else(make_client: MakeClient) -> None:
    client, app = make_client(session_api_key="k")
    seen: list[str] = []

    async def maintenance(scope: Scope, receive: Receive, send: Send, inner: ASGIApp) -> None:
        seen.append(scope["path"])
        if scope["path"].startswith("/api/"):
            await HTMLResponse("<h1>System Maintenance</h1>", status_code=500)(scope, receive, send)
        else:
            await inner(scope, receive, send)

    app.fake_state.fault_hook = maintenance
    response = await client.get("/api/conversations")  # no key: the hook answers before auth
    assert (response.status_code, response.headers["content-type"]) == (500, "text/html; charset=utf-8")
    assert (await client.get("/alive")).status_code == 200
    assert seen == ["/api/conversations", "/alive"]


# ------------------------------------------------------------------------------ command line
def _src_env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.timeout(60)
def test_serve_command_prints_the_base_url_serves_and_stops_on_sigterm() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "openhands_api.testing", "serve", "--port", str(port), "--speed", "10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_src_env(),
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line == f"http://127.0.0.1:{port}"
        assert httpx.get(line + "/alive").json() == {"status": "ok"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.timeout(60)
def test_serve_command_applies_its_options() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "openhands_api.testing", "serve", "--port", str(port),
         "--session-api-key", "k", "--no-rate-limit", "--startup-delay", "3"],
        stdout=subprocess.PIPE,
        text=True,
        env=_src_env(),
    )  # fmt: skip
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert httpx.get(base_url + "/api/conversations").status_code == 401
        config = httpx.get(base_url + "/_fake/state").json()["config"]
        assert (config["rate_limit"], config["startup_delay"]) == (False, 3.0)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_command_rejects_bad_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "openhands_api.testing", "serve", "--speed", "0"],
        capture_output=True,
        text=True,
        env=_src_env(),
        timeout=60,
    )
    assert result.returncode == 2
    assert "speed" in result.stderr


def test_serve_command_fails_with_1_when_the_port_is_taken() -> None:
    with FakeOpenHandsServer() as server:
        result = subprocess.run(
            [sys.executable, "-m", "openhands_api.testing", "serve", "--port", str(server.port)],
            capture_output=True,
            text=True,
            env=_src_env(),
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "cannot listen" in result.stderr


# ------------------------------------------------------------------------------ pytest plugin
def test_importing_the_pytest_plugin_does_not_import_fastapi() -> None:
    code = "import sys, openhands_api.testing.pytest_plugin; print('fastapi' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_src_env(), timeout=60
    )
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.timeout(120)
def test_pytest_fixtures_start_servers_and_stop_them_at_teardown(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(
        textwrap.dedent(
            """
            import httpx

            SEEN = []

            def test_fixture(fake_openhands):
                SEEN.append(fake_openhands)
                assert httpx.get(fake_openhands.base_url + "/alive").json() == {"status": "ok"}

            def test_factory(fake_openhands_factory):
                a = fake_openhands_factory(session_api_key="k")
                b = fake_openhands_factory(speed=5)
                SEEN.extend([a, b])
                assert httpx.get(a.base_url + "/api/conversations").status_code == 401
                assert b.config.speed == 5 and a.port != b.port

            def test_all_servers_were_stopped():
                assert len(SEEN) == 3
                assert not any(server.running for server in SEEN)
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_inner.py")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_src_env(),
        timeout=110,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_serve_manual_clock_holds_time_until_advanced_over_http() -> None:
    from openhands_api.testing.serving.cli import _parser, config_from_args

    config = config_from_args(_parser().parse_args(["serve", "--manual-clock", "--no-rate-limit"]))
    assert isinstance(config.clock, ManualClock)
    assert not isinstance(config_from_args(_parser().parse_args(["serve"])).clock, ManualClock)
    with FakeOpenHandsServer(config) as server:
        conversation_id = httpx.post(
            server.base_url + "/api/conversations", json={"initial_user_msg": "hi [fake-llm steps=100]"}
        ).json()["conversation_id"]
        time.sleep(config.startup_delay + 0.2)  # real time passes, simulated time does not
        state = httpx.get(server.base_url + "/_fake/state").json()["conversations"][0]
        assert state["status"] == "STARTING"
        seconds = config.startup_delay + 10 * config.step_delay + 0.001
        assert httpx.post(server.base_url + "/_fake/clock/advance", json={"seconds": seconds}).is_success
        state = httpx.get(server.base_url + "/_fake/state").json()["conversations"][0]
        assert state["conversation_id"] == conversation_id
        assert state["status"] == "RUNNING"
        # one more step's worth of simulated time: exactly one more step, two events
        events = state["events"]
        step = {"seconds": config.step_delay}
        assert httpx.post(server.base_url + "/_fake/clock/advance", json=step).is_success
        assert httpx.get(server.base_url + "/_fake/state").json()["conversations"][0]["events"] == events + 2
