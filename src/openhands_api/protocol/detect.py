"""Which API generation a server speaks (CONTRACT §1.6), decided once per client.

Cloud speaks only V1 (no probe). Elsewhere two cheap GETs: a server that answers both is a
1.0–1.6.0 server, whose V1 surface lacks send-message and delete, so V0 is chosen there —
and V1 conversations on it are still reached, by hand-over (``OwnedByOtherGeneration``).
"""

from __future__ import annotations

from ..errors import NotSupportedError
from . import v0, v1
from .http import Op


def detect_version(*, is_cloud: bool) -> Op[str]:
    """``"v0"`` or ``"v1"``; NotSupportedError when the server speaks neither."""
    if is_cloud:
        return "v1"
    has_v1 = yield v1.probe()
    has_v0 = yield v0.probe()
    if has_v0:
        return "v0"
    if has_v1:
        return "v1"
    raise NotSupportedError(
        "This server speaks neither OpenHands API: GET /api/v1/app-conversations/search and "
        "GET /api/conversations both answered 404, 405 or a web page. Is the base URL the "
        "OpenHands server (e.g. http://localhost:3000 or https://app.all-hands.dev)?"
    )
