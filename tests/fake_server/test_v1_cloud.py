"""``flavor="cloud"``: the web app's HTML, Bearer 401 bodies, the concurrency cap, Cloud's limiter."""

from __future__ import annotations

import uuid

import httpx
import pytest

from openhands_api.testing import FakeServerConfig, ManualClock

from .conftest import MakeClient
from .v1_helpers import V1, conversation, ready, start

CLOUD = {"generations": "v1", "flavor": "cloud"}
BEARER = {"Authorization": "Bearer key"}


@pytest.fixture
def cloud(make_client: MakeClient) -> httpx.AsyncClient:
    return make_client(**CLOUD)[0]


async def test_get_of_one_conversation_answers_the_web_app(
    cloud: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await ready(cloud, clock, None)
    response = await cloud.get(f"/api/v1/app-conversations/{conversation_id}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")


async def test_unknown_get_paths_answer_the_web_app(cloud: httpx.AsyncClient) -> None:
    for path in ("/api/conversations", "/api/options/config", "/conversations/abc", "/api/v1/nope"):
        response = await cloud.get(path)
        assert (response.status_code, response.headers["content-type"].split(";")[0]) == (200, "text/html"), (
            path
        )


async def test_real_routes_still_answer_json(cloud: httpx.AsyncClient) -> None:
    response = await cloud.get("/api/v1/app-conversations/search")
    assert response.json() == {"items": [], "next_page_id": None}


async def test_self_hosted_unknown_paths_stay_404_json(make_client: MakeClient) -> None:
    client, _ = make_client(**V1)
    response = await client.get("/api/v1/nope")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


async def test_web_client_config_reports_saas(cloud: httpx.AsyncClient) -> None:
    assert (await cloud.get("/api/v1/web-client/config")).json()["app_mode"] == "saas"


async def test_bearer_auth_bodies_and_open_web_client_config(make_client: MakeClient) -> None:
    client, _ = make_client(api_key="key", **CLOUD)
    missing = await client.get("/api/v1/app-conversations/search")
    assert (missing.status_code, missing.json()) == (401, {"error": "NoCredentialsError"})
    wrong = await client.get("/api/v1/app-conversations/search", headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "failed to authenticate"})
    ok = await client.get("/api/v1/app-conversations/search", headers=BEARER)
    assert ok.status_code == 200
    assert (await client.get("/api/v1/web-client/config")).status_code == 200


def test_cloud_flavor_needs_v1_only() -> None:
    with pytest.raises(ValueError, match="generations"):
        FakeServerConfig(flavor="cloud")


# ------------------------------------------------------------------------------ concurrency cap
async def test_create_over_the_concurrency_limit_is_429(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(concurrency_limit=2, **CLOUD)
    await ready(client, clock, None)
    await ready(client, clock, None)
    response = await client.post("/api/v1/app-conversations", json={})
    assert response.status_code == 429
    detail = response.json()["detail"]
    assert list(detail) == ["error", "message", "limit", "current"]
    assert (detail["error"], detail["limit"], detail["current"]) == ("CONCURRENCY_LIMIT_REACHED", 2, 2)
    stream = await client.post("/api/v1/app-conversations/stream-start", json={})
    assert stream.status_code == 429


async def test_starting_tasks_count_against_the_limit(make_client: MakeClient) -> None:
    client, _ = make_client(concurrency_limit=1, **CLOUD)
    await start(client, None)
    assert (await client.post("/api/v1/app-conversations", json={})).status_code == 429


async def test_pausing_a_sandbox_frees_a_slot(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(concurrency_limit=1, **CLOUD)
    sandbox_id = (await conversation(client, await ready(client, clock, None)))["sandbox_id"]
    await client.post(f"/api/v1/sandboxes/{sandbox_id}/pause")
    assert (await client.post("/api/v1/app-conversations", json={})).status_code == 200


# ------------------------------------------------------------------------------ Cloud's rate limiter
async def test_cloud_limiter_rejects_the_eleventh_request_of_a_second(make_client: MakeClient) -> None:
    client, _ = make_client(rate_limit=True, **CLOUD)
    for _ in range(10):
        assert (await client.get("/api/v1/app-conversations/search")).status_code == 200
    response = await client.get("/api/v1/app-conversations/search")
    assert response.status_code == 429
    assert response.json() == {"error": "Rate limit exceeded: 10 per 1 second"}
    assert response.headers["x-ratelimit-limit"] == "10"
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert int(response.headers["x-ratelimit-reset"]) > 0
    assert int(response.headers["retry-after"]) >= 1


async def test_cloud_limiter_counts_per_key(make_client: MakeClient) -> None:
    client, _ = make_client(rate_limit=True, **CLOUD)
    for _ in range(10):
        await client.get("/api/v1/app-conversations/search", headers=BEARER)
    other = await client.get("/api/v1/app-conversations/search", headers={"Authorization": "Bearer other"})
    assert other.status_code == 200


async def test_cloud_limiter_has_a_per_minute_window(make_client: MakeClient, clock: ManualClock) -> None:
    client, _ = make_client(rate_limit=True, **CLOUD)
    for _ in range(10):
        for _ in range(10):
            assert (await client.get("/api/v1/app-conversations/search")).status_code == 200
        clock.advance(1.0)
    # The clock fixture starts 20 s into a minute, so all hundred share one minute window.
    response = await client.get("/api/v1/app-conversations/search")
    assert response.json() == {"error": "Rate limit exceeded: 100 per 1 minute"}


async def test_unknown_conversation_in_cloud_is_still_null_in_batch_get(cloud: httpx.AsyncClient) -> None:
    response = await cloud.get("/api/v1/app-conversations", params={"ids": uuid.uuid4().hex})
    assert response.json() == [None]
