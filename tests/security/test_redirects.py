"""A redirect never carries the API key anywhere: the client does not follow redirects, and
says where the server pointed so the user can fix the base URL."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn

from openhands_api import OpenHandsAPI, ProtocolError

ASGIApp = Callable[[dict[str, Any], Any, Any], Any]


def _serve(app: ASGIApp) -> tuple[str, uvicorn.Server, threading.Thread]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{port}", server, thread


@pytest.fixture
def servers() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen_by_target: list[dict[str, str]] = []

    async def target(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen_by_target.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"results": [], "next_page_id": null}'})

    target_url, target_server, target_thread = _serve(target)

    async def redirector(scope: dict[str, Any], receive: Any, send: Any) -> None:
        location = f"{target_url}{scope['path']}".encode()
        await send({"type": "http.response.start", "status": 307, "headers": [(b"location", location)]})
        await send({"type": "http.response.body", "body": b""})

    redirect_url, redirect_server, redirect_thread = _serve(redirector)
    try:
        yield redirect_url, seen_by_target
    finally:
        for server, thread in ((redirect_server, redirect_thread), (target_server, target_thread)):
            server.should_exit = True
            thread.join(10)


def test_a_redirect_is_not_followed_and_the_key_goes_nowhere(
    servers: tuple[str, list[dict[str, str]]],
) -> None:
    redirect_url, seen_by_target = servers
    with (
        OpenHandsAPI(base_url=redirect_url, api_key="sk-redirect-secret", api_version="v0") as api,
        pytest.raises(ProtocolError, match="redirected") as caught,
    ):
        api.list_conversations(limit=1)
    assert "127.0.0.1" in str(caught.value)
    assert "sk-redirect-secret" not in str(caught.value)
    assert seen_by_target == []
