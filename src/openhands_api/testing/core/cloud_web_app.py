"""What OpenHands Cloud answers where no API route matches: its web app.

Responsible for: the ``flavor="cloud"`` fallback — every GET that matches no route (including
``GET /api/v1/app-conversations/{id}``, which has no GET route) answers 200 ``text/html`` with
the single-page app's index (``error_bodies.web_app``), as Cloud's frontend hosting does
(CONTRACT.md §1.5, §8). A client that takes any 200 for success is caught by it.

Not responsible for: Cloud's authentication (``core/auth.py``), rate limiter
(``faults/limiter.py``) or concurrency cap (``v1/routes.py``). Included last, so every real
route wins.
"""

from fastapi import APIRouter
from fastapi.responses import Response

from . import error_bodies as bodies


def build_web_app_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/{path:path}")
    async def web_app(path: str) -> Response:
        return bodies.web_app()

    return router
