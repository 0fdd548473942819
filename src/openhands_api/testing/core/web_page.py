"""The conversation's web page, ``GET /conversations/{id}``: what the fake shows where the web
app would.

Responsible for: the page behind every ``web_url`` the client hands out. A real server (1.6.0 and
1.11.0 with the frontend served, the default, and Cloud) answers that path with its single-page
app's ``index.html``: 200 ``text/html`` whatever the id, the app then loads the conversation with
its own authenticated API calls. The fake answers the same status and type with a small page of
its own: the conversation's title and status, and a note that this is the fake server. When the
server wants a key (``session_api_key`` / ``api_key``) the page shows neither, as the real page
shows nothing without a login. An unknown id still gets 200 (the real app says so in the
browser, not in the status).

Not responsible for: any API route (this path is not under ``/api``, so a client expecting JSON
never meets it), or Cloud's fallback for every other unknown GET (``core/cloud_web_app.py``,
included after this router).
"""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from .state import FakeState


def build_web_page_router(state: FakeState) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/conversations/{conversation_id}")
    async def conversation_page(conversation_id: str) -> Response:
        return HTMLResponse(conversation_page_html(state, conversation_id))

    return router


def conversation_page_html(state: FakeState, conversation_id: str) -> str:
    """The page for ``conversation_id`` (any id: unknown ones say so)."""
    config = state.config
    if config.session_api_key is not None or config.api_key is not None:
        heading = f"Conversation {conversation_id}"
        status = "shown to the API only: this server wants a key"
    else:
        heading, status = _title_and_status(state, conversation_id)
    return _PAGE.format(
        heading=html.escape(heading),
        status=html.escape(status),
        conversation_id=html.escape(conversation_id),
    )


def _title_and_status(state: FakeState, conversation_id: str) -> tuple[str, str]:
    with state.lock:
        state.advance()
        v0 = state.v0.conversations.get(conversation_id) if state.config.serves_v0 else None
        if v0 is not None:
            agent = f", agent {v0.agent_state}" if v0.agent_state else ""
            return v0.title or v0.default_title, f"{v0.status}{agent} (V0 API)"
        if state.config.serves_v1:
            key = conversation_id.replace("-", "").lower()
            v1 = state.v1.conversations.get(key)
            if v1 is not None:
                sandbox = state.v1.sandboxes.get(v1.sandbox_id)
                sandbox_status = sandbox.status if sandbox is not None else "MISSING"
                status = f"execution {v1.execution_status}, sandbox {sandbox_status} (V1 API)"
                return v1.title or f"Conversation {conversation_id}", status
            task = state.v1.tasks.get(key) or next(
                (t for t in state.v1.tasks.values() if _requested_id(t.request) == key), None
            )
            if task is not None:  # the task's id, or the conversation id its create chose
                return f"Conversation {conversation_id}", f"start task {task.status} (V1 API)"
    return f"Conversation {conversation_id}", "no such conversation on this server"


def _requested_id(request: dict[str, object]) -> str | None:
    chosen = request.get("conversation_id")
    return chosen.replace("-", "").lower() if isinstance(chosen, str) else None


_PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>{heading} · fake OpenHands server</title>
  </head>
  <body>
    <h1>{heading}</h1>
    <p>Status: {status}</p>
    <p>Id: <code>{conversation_id}</code></p>
    <p>This is the openhands-api fake server, not OpenHands: a real server shows the conversation
    in its web app here. From the shell: <code>openhands-api get {conversation_id}</code>.</p>
  </body>
</html>
"""
