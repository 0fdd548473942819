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


PROBES = {"v0": v0.probe, "v1": v1.probe}
"""Each generation's own listing, asked with ``limit=1``: answered by every server that speaks it."""


def unspoken(version: str) -> Op[NotSupportedError | None]:
    """After a missing route (404/405, a web page) on a ``version`` the caller forced: the
    error to raise instead when the server does not speak that version at all (its own
    listing route is missing too), None when it does (then the 404 is the answer: an unknown
    id, say)."""
    if (yield PROBES[version]()):
        return None
    other = "v0" if version == "v1" else "v1"
    return NotSupportedError(
        f"This server does not speak the {version.upper()} API (its conversation listing is not there)",
        remedy="Try {api_version:auto} or {api_version:" + other + "}",
    )
