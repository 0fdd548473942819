"""What OpenHands Cloud answers where no API route matches: its web app.

Responsible for: the ``flavor="cloud"`` fallback — every GET that matches no route (including
``GET /api/v1/app-conversations/{id}``, which has no GET route) answers 200 ``text/html`` with
the single-page app's index, as Cloud's frontend hosting does (CONTRACT.md §1.5, §8). A client
that takes any 200 for success is caught by it.

Not responsible for: Cloud's authentication (``core/auth.py``), rate limiter (``faults/limiter.py``) or
concurrency cap (``v1/routes.py``). Included last, so every real route wins.
"""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

WEB_APP_HTML = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>OpenHands</title>
    <script type="module" crossorigin src="/assets/index.js"></script>
  </head>
  <body>
    <div id="root"></div>
  </body>
</html>
"""


def build_web_app_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/{path:path}")
    async def web_app(path: str) -> Response:
        return HTMLResponse(WEB_APP_HTML)

    return router
