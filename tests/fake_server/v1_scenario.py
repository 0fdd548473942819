"""One V1 scenario, run against the fake and (by hand) a real openhands-ai 1.11.0 server, compared.

The scenario: create → READY → ``finished``; events; send-message → ``finished``; pause → 409
on send → resume → send → ``finished``; download the zip; delete. ``run_scenario(base_url)``
returns a transcript whose ids and timestamps are normalised, so two transcripts can be
compared structurally: status codes, key lists, value types, statuses, event kind sequences.

Against a real server (the kit in ``shared/real-server``; pace ≤ 4 requests/s)::

    python3 shared/real-server/oh-real-server start v1 --workdir /tmp/oh-v1 --webhook-flush-delay 1
    .venv/bin/python -m tests.fake_server.v1_scenario http://127.0.0.1:<port>
    python3 shared/real-server/oh-real-server stop --workdir /tmp/oh-v1 --rm

Without an argument it only runs against the fake. ``test_v1_scenario.py`` runs it against the
fake in the test suite.
"""

from __future__ import annotations

import io
import json
import re
import sys
import time
import uuid
import zipfile
from typing import Any

import httpx

PACE = 0.26
"""Seconds between requests: the real server's limiter allows 10/s per IP, its webhooks share it."""

MESSAGE = "Say hello and finish."

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX = re.compile(r"\b[0-9a-f]{32}\b")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?")


class Paced:
    """A client that never sends more than one request per ``pace`` seconds."""

    def __init__(self, base_url: str, pace: float) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=60)
        self.pace = pace
        self._last = 0.0

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        wait = self._last + self.pace - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            return self.client.request(method, path, **kwargs)
        finally:
            self._last = time.monotonic()

    def close(self) -> None:
        self.client.close()


def normalise(text: str, names: dict[str, str]) -> str:
    """Ids become ``<conversation>``, ``<sandbox>``… (``names`` maps real values to labels),
    other UUIDs ``<uuid>``, datetimes ``<time>``."""
    for value, label in names.items():
        if value:
            text = text.replace(value, label)
    text = _UUID.sub("<uuid>", text)
    text = _HEX.sub("<hex>", text)
    return _TIME.sub("<time>", text)


def shape(value: Any) -> Any:
    """Keys (in order) and value types, recursively; lists by the shapes they contain."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        shapes: list[Any] = []
        for item in value:
            if shape(item) not in shapes:
                shapes.append(shape(item))
        return shapes
    return type(value).__name__


class Scenario:
    def __init__(self, base_url: str, pace: float, settle: float) -> None:
        self.http = Paced(base_url, pace)
        self.settle = settle
        self.names: dict[str, str] = {}
        self.steps: list[dict[str, Any]] = []

    # ---------------------------------------------------------------- recording
    def record(self, name: str, response: httpx.Response, **values: Any) -> Any:
        content_type = response.headers.get("content-type", "")
        body: Any = response.json() if "json" in content_type else None
        step = {
            "step": name,
            "status": response.status_code,
            "content_type": content_type.split(";")[0],
            "shape": shape(body),
        }
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            step["detail"] = body["detail"]
        step.update(values)
        self.steps.append(json.loads(normalise(json.dumps(step), self.names)))
        return body

    def call(self, name: str, method: str, path: str, **kwargs: Any) -> Any:
        return self.record(name, self.http.request(method, path, **kwargs))

    # ---------------------------------------------------------------- polling
    def conversation(self, conversation_id: str) -> dict[str, Any]:
        response = self.http.request("GET", "/api/v1/app-conversations", params={"ids": conversation_id})
        data: dict[str, Any] = response.json()[0]
        return data

    def wait_for(
        self, conversation_id: str, statuses: set[str], timeout: float = 60, finishes: int = 1
    ) -> list[str]:
        """Poll until ``execution_status`` is in ``statuses`` and at least ``finishes`` finish
        actions are listed; the distinct statuses seen. Counting finishes keeps the previous
        run's ``finished``, still shown right after a send-message, from ending the wait."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.conversation(conversation_id)["execution_status"]
            if not seen or seen[-1] != status:
                seen.append(status)
            if status in statuses and self.finish_actions(conversation_id) >= finishes:
                return seen
        raise TimeoutError(f"no execution_status in {statuses} after {finishes} finishes: {seen}")

    def finish_actions(self, conversation_id: str) -> int:
        page = self.http.request(
            "GET",
            f"/api/v1/conversation/{conversation_id}/events/search",
            params={"kind__eq": "ActionEvent", "limit": 100},
        ).json()
        return sum(1 for e in page["items"] if e.get("action", {}).get("kind") == "FinishAction")

    def event_kinds(self, conversation_id: str, name: str) -> list[str]:
        """Event kinds (state updates with their key) once the list has settled."""
        previous = -1
        for _ in range(40):
            count = self.http.request("GET", f"/api/v1/conversation/{conversation_id}/events/count").json()
            if count == previous:
                break
            previous = count
            time.sleep(self.settle)  # the real app server gets events by webhook, in batches
        page = self.call(
            name, "GET", f"/api/v1/conversation/{conversation_id}/events/search", params={"limit": 100}
        )
        kinds = [
            e["kind"] + (f"({e['key']})" if e["kind"] == "ConversationStateUpdateEvent" else "")
            for e in page["items"]
        ]
        self.steps[-1]["kinds"] = kinds
        return kinds

    def send(self, name: str, conversation_id: str, text: str) -> httpx.Response:
        body = {"role": "user", "content": [{"type": "text", "text": text}], "run": True}
        response = self.http.request(
            "POST", f"/api/v1/app-conversations/{conversation_id}/send-message", json=body
        )
        self.record(name, response)
        return response

    # ---------------------------------------------------------------- the scenario
    def run(self) -> list[dict[str, Any]]:
        body = {
            "initial_message": {"role": "user", "content": [{"type": "text", "text": MESSAGE}], "run": True}
        }
        task = self.call("create", "POST", "/api/v1/app-conversations", json=body)
        self.names[task["id"]] = "<task>"
        self.steps[-1]["task_status"] = task["status"]
        deadline = time.monotonic() + 120
        while task["status"] not in ("READY", "ERROR") and time.monotonic() < deadline:
            task = self.http.request(
                "GET", "/api/v1/app-conversations/start-tasks", params={"ids": task["id"]}
            ).json()[0]
        conversation_id = task["app_conversation_id"]
        self.names.update({conversation_id: "<conversation>", task["sandbox_id"]: "<sandbox>"})
        dashed = str(uuid.UUID(conversation_id))
        self.names[dashed] = "<conversation-dashed>"
        self.names[task["agent_server_url"]] = "<agent-server>"
        self.call(
            "start task READY", "GET", "/api/v1/app-conversations/start-tasks", params={"ids": task["id"]}
        )
        self.steps[-1]["task_status"] = task["status"]

        self.wait_for(conversation_id, {"finished", "error"})
        info = self.call(
            "conversation finished", "GET", "/api/v1/app-conversations", params={"ids": conversation_id}
        )
        self.names[info[0]["session_api_key"]] = "<session-key>"
        self.steps[-1]["live"] = {k: info[0][k] for k in ("sandbox_status", "execution_status")}
        self.event_kinds(conversation_id, "events after the first run")

        self.send("send-message", conversation_id, "Now say bye and finish.")
        self.steps[-1]["after"] = self.wait_for(conversation_id, {"finished", "error"}, finishes=2)[-1]
        self.event_kinds(conversation_id, "events after the follow-up")

        sandbox_id = task["sandbox_id"]
        self.call("pause", "POST", f"/api/v1/sandboxes/{sandbox_id}/pause")
        paused = self.call(
            "conversation paused", "GET", "/api/v1/app-conversations", params={"ids": conversation_id}
        )
        self.steps[-1]["live"] = {
            k: paused[0][k]
            for k in ("sandbox_status", "execution_status", "conversation_url", "session_api_key")
        }
        self.send("send-message while paused", conversation_id, "Are you there?")
        self.call("resume", "POST", f"/api/v1/sandboxes/{sandbox_id}/resume")
        resumed = self.call(
            "conversation resumed", "GET", "/api/v1/app-conversations", params={"ids": conversation_id}
        )
        self.steps[-1]["live"] = {k: resumed[0][k] for k in ("sandbox_status", "execution_status")}
        self.send("send-message after resume", conversation_id, "One more time, then finish.")
        self.steps[-1]["after"] = self.wait_for(conversation_id, {"finished", "error"}, finishes=3)[-1]
        self.event_kinds(conversation_id, "events after the third run")

        event_count = len(self.steps[-1]["kinds"])
        response = self.http.request("GET", f"/api/v1/app-conversations/{conversation_id}/download")
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        names = archive.namelist()
        meta = json.loads(archive.read("meta.json"))
        self.record(
            "download",
            response,
            disposition=response.headers.get("content-disposition"),
            entries=[re.sub(r"_\d{6}_", "_NNNNNN_", n) for n in names[:2]],
            entries_match_events=len(names) - 1 == event_count,
            meta=shape(meta),
        )

        self.call("delete", "DELETE", f"/api/v1/app-conversations/{conversation_id}")
        gone = self.call(
            "conversation deleted", "GET", "/api/v1/app-conversations", params={"ids": conversation_id}
        )
        self.steps[-1]["value"] = gone
        self.call("delete again", "DELETE", f"/api/v1/app-conversations/{conversation_id}")
        self.http.close()
        return self.steps


def run_scenario(base_url: str, *, pace: float = PACE, settle: float = 0.7) -> list[dict[str, Any]]:
    """The transcript of the scenario against ``base_url``; ``pace`` seconds between requests,
    ``settle`` seconds between the event counts that decide the list is complete."""
    return Scenario(base_url, pace, settle).run()


def differences(fake: list[dict[str, Any]], real: list[dict[str, Any]]) -> list[str]:
    """Human-readable differences between two transcripts, step by step."""
    out = []
    for fake_step, real_step in zip(fake, real, strict=False):
        for key in sorted(set(fake_step) | set(real_step)):
            if fake_step.get(key) != real_step.get(key):
                out.append(
                    f"{fake_step.get('step')}: {key}\n  fake: {json.dumps(fake_step.get(key))}\n"
                    f"  real: {json.dumps(real_step.get(key))}"
                )
    if len(fake) != len(real):
        out.append(f"step count: fake {len(fake)}, real {len(real)}")
    return out


def main(argv: list[str]) -> int:
    from openhands_api.testing import FakeOpenHandsServer

    with FakeOpenHandsServer(generations="v1") as server:
        # Settings like the kit stores them (its fake LLM's URL), so the agent dumps compare.
        server.state.store_settings(
            {**(server.state.settings or {}), "llm_base_url": "http://127.0.0.1:9/v1"}
        )
        fake = run_scenario(server.base_url)
    if len(argv) < 2:
        print(json.dumps(fake, indent=1))
        return 0
    real = run_scenario(argv[1])
    found = differences(fake, real)
    print("\n".join(found) if found else "no structural differences")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
