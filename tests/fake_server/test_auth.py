"""Authentication modes: none, self-hosted session key, Cloud-style Bearer key."""

from __future__ import annotations

import httpx
import pytest

from openhands_api.testing import FakeServerConfig

from .conftest import MakeClient

KEY = "s3cret-key"
OPEN_ROUTES = ["/alive", "/health", "/ready", "/server_info"]


@pytest.fixture
def session_client(make_client: MakeClient) -> httpx.AsyncClient:
    return make_client(session_api_key=KEY)[0]


@pytest.fixture
def bearer_client(make_client: MakeClient) -> httpx.AsyncClient:
    return make_client(api_key=KEY)[0]


async def test_without_auth_configured_api_routes_are_open(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/conversations")).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"X-Session-API-Key": "wrong"}, {"Authorization": f"Bearer {KEY}"}])
async def test_session_key_missing_or_wrong_is_401_unauthorized(
    session_client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await session_client.get("/api/conversations", headers=headers)
    assert (response.status_code, response.json()) == (401, {"detail": "Unauthorized"})


async def test_session_key_accepted_on_api_routes(session_client: httpx.AsyncClient) -> None:
    headers = {"X-Session-API-Key": KEY}
    assert (await session_client.get("/api/conversations", headers=headers)).status_code == 200
    create = await session_client.post("/api/conversations", json={"initial_user_msg": "hi"}, headers=headers)
    assert create.status_code == 200


@pytest.mark.parametrize("path", ["/api/options/config", "/api/settings", "/api/conversations/x/events"])
async def test_session_key_guards_every_api_router(session_client: httpx.AsyncClient, path: str) -> None:
    assert (await session_client.get(path)).status_code == 401


@pytest.mark.parametrize("path", OPEN_ROUTES)
async def test_health_routes_stay_open_with_a_session_key(
    session_client: httpx.AsyncClient, path: str
) -> None:
    assert (await session_client.get(path)).status_code == 200


async def test_unknown_api_path_is_404_not_401_with_a_session_key(session_client: httpx.AsyncClient) -> None:
    response = await session_client.get("/api/does-not-exist")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


async def test_malformed_json_is_422_before_the_session_key_check(session_client: httpx.AsyncClient) -> None:
    response = await session_client.post(
        "/api/conversations", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_bearer_missing_is_401_no_credentials(bearer_client: httpx.AsyncClient) -> None:
    response = await bearer_client.get("/api/conversations")
    assert (response.status_code, response.json()) == (401, {"error": "NoCredentialsError"})


async def test_bearer_key_in_another_header_counts_as_missing(bearer_client: httpx.AsyncClient) -> None:
    response = await bearer_client.get("/api/conversations", headers={"X-Session-API-Key": KEY})
    assert response.json() == {"error": "NoCredentialsError"}


async def test_bearer_wrong_key_is_401_failed_to_authenticate(bearer_client: httpx.AsyncClient) -> None:
    response = await bearer_client.get("/api/conversations", headers={"Authorization": "Bearer nope"})
    assert (response.status_code, response.json()) == (401, {"error": "failed to authenticate"})


async def test_bearer_right_key_is_accepted_and_marks_conversations_as_api_created(
    bearer_client: httpx.AsyncClient,
) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    created = await bearer_client.post("/api/conversations", json={"initial_user_msg": "hi"}, headers=headers)
    assert created.status_code == 200
    conversation_id = created.json()["conversation_id"]
    info = (await bearer_client.get(f"/api/conversations/{conversation_id}", headers=headers)).json()
    assert info["trigger"] == "openhands_api"


async def test_bearer_leaves_options_config_and_health_open(bearer_client: httpx.AsyncClient) -> None:
    assert (await bearer_client.get("/api/options/config")).status_code == 200
    for path in OPEN_ROUTES:
        assert (await bearer_client.get(path)).status_code == 200


async def test_control_routes_need_no_key(session_client: httpx.AsyncClient) -> None:
    assert (await session_client.get("/_fake/state")).status_code == 200


def test_config_refuses_both_kinds_of_key() -> None:
    with pytest.raises(ValueError, match="either"):
        FakeServerConfig(session_api_key="a", api_key="b")


async def test_state_summary_masks_keys(make_client: MakeClient) -> None:
    client, _ = make_client(session_api_key=KEY)
    summary = (await client.get("/_fake/state")).json()["config"]
    assert summary["session_api_key"] == "***"
    assert KEY not in str(summary)
