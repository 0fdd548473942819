"""Test-control routes under ``/_fake/`` — NOT part of OpenHands.

Responsible for: letting tests in another process (e.g. a CLI test or a TypeScript test
against ``python -m openhands_api.testing serve``) inspect and steer the fake:

* ``GET  /_fake/state`` — config summary, counters, V0 conversations (status, agent state,
  number of events), V1 under ``"v1"`` (start calls, start tasks, conversations with their
  sandbox and execution status, sandboxes), workspace files.
* ``POST /_fake/reset`` — forget conversations, requests and seeded data.
* ``POST /_fake/workspace`` — body ``{"files": {"path": "content", "dir/": ""}}`` seeds files
  for ``list-files``, ``select-file`` and ``zip-directory``; optional ``"git_changes"``
  (list) and ``"git_diffs"`` (``{path: {"modified", "original"}}``).
* ``DELETE /_fake/settings`` — forget stored settings (create then answers 400
  ``CONFIGURATION$SETTINGS_NOT_FOUND``).
* ``POST /_fake/clock/advance`` — body ``{"seconds": s}``; only with a ``ManualClock``
  (409 otherwise).
* ``POST /_fake/v1/sandboxes/{sandbox_id}/status`` — body ``{"status": "ERROR"}``: force a V1
  sandbox into a status (``ERROR`` → send-message 503; ``MISSING`` → an archived sandbox that
  still exists, send-message 410); 404 for an unknown sandbox.

These routes need no authentication and are not rate limited. Not responsible for: any
OpenHands behaviour; a real server answers 404 here.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse, Response

from ._clock import ManualClock
from ._state import FakeState
from ._v1_conversation import SANDBOX_STATUSES

CONTROL_PREFIX = "/_fake"


def build_control_router(state: FakeState) -> APIRouter:
    router = APIRouter(prefix=CONTROL_PREFIX, include_in_schema=False)

    @router.get("/state")
    async def get_state() -> Response:
        return JSONResponse(state.snapshot())

    @router.post("/reset")
    async def reset() -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    @router.post("/workspace")
    async def seed_workspace(body: Annotated[dict[str, Any], Body()]) -> Response:
        files = body.get("files", {})
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            return JSONResponse({"error": '"files" must map paths to strings'}, status_code=422)
        state.seed_workspace(files)
        with state.lock:
            if isinstance(body.get("git_changes"), list):
                state.git_changes = [dict(change) for change in body["git_changes"]]
            if isinstance(body.get("git_diffs"), dict):
                state.git_diffs = {str(k): dict(v) for k, v in body["git_diffs"].items()}
            files_now = sorted(state.workspace.files)
        return JSONResponse({"files": files_now})

    @router.delete("/settings")
    async def forget_settings() -> Response:
        state.forget_settings()
        return JSONResponse({"settings_stored": False})

    @router.post("/clock/advance")
    async def advance_clock(body: Annotated[dict[str, Any], Body()]) -> Response:
        clock = state.clock
        if not isinstance(clock, ManualClock):
            return JSONResponse({"error": "the server runs on the system clock"}, status_code=409)
        seconds = body.get("seconds")
        if not isinstance(seconds, (int, float)) or seconds < 0:
            return JSONResponse({"error": '"seconds" must be a number >= 0'}, status_code=422)
        clock.advance(float(seconds))
        state.advance()
        return JSONResponse({"now": clock.now()})

    @router.post("/v1/sandboxes/{sandbox_id}/status")
    async def set_sandbox_status(sandbox_id: str, body: Annotated[dict[str, Any], Body()]) -> Response:
        status = body.get("status")
        if status not in SANDBOX_STATUSES:
            return JSONResponse(
                {"error": f'"status" must be one of {list(SANDBOX_STATUSES)}'}, status_code=422
            )
        try:
            state.set_sandbox_status(sandbox_id, str(status))
        except KeyError:
            return JSONResponse({"error": f"unknown sandbox {sandbox_id}"}, status_code=404)
        return JSONResponse({"id": sandbox_id, "status": status})

    return router
