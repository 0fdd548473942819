"""``GET /conversations/{id}``, the page behind every ``web_url``: 200 ``text/html`` as the real
servers' web app answers there (its ``index.html`` for any id), with the fake's own small page:
title, status, and that this is the fake server."""

from __future__ import annotations

import uuid

import httpx

from openhands_api.testing import FakeOpenHandsServer, ManualClock

from . import helpers
from . import v1_helpers as v1
from .conftest import MakeClient


def page(response: httpx.Response) -> str:
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response.text


async def test_the_v0_page_shows_title_status_and_that_it_is_the_fake(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, _ = make_client()
    conversation_id = await helpers.run(client, clock)
    title = (await helpers.info(client, conversation_id))["title"]
    text = page(await client.get(f"/conversations/{conversation_id}"))
    assert f"<title>{title} · fake OpenHands server</title>" in text
    assert "Status: RUNNING, agent finished (V0 API)" in text
    assert "openhands-api fake server, not OpenHands" in text
    assert f"openhands-api get {conversation_id}" in text


async def test_the_v1_page_shows_execution_and_sandbox_status(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, _ = make_client(**v1.V1)
    chosen = uuid.uuid4().hex
    task = await v1.start(client, conversation_id=chosen)
    starting = page(await client.get(f"/conversations/{task['id']}"))
    assert "Status: start task WORKING (V1 API)" in starting
    # the page of the id the create chose (the client's snapshot links it) shows the start too
    assert "Status: start task WORKING (V1 API)" in page(await client.get(f"/conversations/{chosen}"))
    clock.advance(v1.START_TIME + v1.RUN_TIME)
    conversation_id = (await v1.task_of(client, task["id"]))["app_conversation_id"]
    dashed = str(uuid.UUID(conversation_id))
    for ref in (conversation_id, dashed):
        text = page(await client.get(f"/conversations/{ref}"))
        assert "Status: execution finished, sandbox RUNNING (V1 API)" in text


async def test_an_unknown_id_still_gets_the_page_as_on_the_real_server(client: httpx.AsyncClient) -> None:
    text = page(await client.get("/conversations/<script>"))
    assert "no such conversation on this server" in text
    assert "<script>" not in text  # the id is escaped
    # The API routes are untouched: an unknown API path is still JSON, never this page.
    api = await client.get("/api/no-such-route")
    assert api.headers["content-type"] == "application/json"


async def test_with_a_key_the_page_needs_none_and_shows_no_details(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, _ = make_client(session_api_key="k")
    created = await client.post(
        "/api/conversations", json={"initial_user_msg": "hi"}, headers={"X-Session-API-Key": "k"}
    )
    conversation_id = created.json()["conversation_id"]
    text = page(await client.get(f"/conversations/{conversation_id}"))  # no key sent
    assert "this server wants a key" in text
    assert "RUNNING" not in text
    assert "STARTING" not in text


async def test_the_cloud_flavor_serves_this_page_before_its_web_app_fallback(make_client: MakeClient) -> None:
    client, _ = make_client(generations="v1", flavor="cloud")
    assert "fake OpenHands server" in page(await client.get("/conversations/abc"))
    assert "fake OpenHands server" not in page(await client.get("/settings"))  # Cloud's SPA index


def test_the_page_answers_over_loopback() -> None:
    with FakeOpenHandsServer(rate_limit=False) as server:
        created = httpx.post(server.base_url + "/api/conversations", json={"initial_user_msg": "hi"})
        conversation_id = created.json()["conversation_id"]
        # The URL the client hands out as Conversation.web_url (CONTRACT §1.2).
        response = httpx.get(f"{server.base_url}/conversations/{conversation_id}")
    assert conversation_id in page(response)
