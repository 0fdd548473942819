"""Helpers for the V1 tests of the fake server (plain httpx, no client library)."""

from __future__ import annotations

from typing import Any

import httpx

from openhands_api.testing import ManualClock

V1 = {"generations": "v1"}
"""Knobs of a 1.11.0-like fake."""

START_TIME = 1.0
"""Simulated seconds that cover a start task (``start_task_delay`` 0.5 by default)."""
RUN_TIME = 2.0
"""Simulated seconds that cover a short agent run after READY or a message."""

ONE_STEP_RUN = [
    "ConversationStateUpdateEvent(full_state)",
    "SystemPromptEvent",
    "MessageEvent",
    "ConversationStateUpdateEvent(last_user_message_id)",
    "ConversationStateUpdateEvent(execution_status)",
    "ConversationStateUpdateEvent(stats)",
    "ConversationStateUpdateEvent(stats)",
    "ActionEvent",
    "ObservationEvent",
    "ConversationStateUpdateEvent(execution_status)",
    "ConversationStateUpdateEvent(full_state)",
]
"""A real one-step run on 1.11.0 with the kit's fake LLM, as the app server lists it (observed)."""


def message(text: str, run: bool | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"role": "user", "content": [{"type": "text", "text": text}]}
    if run is not None:
        body["run"] = run
    return body


async def start(
    client: httpx.AsyncClient, text: str | None = "Say hello and finish.", **body: Any
) -> dict[str, Any]:
    """``POST /api/v1/app-conversations``; returns the start task."""
    payload = dict(body)
    if text is not None:
        payload["initial_message"] = message(text)
    response = await client.post("/api/v1/app-conversations", json=payload)
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


async def task_of(client: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    response = await client.get("/api/v1/app-conversations/start-tasks", params={"ids": task_id})
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()[0]
    return task


async def ready(
    client: httpx.AsyncClient, clock: ManualClock, text: str | None = "Say hello and finish.", **body: Any
) -> str:
    """Start a conversation and let simulated time pass until its start task is READY."""
    task = await start(client, text, **body)
    clock.advance(START_TIME)
    task = await task_of(client, task["id"])
    assert task["status"] == "READY", task
    conversation_id: str = task["app_conversation_id"]
    return conversation_id


async def run(
    client: httpx.AsyncClient, clock: ManualClock, text: str | None = "Say hello and finish.", **body: Any
) -> str:
    """A conversation whose first run is over."""
    conversation_id = await ready(client, clock, text, **body)
    clock.advance(RUN_TIME)
    return conversation_id


async def conversation(client: httpx.AsyncClient, conversation_id: str) -> dict[str, Any]:
    response = await client.get("/api/v1/app-conversations", params={"ids": conversation_id})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()[0]
    return data


async def events(client: httpx.AsyncClient, conversation_id: str, **params: Any) -> list[dict[str, Any]]:
    params.setdefault("limit", 100)
    response = await client.get(f"/api/v1/conversation/{conversation_id}/events/search", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def kinds(items: list[dict[str, Any]]) -> list[str]:
    """Event kinds, state updates with their key: ``ConversationStateUpdateEvent(stats)``."""
    return [
        e["kind"] + (f"({e['key']})" if e["kind"] == "ConversationStateUpdateEvent" else "") for e in items
    ]


def statuses(items: list[dict[str, Any]]) -> list[str]:
    """The ``execution_status`` updates in order."""
    return [e["value"] for e in items if e.get("key") == "execution_status"]


async def send(
    client: httpx.AsyncClient, conversation_id: str, text: str, run: bool | None = None
) -> httpx.Response:
    return await client.post(
        f"/api/v1/app-conversations/{conversation_id}/send-message", json=message(text, run)
    )
