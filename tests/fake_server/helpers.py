"""Small helpers shared by the fake server tests (plain httpx, no client library)."""

from __future__ import annotations

from typing import Any

import httpx

from openhands_api.testing import ManualClock

RUN_TIME = 5.0
"""Simulated seconds that comfortably cover startup plus a short agent run at default knobs."""


async def create(
    client: httpx.AsyncClient, message: str | None = "Say hello and finish.", **body: Any
) -> str:
    payload = dict(body)
    if message is not None:
        payload["initial_user_msg"] = message
    response = await client.post("/api/conversations", json=payload)
    assert response.status_code == 200, response.text
    conversation_id: str = response.json()["conversation_id"]
    return conversation_id


async def info(client: httpx.AsyncClient, conversation_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/conversations/{conversation_id}")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


async def all_events(client: httpx.AsyncClient, conversation_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    start = 0
    while True:
        response = await client.get(
            f"/api/conversations/{conversation_id}/events", params={"start_id": start, "limit": 100}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        events.extend(page["events"])
        if not page["has_more"]:
            return events
        start = page["events"][-1]["id"] + 1


async def run(
    client: httpx.AsyncClient, clock: ManualClock, message: str | None = "Say hello and finish.", **body: Any
) -> str:
    """Create a conversation and let simulated time pass until its first turn is over."""
    conversation_id = await create(client, message, **body)
    clock.advance(RUN_TIME)
    return conversation_id


def kind(event: dict[str, Any]) -> str:
    if "action" in event:
        return f"action:{event['action']}"
    return f"observation:{event['observation']}"


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [kind(e) for e in events]


def agent_states(events: list[dict[str, Any]]) -> list[str]:
    """Every ``agent_state_changed`` state in order."""
    return [e["extras"]["agent_state"] for e in events if e.get("observation") == "agent_state_changed"]


def last_agent_state(events: list[dict[str, Any]]) -> str | None:
    states = agent_states(events)
    return states[-1] if states else None
