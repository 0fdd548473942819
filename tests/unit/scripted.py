"""Scripted V0 and V1 servers for the operation tests (run through ``opdriver.Driver``).

Each server keeps a little state (the conversation, its events, start tasks, sandboxes) and
answers by path with the shapes of CONTRACT.md §2–6. Tests script time with ``timeline``: the
n-th read of the conversation (V0: the n-th look, which reads the newest events and then the
conversation; or a read of the conversation alone) first runs ``timeline[n]`` (a function of
the server), so a
status can change "between two polls". ``fail(method, path, *answers)`` makes the next
requests to that route answer something else (a Response, or an error to raise) first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from openhands_api.errors import APIConnectionError, APITimeoutError, OpenHandsError
from openhands_api.protocol.generation import GenerationContext
from openhands_api.protocol.http import Request, Response
from openhands_api.protocol.polling import PollPolicy
from tests.unit.opdriver import WALL_EPOCH, json_response

POLL = PollPolicy(interval=1.0, max_interval=1.0)
BASE_URL = "http://oh.test"


def context(start_timeout: float = 60.0, poll: PollPolicy = POLL) -> GenerationContext:
    return GenerationContext(base_url=BASE_URL, poll=poll, start_timeout=start_timeout, max_resends=3)


def params(request: Request) -> dict[str, str]:
    return dict(request.params)


def html(status: int = 200) -> Response:
    return Response(status, {"content-type": "text/html"}, b"<!doctype html><html><body>app</body></html>")


def error(status: int, detail: Any = "boom") -> Response:
    return json_response({"detail": detail}, status=status)


def text_500() -> Response:
    return Response(500, {"content-type": "text/plain"}, b"Internal Server Error")


def lost(request: Request) -> APITimeoutError:
    """The request went out and its answer never came."""
    return APITimeoutError("timed out", method=request.method, path=request.path, request_sent=True)


def refused(request: Request) -> APIConnectionError:
    """The request never reached the server."""
    return APIConnectionError("refused", method=request.method, path=request.path, request_sent=False)


Answer = Response | OpenHandsError | Callable[[Request], Response]
Step = Callable[[Any], None] | None


class _Faults:
    """Answers that take precedence over a server's own, consumed in order per route."""

    def __init__(self) -> None:
        self.faults: dict[tuple[str, str], list[Answer]] = {}

    def fail(self, method: str, path: str, *answers: Answer) -> None:
        self.faults.setdefault((method, path), []).extend(answers)

    def _fault(self, request: Request) -> Response | None:
        queue = self.faults.get((request.method, request.path))
        if not queue:
            return None
        answer = queue.pop(0)
        if isinstance(answer, OpenHandsError):
            raise answer
        if isinstance(answer, Response):
            return answer
        return answer(request)


# ---------------------------------------------------------------------------- V0

V0_CID = "febc01c200bc4ddb9ef1de4af3b17f32"
V0_BASE = "/api/conversations"
V0_PATH = f"{V0_BASE}/{V0_CID}"


def v0_info(status: str = "RUNNING", **extra: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "conversation_id": V0_CID,
        "title": "Conversation febc0",
        "status": status,
        "runtime_status": "STATUS$READY" if status == "RUNNING" else None,
        "created_at": datetime.fromtimestamp(WALL_EPOCH - 60, tz=timezone.utc).isoformat(),
        "pr_number": [],
        "conversation_version": "V0",
    }
    info.update(extra)
    return info


def v0_state(event_id: int, state: str, reason: str = "") -> dict[str, Any]:
    return {
        "id": event_id,
        "source": "environment",
        "message": "",
        "observation": "agent_state_changed",
        "content": "",
        "extras": {"agent_state": state, "reason": reason},
    }


def v0_user(event_id: int, text: str) -> dict[str, Any]:
    return {"id": event_id, "source": "user", "action": "message", "args": {"content": text}}


def v0_agent(event_id: int, text: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "source": "agent",
        "action": "message",
        "args": {"content": text, "wait_for_response": True},
    }


def v0_finish(event_id: int, text: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "source": "agent",
        "message": "All done! What's next on the agenda?",
        "action": "finish",
        "args": {"final_thought": text, "outputs": {}, "thought": ""},
    }


def v0_run(event_id: int, command: str = "ls") -> dict[str, Any]:
    return {"id": event_id, "source": "agent", "action": "run", "args": {"command": command}}


def v0_output(event_id: int, content: str = "ok") -> dict[str, Any]:
    """A command's output: the runtime files it under its action's source (``agent``), but it
    is no step of the agent (it can arrive after a stop), so it proves nothing about its state."""
    return {
        "id": event_id,
        "source": "agent",
        "observation": "run",
        "content": content,
        "extras": {"command": "ls", "metadata": {"exit_code": 0}},
    }


def v0_first_turn(answer: str = "Task complete.") -> list[dict[str, Any]]:
    """The observed one-step run (CONTRACT §3.5), ids 0–8, ending ``finished``."""
    return [
        v0_state(0, "loading"),
        {"id": 1, "source": "agent", "action": "system", "args": {"content": "You are OpenHands"}},
        v0_user(2, "Say hello and finish."),
        {
            "id": 3,
            "source": "environment",
            "action": "change_agent_state",
            "args": {"agent_state": "running"},
        },
        {"id": 4, "source": "user", "action": "recall", "args": {"recall_type": "workspace_context"}},
        v0_state(5, "running"),
        {"id": 6, "source": "environment", "observation": "recall", "cause": 4, "content": "", "extras": {}},
        v0_finish(7, answer),
        v0_state(8, "finished"),
    ]


def events_page(events: list[dict[str, Any]], request: Request) -> dict[str, Any]:
    """``GET …/events`` as the server answers it: ``start_id``..``end_id`` inclusive, newest
    first with ``reverse``, ``limit`` items, ``has_more`` from fetching one more."""
    p = params(request)
    start = int(p.get("start_id", "0"))
    end = int(p["end_id"]) if "end_id" in p else None
    limit = int(p.get("limit", "20"))
    chosen = [e for e in events if e["id"] >= start and (end is None or e["id"] <= end)]
    chosen.sort(key=lambda e: e["id"], reverse=p.get("reverse") == "true")
    return {"events": chosen[:limit], "has_more": len(chosen) > limit}


def _started(before: str) -> str:
    return "RUNNING" if before == "RUNNING" else "STARTING"


def _opens_a_look(request: Request) -> bool:
    """The newest-events page with which every V0 look begins (``v0_ops.read_new_events``)."""
    params = dict(request.params)
    return params.get("reverse") == "true" and "end_id" not in params and params.get("limit") != "1"


class V0Server(_Faults):
    """One V0 conversation (``info`` None: unknown or deleted) and its events."""

    def __init__(self, status: str | None = "RUNNING", events: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.info: dict[str, Any] | None = None if status is None else v0_info(status)
        self.events: list[dict[str, Any]] = list(events or [])
        self.timeline: list[Step] = []
        self.reads = 0
        self._look_open = False
        self.on_start: Step = None
        self.on_message: Step = None

    def add(self, *events: dict[str, Any]) -> None:
        self.events.extend(events)

    @property
    def next_id(self) -> int:
        return max((e["id"] for e in self.events), default=-1) + 1

    def set(self, **fields: Any) -> None:
        assert self.info is not None
        self.info.update(fields)

    def answer(self, request: Request) -> Response:
        fault = self._fault(request)
        if fault is not None:
            return fault
        method, path = request.method, request.path
        if path == V0_BASE:
            return json_response({"results": [self.info] if self.info else [], "next_page_id": None})
        assert path.startswith(V0_PATH), path
        suffix = path[len(V0_PATH) :]
        opens_a_look = (method, suffix) == ("GET", "/events") and _opens_a_look(request)
        if (method, suffix) == ("GET", "") or opens_a_look:
            # A look (the newest events, then the conversation) is one read of the timeline.
            if not self._look_open:
                if self.reads < len(self.timeline) and (step := self.timeline[self.reads]) is not None:
                    step(self)
                self.reads += 1
            self._look_open = opens_a_look
            if not opens_a_look:
                return json_response(self.info)
        else:
            self._look_open = False
        if self.info is None:
            if (method, suffix) == ("DELETE", ""):
                return json_response(False)
            return error(404, f"Conversation {V0_CID} not found")
        if (method, suffix) == ("GET", "/events"):
            return json_response(events_page(self.events, request))
        if (method, suffix) == ("GET", "/trajectory"):
            answer = json_response({"trajectory": self.events})
            if request.stream_to is not None:
                # Streamed by the driver: what reaches the parser is the byte count.
                return Response(200, answer.headers, b"", downloaded=len(answer.content))
            return answer
        if (method, suffix) == ("POST", "/message"):
            if self.info["status"] != "RUNNING":
                return json_response(
                    {
                        "success": False,
                        "error": f"Error adding message to conversation: no_conversation:{V0_CID}",
                    },
                    status=500,
                )
            self.add(v0_user(self.next_id, request.json["message"]))
            if self.on_message is not None:
                self.on_message(self)
            return json_response({"success": True})
        if (method, suffix) == ("POST", "/start"):
            before = self.info["status"]
            if self.on_start is not None:
                self.on_start(self)
            return json_response(
                {
                    "status": "ok",
                    "conversation_id": V0_CID,
                    "conversation_status": "STARTING" if before != "RUNNING" else "RUNNING",
                }
            )
        if (method, suffix) == ("POST", "/stop"):
            before = self.info["status"]
            self.set(status="STOPPED", runtime_status=None)
            self.add(v0_state(self.next_id, "stopped"))
            return json_response({"status": "ok", "conversation_id": V0_CID, "conversation_status": before})
        if (method, suffix) == ("PATCH", ""):
            self.set(title=request.json["title"])
            return json_response(True)
        if (method, suffix) == ("DELETE", ""):
            self.info = None
            return json_response(True)
        raise AssertionError(f"unexpected {method} {path}")


# ---------------------------------------------------------------------------- V1

V1_CID = "3873f087079b489e872cdfaf92fd19e5"
V1_TASK = "7ca63ed499234f9a9d1a4f4585566aab"
SANDBOX = "4bFOxbaATDHsIFT5pMeeKy"
V1_API = "/api/v1"
V1_CONVERSATIONS = f"{V1_API}/app-conversations"
V1_PATH = f"{V1_CONVERSATIONS}/{V1_CID}"
V1_EVENTS = f"{V1_API}/conversation/{V1_CID}/events/search"
_T0 = datetime(2026, 11, 30, 2, 27, 0)


def app_conversation(
    sandbox: str = "RUNNING", execution: str | None = "running", **extra: Any
) -> dict[str, Any]:
    running = sandbox == "RUNNING"
    conversation: dict[str, Any] = {
        "id": V1_CID,
        "created_by_user_id": None,
        "sandbox_id": SANDBOX,
        "title": "Conversation 3873f",
        "pr_number": [],
        "llm_model": "openai/some-model",
        "agent_kind": "openhands",
        "created_at": "2026-11-30T02:27:27.694435Z",
        "updated_at": "2026-11-30T02:27:27.826391Z",
        "sandbox_status": sandbox,
        "execution_status": execution if running else None,
        "conversation_url": f"http://localhost:8000/api/conversations/{V1_CID}" if running else None,
        "session_api_key": "secret" if running else None,
    }
    conversation.update(extra)
    return conversation


def start_task(status: str = "WORKING", **extra: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "id": V1_TASK,
        "status": status,
        "detail": None,
        "app_conversation_id": V1_CID if status == "READY" else None,
        "sandbox_id": SANDBOX,
        "request": {"conversation_id": V1_CID},
        "created_at": "2026-11-30T02:27:21.5",
        "updated_at": "2026-11-30T02:27:21.5",
    }
    task.update(extra)
    return task


def event_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def v1_event(n: int, kind: str, source: str, **fields: Any) -> dict[str, Any]:
    """Event number ``n``: ids are dashed UUIDs, timestamps grow with ``n`` (no timezone)."""
    stamp = (_T0 + timedelta(seconds=n)).isoformat(timespec="microseconds")
    return {
        "id": event_id(n),
        "timestamp": stamp,
        "source": source,
        "parent_id": None,
        "kind": kind,
        **fields,
    }


def status_update(n: int, value: str) -> dict[str, Any]:
    return v1_event(n, "ConversationStateUpdateEvent", "environment", key="execution_status", value=value)


def full_state(n: int, status: str) -> dict[str, Any]:
    return v1_event(
        n, "ConversationStateUpdateEvent", "environment", key="full_state", value={"execution_status": status}
    )


def user_message(n: int, text: str = "Do it.") -> dict[str, Any]:
    return v1_event(
        n, "MessageEvent", "user", llm_message={"role": "user", "content": [{"type": "text", "text": text}]}
    )


def agent_message(n: int, text: str) -> dict[str, Any]:
    return v1_event(
        n,
        "MessageEvent",
        "agent",
        llm_message={"role": "assistant", "content": [{"type": "text", "text": text}]},
    )


def finish_action(n: int, text: str) -> dict[str, Any]:
    return v1_event(
        n, "ActionEvent", "agent", tool_name="finish", action={"message": text, "kind": "FinishAction"}
    )


def error_event(n: int, detail: str | None, code: str = "LLMError") -> dict[str, Any]:
    return v1_event(n, "ConversationErrorEvent", "environment", code=code, detail=detail)


def v1_turn(start: int, answer: str | None = "Task complete.", end: str = "finished") -> list[dict[str, Any]]:
    """A turn as the app server copies it: user message, running, the answer, the end status."""
    events = [user_message(start), status_update(start + 1, "running")]
    if answer is not None:
        events.append(finish_action(start + 2, answer))
    events.append(status_update(start + 3, end))
    return events


class V1Server(_Faults):
    """One V1 conversation (``conversation`` None: unknown), its start task, events, sandbox."""

    def __init__(
        self,
        sandbox: str | None = "RUNNING",
        execution: str | None = "running",
        events: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.conversation: dict[str, Any] | None = (
            None if sandbox is None else app_conversation(sandbox, execution)
        )
        self.task: dict[str, Any] | None = None
        self.events: list[dict[str, Any]] = list(events or [])
        self.timeline: list[Step] = []
        self.reads = 0
        self.task_timeline: list[Step] = []
        self.task_reads = 0
        self.paused_execution: str | None = execution
        self.on_send: Step = None
        self.resuming: int | None = None

    def add(self, *events: dict[str, Any]) -> None:
        self.events.extend(events)

    @property
    def next_n(self) -> int:
        return len(self.events) + 1

    def set(self, **fields: Any) -> None:
        assert self.conversation is not None
        self.conversation.update(fields)

    def run(self, execution: str) -> None:
        """The sandbox runs and the agent is in ``execution``."""
        self.set(sandbox_status="RUNNING", execution_status=execution)

    def pause(self) -> None:
        assert self.conversation is not None
        self.paused_execution = self.conversation["execution_status"]
        self.set(sandbox_status="PAUSED", execution_status=None, conversation_url=None, session_api_key=None)

    def answer(self, request: Request) -> Response:
        fault = self._fault(request)
        if fault is not None:
            return fault
        method, path = request.method, request.path
        p = request.params
        if (method, path) == ("GET", V1_CONVERSATIONS):
            if self.reads < len(self.timeline) and (step := self.timeline[self.reads]) is not None:
                step(self)
            self.reads += 1
            if self.resuming is not None:
                # a resumed sandbox is STARTING for one read, then runs with its old status
                if self.resuming == 0:
                    self.run(str(self.paused_execution))
                    self.resuming = None
                else:
                    self.resuming -= 1
            return json_response([self._conversation(v) for _, v in p])
        if (method, path) == ("POST", V1_CONVERSATIONS):
            self.task = start_task("WORKING", request=request.json)
            return json_response(self.task)
        if (method, path) == ("GET", f"{V1_CONVERSATIONS}/start-tasks"):
            if self.task_reads < len(self.task_timeline) and (step := self.task_timeline[self.task_reads]):
                step(self)
            self.task_reads += 1
            return json_response([self.task if self.task and v == self.task["id"] else None for _, v in p])
        if (method, path) == ("GET", f"{V1_CONVERSATIONS}/start-tasks/search"):
            return json_response({"items": [self.task] if self.task else [], "next_page_id": None})
        if (method, path) == ("GET", V1_EVENTS):
            return json_response(self._search(request))
        if path.startswith(f"{V1_API}/sandboxes/"):
            return self._sandbox(request)
        if path.startswith(V1_PATH):
            return self._conversation_route(request, path[len(V1_PATH) :])
        raise AssertionError(f"unexpected {method} {path}")

    def _conversation(self, wanted: str) -> dict[str, Any] | None:
        if self.conversation is None or wanted != self.conversation["id"]:
            return None
        return dict(self.conversation)

    def _search(self, request: Request) -> dict[str, Any]:
        p = params(request)
        chosen = [e for e in self.events if "kind__eq" not in p or e["kind"] == p["kind__eq"]]
        if "timestamp__gte" in p:  # the server compares ISO strings
            chosen = [e for e in chosen if e["timestamp"] >= p["timestamp__gte"]]
        chosen.sort(key=lambda e: e["timestamp"], reverse=p.get("sort_order") == "TIMESTAMP_DESC")
        offset = int(p.get("page_id", "0"))
        limit = int(p.get("limit", "100"))
        page = chosen[offset : offset + limit]
        more = offset + limit < len(chosen)
        return {"items": page, "next_page_id": str(offset + limit) if more else None}

    def _sandbox(self, request: Request) -> Response:
        sandbox_id, _, action = request.path[len(f"{V1_API}/sandboxes/") :].partition("/")
        if self.conversation is None or sandbox_id != self.conversation["sandbox_id"]:
            return error(404, "Sandbox not found")
        if (request.method, action) == ("POST", "pause"):
            self.pause()
            return json_response({"success": True})
        if (request.method, action) == ("POST", "resume"):
            if self.conversation["sandbox_status"] == "PAUSED":
                self.set(sandbox_status="STARTING")
                self.resuming = 1
            return json_response({"success": True})
        raise AssertionError(f"unexpected {request.method} {request.path}")

    def _conversation_route(self, request: Request, suffix: str) -> Response:
        method = request.method
        if self.conversation is None:
            return error(404, f"Conversation {V1_CID} not found")
        if (method, suffix) == ("POST", "/send-message"):
            status = self.conversation["sandbox_status"]
            if status != "RUNNING":
                return error(
                    409,
                    f"Sandbox is {status}. Use POST /api/v1/sandboxes/{SANDBOX}/resume to resume it first.",
                )
            self.add(user_message(self.next_n, request.json["content"][0]["text"]))
            if self.on_send is not None:
                self.on_send(self)
            return json_response({"success": True, "sandbox_status": "RUNNING", "message": None})
        if (method, suffix) == ("PATCH", ""):
            self.conversation.update(request.json)
            return json_response(self._conversation(V1_CID))
        if (method, suffix) == ("DELETE", ""):
            self.conversation = None
            return json_response({"success": True})
        if (method, suffix) == ("GET", "/download"):
            assert request.stream_to is not None
            return Response(200, {"content-type": "application/zip"}, b"", downloaded=1234)
        raise AssertionError(f"unexpected {method} {request.path}")


def task_ready(server: V1Server) -> None:
    """Timeline step: the start task is READY and its conversation exists (the agent runs)."""
    assert server.task is not None
    server.task.update(status="READY", app_conversation_id=V1_CID)
    if server.conversation is None:
        server.conversation = app_conversation("RUNNING", "running")
