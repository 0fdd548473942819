"""The library client the integration tests use against a real server: the server's key, a
brisk poll, and the harness's throttled httpx client underneath (≤ 4 requests/s per server,
well under the real rate limit)."""

from __future__ import annotations

from typing import Any

from openhands_api import OpenHandsAPI

from .realserver.harness import RealServer


def library_client(server: RealServer, **kwargs: Any) -> OpenHandsAPI:
    return OpenHandsAPI(
        base_url=server.base_url,
        session_api_key=server.session_api_key,
        poll_interval=0.5,
        max_poll_interval=2.0,
        # A runtime (re)start takes ~45 s here; a start that hangs then fails the test with the
        # library's own message, well inside pytest's 300 s timeout.
        start_timeout=150,
        http_client=server.client(),
        **kwargs,
    )
