"""V1 over loopback and from the outside: the scenario, stream-start in real time, the serve
command, ``/_fake/state``, users/me and settings, the Python state surface, pure parts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import pytest

from openhands_api.testing import FakeOpenHandsServer, FakeServerConfig, ManualClock
from openhands_api.testing.core.directives import StartDirectives, parse_start_directives
from openhands_api.testing.core.scheduler import Process, Scheduler

from .conftest import MakeClient
from .test_server import _src_env, free_port
from .v1_helpers import ONE_STEP_RUN, RUN_TIME, V1, conversation, ready, run
from .v1_scenario import run_scenario


# ------------------------------------------------------------------------------ loopback
@pytest.mark.timeout(60)
def test_scenario_runs_against_the_fake_over_loopback() -> None:
    """The scenario compared with a real 1.11.0 server (see ``v1_scenario.py``) runs here too."""
    with FakeOpenHandsServer(rate_limit=False, **V1) as server:
        steps = {step["step"]: step for step in run_scenario(server.base_url, pace=0.01, settle=0.01)}
    assert steps["events after the first run"]["kinds"] == ONE_STEP_RUN
    assert steps["send-message while paused"]["status"] == 409
    assert steps["conversation resumed"]["live"] == {
        "sandbox_status": "RUNNING",
        "execution_status": "finished",
    }
    assert steps["download"]["entries"] == ["meta.json", "event_NNNNNN_<uuid>.json"]
    assert steps["download"]["entries_match_events"] is True
    assert (steps["conversation deleted"]["value"], steps["delete again"]["status"]) == ([None], 404)


@pytest.mark.timeout(60)
def test_stream_start_streams_in_real_time_over_loopback() -> None:
    with FakeOpenHandsServer(start_task_delay=0.3, **V1) as server:
        chunks = []
        body = {"initial_message": {"content": [{"type": "text", "text": "hi"}]}}
        with httpx.stream(
            "POST", server.base_url + "/api/v1/app-conversations/stream-start", json=body
        ) as response:
            for chunk in response.iter_text():
                chunks.append(chunk)
        items = json.loads("".join(chunks))
    assert items[-1]["status"] == "READY"
    assert len(chunks) >= 3  # "[\n", snapshots as they happen, "]"


# ------------------------------------------------------------------------------ the serve command
@pytest.mark.timeout(60)
def test_serve_command_serves_v1_with_its_options() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "openhands_api.testing", "serve", "--port", str(port), "--generations", "v1",
         "--flavor", "cloud", "--concurrency-limit", "2", "--webhook-flush-delay", "1.5"],
        stdout=subprocess.PIPE,
        text=True,
        env=_src_env(),
    )  # fmt: skip
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert httpx.get(base_url + "/api/v1/app-conversations/search").status_code == 200
        assert httpx.get(base_url + "/api/conversations").headers["content-type"].startswith("text/html")
        config = httpx.get(base_url + "/_fake/state").json()["config"]
        assert (config["generations"], config["flavor"]) == ("v1", "cloud")
        assert (config["concurrency_limit"], config["webhook_flush_delay"]) == (2, 1.5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_command_rejects_cloud_with_v0() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "openhands_api.testing", "serve", "--flavor", "cloud"],
        capture_output=True,
        text=True,
        env=_src_env(),
        timeout=60,
    )
    assert result.returncode == 2
    assert "cloud" in result.stderr


# ------------------------------------------------------------------------------ control surface
async def test_fake_state_reports_v1(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(**V1)
    conversation_id = await run(client, clock)
    state = (await client.get("/_fake/state")).json()
    v1 = state["v1"]
    assert v1["start_calls"] == 1
    assert v1["start_tasks"][0]["status"] == "READY"
    summary = v1["conversations"][0]
    assert (summary["id"], summary["execution_status"], summary["sandbox_status"]) == (
        conversation_id,
        "finished",
        "RUNNING",
    )
    assert summary["events"] == len(ONE_STEP_RUN)
    assert v1["sandboxes"] == [{"id": summary["sandbox_id"], "status": "RUNNING"}]


async def test_python_state_surface_for_v1(make_client: MakeClient, clock: ManualClock) -> None:
    client, app = make_client(**V1)
    conversation_id = await ready(client, clock)
    state = app.fake_state
    assert state.start_calls == 1
    dashed = (
        f"{conversation_id[:8]}-{conversation_id[8:12]}-{conversation_id[12:16]}-{conversation_id[16:20]}-"
    )
    assert state.app_conversation(dashed + conversation_id[20:]).execution_status in ("running", "finished")
    clock.advance(RUN_TIME)
    assert state.app_conversations[conversation_id].execution_status == "finished"
    assert next(iter(state.start_tasks.values())).status == "READY"
    state.reset()
    assert (state.start_calls, state.app_conversations) == (0, {})
    assert (await client.get("/api/v1/app-conversations", params={"ids": conversation_id})).json() == [None]


async def test_control_route_rejects_unknown_sandboxes_and_statuses(make_client: MakeClient) -> None:
    client, _ = make_client(**V1)
    assert (await client.post("/_fake/v1/sandboxes/nope/status", json={"status": "ERROR"})).status_code == 404
    assert (
        await client.post("/_fake/v1/sandboxes/nope/status", json={"status": "BROKEN"})
    ).status_code == 422


async def test_sandbox_error_then_running_thaws_the_agent(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, app = make_client(**V1)
    conversation_id = await ready(client, clock, "go [fake-llm delay=1]")
    sandbox_id = (await conversation(client, conversation_id))["sandbox_id"]
    app.fake_state.set_sandbox_status(sandbox_id, "ERROR")
    data = await conversation(client, conversation_id)
    assert (data["sandbox_status"], data["execution_status"]) == ("ERROR", None)
    app.fake_state.set_sandbox_status(sandbox_id, "RUNNING")
    clock.advance(RUN_TIME)
    assert (await conversation(client, conversation_id))["execution_status"] == "finished"


# ------------------------------------------------------------------------------ user and settings
async def test_users_me_masks_the_llm_key(make_client: MakeClient) -> None:
    client, _ = make_client(**V1)
    me = (await client.get("/api/v1/users/me")).json()
    assert me["agent_settings"]["llm"]["model"] == "openai/fake"
    assert me["agent_settings"]["llm"]["api_key"] == "**********"
    assert list(me)[-1] == "id"
    assert me["id"] is None


async def test_settings_round_trip_through_the_v1_routes(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(**V1)
    body = {
        "agent_settings_diff": {
            "llm": {"model": "openai/other", "base_url": "http://llm/v1", "api_key": "sk"}
        }
    }
    assert (await client.post("/api/v1/settings", json=body)).json() == {"message": "Settings stored"}
    settings = (await client.get("/api/v1/settings")).json()
    llm = settings["agent_settings"]["llm"]
    assert (llm["model"], llm["base_url"], llm["api_key"]) == ("openai/other", "http://llm/v1", None)
    assert settings["llm_api_key_set"] is True
    assert list(settings)[-3:] == ["provider_tokens_set", "llm_api_key_set", "search_api_key_set"]
    assert (await conversation(client, await ready(client, clock, None)))["llm_model"] == "openai/other"


async def test_settings_reject_legacy_nested_keys(make_client: MakeClient) -> None:
    client, _ = make_client(**V1)
    response = await client.post("/api/v1/settings", json={"agent_settings": {}})
    assert (response.status_code, response.json()) == (
        422,
        {"error": "Use *_diff nested settings payloads instead of legacy keys", "keys": ["agent_settings"]},
    )


async def test_settings_before_the_first_save_are_404(make_client: MakeClient) -> None:
    client, _ = make_client(settings_stored=False, **V1)
    response = await client.get("/api/v1/settings")
    assert (response.status_code, response.json()) == (404, {"error": "Settings not found"})


# ------------------------------------------------------------------------------ pure parts
def test_start_directives() -> None:
    defaults = StartDirectives()
    assert parse_start_directives("x [fake-start error]", defaults) == StartDirectives(error=True)
    assert parse_start_directives("[fake-start stuck]", defaults).stuck == "WAITING_FOR_SANDBOX"
    assert (
        parse_start_directives("[fake-start stuck=preparing_repository]", defaults).stuck
        == "PREPARING_REPOSITORY"
    )
    assert parse_start_directives("[fake-start stuck=READY]", defaults).stuck is None
    assert (
        parse_start_directives("[fake-start nostuck noerror]", StartDirectives(True, "WORKING")) == defaults
    )


def test_suspended_processes_keep_the_rest_of_their_wait() -> None:
    clock = ManualClock(start=0.0)
    scheduler = Scheduler(clock.now, lambda s: s)
    ran: list[float] = []

    def process() -> Process:
        yield 10.0
        ran.append(scheduler.now())

    scheduler.spawn(process(), owner="a", name="p")
    scheduler.spawn(process(), owner="b", name="p")
    clock.advance(1)
    scheduler.run_until()
    scheduler.suspend("a")
    scheduler.suspend("b")
    clock.advance(100)
    scheduler.run_until()
    assert ran == []
    scheduler.resume("a")
    scheduler.resume("b", waited_outside=("p",))
    scheduler.run_until()
    assert ran == [101.0]  # "b" waited outside: its time was up during the freeze
    clock.advance(9)
    scheduler.run_until()
    assert ran == [101.0, 110.0]  # "a" still had 9 s to go


def test_v1_knobs_are_validated() -> None:
    with pytest.raises(ValueError, match="generations"):
        FakeServerConfig(generations="v2")
    with pytest.raises(ValueError, match="flavor"):
        FakeServerConfig(flavor="saas")
    with pytest.raises(ValueError, match="webhook_batch_size"):
        FakeServerConfig(generations="v1", webhook_batch_size=0)
    with pytest.raises(ValueError, match="concurrency_limit"):
        FakeServerConfig(generations="v1", concurrency_limit=0)
    with pytest.raises(ValueError, match="send_message_delay"):
        FakeServerConfig(generations="v1", send_message_delay=-1)
