"""Test-control routes under ``/_fake/`` — NOT part of OpenHands.

Responsible for: letting tests in another process (e.g. a CLI test or a TypeScript test
against ``python -m openhands_api.testing serve``) inspect and steer the fake:

* ``GET  /_fake/state`` — config summary, counters, V0 conversations (status, agent state,
  number of events), V1 under ``"v1"`` (start calls, start tasks, conversations with their
  sandbox and execution status, sandboxes), workspace files.
* ``POST /_fake/reset`` — forget conversations, requests and seeded data; fault rules and
  chaos back to the configured ones.
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
* ``POST /_fake/faults`` — body: a fault rule as JSON (``{"fault": "status", "status": 503,
  "method": "POST", "path": "/api/conversations", "times": 2}``, keys as ``FaultRule``'s)
  → ``{"id": n}``; 422 ``{"error": …}`` for an invalid rule.
* ``GET /_fake/faults`` — ``{"rules": [rule + "id", "matched", "hits"], "chaos": {…} or null,
  "fired": [{"rule_id", "fault", "method", "path", "when", "status"}]}``.
* ``DELETE /_fake/faults`` — no rules, no chaos, empty log. ``DELETE /_fake/faults/{id}`` —
  one rule (404 if unknown).
* ``PUT /_fake/faults/chaos`` — body: ``Chaos`` as JSON (``{"probability": 0.2, "seed": 7}``)
  switches chaos on (422 if invalid); ``DELETE /_fake/faults/chaos`` switches it off.
* ``POST /_fake/refuse_connections`` — body ``{"seconds": s}``: refuse new connections for
  ``s`` seconds, then listen on the same port again (the answer comes with ``Connection:
  close``: new connections are refused once it is sent); ``DELETE /_fake/refuse_connections``
  ends it early. 409 when the app is not served by ``FakeOpenHandsServer``.

These routes need no authentication, are not rate limited and are never faulted. Not
responsible for: any OpenHands behaviour; a real server answers 404 here.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse, Response
from starlette.types import Scope

from ..faults.rules import Chaos, FaultRule
from ..v1.conversation import SANDBOX_STATUSES
from .clock import ManualClock
from .state import FakeState

CONTROL_PREFIX = "/_fake"


def is_control(scope: Scope) -> bool:
    """Whether the request is for a ``/_fake/`` route (no faults, log or rate limit then)."""
    path: str = scope["path"]
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


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

    @router.get("/faults")
    async def get_faults() -> Response:
        return JSONResponse(state.faults.summary())

    @router.post("/faults")
    async def add_fault(body: Annotated[Any, Body()]) -> Response:
        try:
            rule = FaultRule.from_json(body)
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return JSONResponse({"id": state.faults.add(rule)})

    @router.delete("/faults")
    async def clear_faults() -> Response:
        state.faults.clear()
        return JSONResponse({"cleared": True})

    # Declared before /faults/{rule_id} so "chaos" is never taken for a rule id (the int
    # convertor keeps the two apart as well).
    @router.put("/faults/chaos")
    async def chaos_on(body: Annotated[Any, Body()]) -> Response:
        try:
            chaos = Chaos.from_json(body)
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        state.faults.chaos = chaos
        return JSONResponse({"chaos": chaos.to_json()})

    @router.delete("/faults/chaos")
    async def chaos_off() -> Response:
        state.faults.chaos = None
        return JSONResponse({"chaos": None})

    @router.delete("/faults/{rule_id:int}")
    async def remove_fault(rule_id: int) -> Response:
        try:
            state.faults.remove(rule_id)
        except KeyError:
            return JSONResponse({"error": f"no fault rule {rule_id}"}, status_code=404)
        return JSONResponse({"removed": rule_id})

    @router.post("/refuse_connections")
    async def refuse_connections(body: Annotated[dict[str, Any], Body()]) -> Response:
        listener = state.listener
        if listener is None:
            return JSONResponse({"error": "not served by FakeOpenHandsServer"}, status_code=409)
        seconds = body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            return JSONResponse({"error": '"seconds" must be a number >= 0'}, status_code=422)
        await listener.refuse(float(seconds))
        # This connection closes after the answer; saying so keeps the client from sending
        # its next request on it before it notices.
        return JSONResponse({"refusing": float(seconds)}, headers={"Connection": "close"})

    @router.delete("/refuse_connections")
    async def accept_connections() -> Response:
        listener = state.listener
        if listener is None:
            return JSONResponse({"error": "not served by FakeOpenHandsServer"}, status_code=409)
        await listener.accept()
        return JSONResponse({"refusing": None})

    return router
