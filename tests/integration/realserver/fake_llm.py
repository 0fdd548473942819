"""A tiny OpenAI-compatible fake LLM that scripts the agent of the real OpenHands server.

Responsible for: answering the server's LLM calls deterministically, so that an
agent run is fast, free and reproducible. Not responsible for: starting or
stopping itself (``harness.py`` does that, one fake LLM per server). Standard
library only, so it runs under any Python >= 3.10 (the harness uses the test
process's interpreter).

Serves, on 127.0.0.1:

  GET  /v1/models                 -> one model, "fake"
  POST /v1/chat/completions       -> see below (``stream: true`` gives SSE chunks)

How it answers a chat-completions request:

* Agent step, native function calling (the request has a tool named "finish";
  V1 agents always, V0 only with LLM_NATIVE_TOOL_CALLING=true): one ``tool_calls``
  entry. Required arguments are filled from the tool's JSON schema (enums pick
  "LOW" if offered, e.g. V1's ``security_risk``).
* Agent step, prompt-based function calling (V0's default for unknown models: the
  tools are described in the prompt, e.g. "---- BEGIN FUNCTION #3: finish ----"):
  plain text ``<function=finish>\\n<parameter=message>...</parameter>\\n</function>``.
* Anything else (title generation, condenser summaries): the text "Fake title".

Knobs (command-line flag, environment variable, or a directive in a user message;
a directive wins, and later directives win over earlier ones, so one server can
host differently-behaving conversations):

  --steps N     FAKE_LLM_STEPS=N      "[fake-llm steps=N]"
      Before ending the turn, call the harmless ``think`` tool N times per user
      turn (each step adds an action and an observation event).
  --error [S]   FAKE_LLM_ERROR=S      "[fake-llm error]" / "[fake-llm error=S]"
      Instead of finishing, answer agent steps with HTTP status S (default 500)
      and an OpenAI-style error body. With steps, the N think steps happen first.
      Title/summary requests are still answered normally. "[fake-llm noerror]"
      cancels a server-wide --error. The harness turns the servers' own LLM
      retries off; the OpenAI client inside litellm still retries a 500 twice.
  --ask         FAKE_LLM_ASK=1        "[fake-llm ask]" / "[fake-llm noask]"
      End the turn with a plain assistant text message (``ASK_TEXT``, no tool
      call) instead of a ``finish`` call: the agent "asks the user something".
      With steps, the N think steps happen first; an error wins over ask.
      Observed (test_harness.py and by hand, openhands-ai 1.6.0 and 1.11.0):
        V0: the agent emits a ``message`` action (source agent, ``args.content``
            = ASK_TEXT, ``wait_for_response: true``), then ``agent_state_changed``
            -> ``awaiting_user_input``; no ``finish`` action; the conversation's
            ``status`` stays ``RUNNING``. Same as a follow-up message; a further
            message ("[fake-llm noask]") runs a normal turn to ``finished``.
        V1: there is no "waiting for the user" state: the SDK agent treats a
            text-only answer as the end of the run, so ``execution_status``
            becomes ``finished`` (never ``idle``). The app server's events end
            ``...(execution_status=running)``, ``StreamingDeltaEvent`` (agent; V1
            streams completions), ``MessageEvent`` (source agent,
            ``llm_message.content[0].text`` = ASK_TEXT), ``...(execution_status=
            finished)``; no ``ActionEvent`` at all. As a follow-up (send-message)
            the status goes finished -> idle -> running -> finished.
  --delay SEC   FAKE_LLM_DELAY=SEC    "[fake-llm delay=SEC]"
      Sleep SEC seconds before answering each agent step.

Directives combine ("[fake-llm steps=2 error=400]", "[fake-llm steps=1 ask]").

Every request is logged as one JSON line to --log (if given); --log-bodies
(FAKE_LLM_LOG_BODIES=1) adds the full request body to each line.

Usage:
  python fake_llm.py [--port PORT] [--port-file FILE] [--log FILE]
                     [--steps N] [--error [STATUS]] [--ask] [--delay SEC]
--port 0 (the default) binds a free port; --port-file receives the bound port.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FINISH_NAMES = ("finish", "Finish", "FinishTool")
THINK_NAMES = ("think", "Think", "ThinkTool")
FINISH_TEXT = "Task complete (fake LLM)."
ASK_TEXT = "Which file should I look at next? (fake LLM asks)"
TITLE_TEXT = "Fake title"
DIRECTIVE_RE = re.compile(r"\[fake-llm\s+([^\]]*)\]")
# V0's prompt-based function calling describes each tool in the prompt like this
PROMPT_TOOL_RE = r"BEGIN FUNCTION #\d+: {name} ----"
PROMPT_CALL_RE = re.compile(r"<function=([A-Za-z_][\w-]*)>")
# V0's prompt-based mode sends tool results back as user messages starting like this
TOOL_RESULT_PREFIX = "EXECUTION RESULT of ["

CONFIG: dict[str, Any] = {
    "steps": 0,
    "error": None,
    "ask": False,
    "delay": 0.0,
    "log": None,
    "log_bodies": False,
}
_log_lock = threading.Lock()


# ------------------------------------------------------------------ small functions
def text_of(content: Any) -> str:
    """Flatten an OpenAI message ``content`` (str or list of parts) to text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text") or "") if isinstance(part, dict) else str(part) for part in content
        )
    return str(content)


def parse_directives(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Collect "[fake-llm key=value ...]" directives from user messages (later wins)."""
    found: dict[str, Any] = {}
    for message in messages:
        if message.get("role") != "user":
            continue
        for body in DIRECTIVE_RE.findall(text_of(message.get("content"))):
            for token in body.split():
                key, _, value = token.partition("=")
                key = key.strip().lower()
                if key == "steps":
                    found["steps"] = int(value or 0)
                elif key == "error":
                    found["error"] = int(value) if value else 500
                elif key == "noerror":
                    found["error"] = None
                elif key == "ask":
                    found["ask"] = True
                elif key == "noask":
                    found["ask"] = False
                elif key == "delay":
                    found["delay"] = float(value or 0)
    return found


def fill(schema: dict[str, Any]) -> Any:
    """A value that satisfies a (simple) JSON schema."""
    if "enum" in schema:
        values = schema["enum"]
        return "LOW" if "LOW" in values else values[0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return fill(schema[key][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((x for x in kind if x != "null"), "string")
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return 0
    if kind == "array":
        return []
    if kind == "object":
        props = schema.get("properties", {})
        return {k: fill(props.get(k, {})) for k in schema.get("required", [])}
    return FINISH_TEXT


def build_args(tool: dict[str, Any], text: str) -> dict[str, Any]:
    """Arguments for a native tool call: required ones filled, the text in message/thought."""
    params = tool.get("function", {}).get("parameters") or {}
    props = params.get("properties", {})
    args = {k: fill(props.get(k, {})) for k in params.get("required", [])}
    for key in ("message", "thought"):
        if key in props:
            args[key] = text
    return args


def count_turn_steps(messages: list[dict[str, Any]], native: bool) -> int:
    """Number of think calls the model made in the current user turn.

    A turn starts at a user message that is not a tool result, or after a finish
    call. The fake LLM is stateless, so the count is read from the history the
    server sends with every request.
    """
    n = 0
    for message in messages:
        role = message.get("role")
        if role == "user":
            if not text_of(message.get("content")).lstrip().startswith(TOOL_RESULT_PREFIX):
                n = 0
            continue
        if role != "assistant":
            continue
        if native:
            names = [(c.get("function") or {}).get("name") for c in message.get("tool_calls") or []]
        else:
            names = PROMPT_CALL_RE.findall(text_of(message.get("content")))
        for name in names:
            if name in FINISH_NAMES:
                n = 0
            elif name in THINK_NAMES:
                n += 1
    return n


def prompt_call(name: str, parameter: str, text: str) -> str:
    """A tool call in V0's prompt-based function-calling syntax."""
    return f"<function={name}>\n<parameter={parameter}>{text}</parameter>\n</function>"


def log(entry: dict[str, Any]) -> None:
    if not CONFIG["log"]:
        return
    with _log_lock, open(CONFIG["log"], "a") as f:
        f.write(json.dumps(entry) + "\n")


def choose_action(body: dict[str, Any]) -> tuple[str, str, dict[str, Any], int]:
    """Decide how to answer: (mode, action, knobs, think steps done in this turn).

    mode: "native" (tool_calls), "prompt" (V0's text function calls) or "text" (no
    agent tools: title/summary). action: "title", "think", "finish", "ask" or "error".
    """
    messages = body.get("messages") or []
    by_name = {(t.get("function") or {}).get("name"): t for t in body.get("tools") or []}
    knobs = {k: CONFIG[k] for k in ("steps", "error", "ask", "delay")}
    knobs.update(parse_directives(messages))

    all_text = "\n".join(text_of(m.get("content")) for m in messages)
    if any(n in by_name for n in FINISH_NAMES):
        mode = "native"
    elif re.search(PROMPT_TOOL_RE.format(name="finish"), all_text):
        mode = "prompt"
    else:
        return "text", "title", knobs, 0

    done = count_turn_steps(messages, native=(mode == "native"))
    end_of_turn = "error" if knobs["error"] else ("ask" if knobs["ask"] else "finish")
    if done < knobs["steps"]:
        if mode == "native":
            has_think = any(n in by_name for n in THINK_NAMES)
        else:
            has_think = bool(re.search(PROMPT_TOOL_RE.format(name="think"), all_text))
        action = "think" if has_think else end_of_turn
    else:
        action = end_of_turn
    return mode, action, knobs, done


# ----------------------------------------------------------------------- handler
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeLLM/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep stderr quiet: requests go to the JSON-lines log

    def _send_json(self, code: int, obj: Any) -> None:
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.split("?")[0].rstrip("/").endswith("/models"):
            model = {"id": "fake", "object": "model", "created": 0, "owned_by": "fake"}
            return self._send_json(200, {"object": "list", "data": [model]})
        self._send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            error = {"message": "invalid JSON", "type": "invalid_request_error"}
            return self._send_json(400, {"error": error})
        if not self.path.split("?")[0].rstrip("/").endswith("/chat/completions"):
            error = {"message": "only /v1/chat/completions", "type": "invalid_request_error"}
            return self._send_json(404, {"error": error})
        # the server may give up on a request (timeout, shutdown): nothing to answer then
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._complete(body)

    def _complete(self, body: dict[str, Any]) -> None:
        mode, action, knobs, done = choose_action(body)
        by_name = {(t.get("function") or {}).get("name"): t for t in body.get("tools") or []}
        log(
            {
                "t": round(time.time(), 3),
                "model": body.get("model"),
                "stream": bool(body.get("stream")),
                "n_messages": len(body.get("messages") or []),
                "tools": list(by_name),
                "mode": mode,
                "action": action,
                "turn_steps_done": done,
                "knobs": knobs,
                **({"request": body} if CONFIG["log_bodies"] else {}),
            }
        )

        if action != "title" and knobs["delay"] > 0:
            time.sleep(knobs["delay"])
        if action == "error":
            status = int(knobs["error"])
            error = {
                "message": f"Fake LLM error (injected, HTTP {status}).",
                "type": "server_error" if status >= 500 else "invalid_request_error",
                "param": None,
                "code": str(status),
            }
            return self._send_json(status, {"error": error})

        call = None
        think_text = f"Fake step {done + 1} of {knobs['steps']}."
        if action == "title":
            content: str | None = TITLE_TEXT
        elif action == "ask":
            content = ASK_TEXT  # no tool call, in both modes
        elif mode == "native":
            names = THINK_NAMES if action == "think" else FINISH_NAMES
            tool = next(by_name[n] for n in names if n in by_name)
            text = think_text if action == "think" else FINISH_TEXT
            call = {
                "id": "call_" + uuid.uuid4().hex[:24],
                "type": "function",
                "function": {
                    "name": tool["function"]["name"],
                    "arguments": json.dumps(build_args(tool, text)),
                },
            }
            content = None
        elif action == "think":  # V0 prompt-based function calling
            content = prompt_call("think", "thought", think_text)
        else:
            content = prompt_call("finish", "message", FINISH_TEXT)
        finish_reason = "tool_calls" if call else "stop"
        self._send_completion(body, content, call, finish_reason)

    def _send_completion(
        self,
        body: dict[str, Any],
        content: str | None,
        call: dict[str, Any] | None,
        finish_reason: str,
    ) -> None:
        completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
        model = body.get("model") or "fake"
        created = int(time.time())
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        if body.get("stream"):
            delta: dict[str, Any] = {"role": "assistant"}
            if call:
                delta["tool_calls"] = [dict(call, index=0)]
            else:
                delta["content"] = content
            head = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
            }
            chunks = [
                {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
                {
                    **head,
                    "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}],
                    "usage": usage,
                },
            ]
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for chunk in chunks:
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True
            return
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if call:
            message["tool_calls"] = [call]
        choice = {"index": 0, "message": message, "finish_reason": finish_reason}
        self._send_json(
            200,
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "usage": usage,
                "choices": [choice],
            },
        )


# -------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    env = os.environ
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(env.get("FAKE_LLM_PORT", "0")))
    p.add_argument("--port-file", help="write the bound port here once listening")
    p.add_argument("--log", default=env.get("FAKE_LLM_LOG"), help="JSON-lines request log")
    p.add_argument(
        "--log-bodies",
        action="store_true",
        default=env.get("FAKE_LLM_LOG_BODIES", "") not in ("", "0"),
        help="also log each full request body",
    )
    p.add_argument("--steps", type=int, default=int(env.get("FAKE_LLM_STEPS") or 0))
    p.add_argument(
        "--error",
        nargs="?",
        type=int,
        const=500,
        default=int(env["FAKE_LLM_ERROR"]) if env.get("FAKE_LLM_ERROR") else None,
        help="answer agent steps with this HTTP status (default 500)",
    )
    p.add_argument(
        "--ask",
        action="store_true",
        default=env.get("FAKE_LLM_ASK", "") not in ("", "0"),
        help="end each turn with a plain text message instead of finish",
    )
    p.add_argument("--delay", type=float, default=float(env.get("FAKE_LLM_DELAY") or 0))
    a = p.parse_args(argv)
    CONFIG.update(steps=a.steps, error=a.error, ask=a.ask, delay=a.delay, log=a.log, log_bodies=a.log_bodies)

    server = ThreadingHTTPServer((a.host, a.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    if a.port_file:
        # written atomically: the harness polls for this file to learn the port
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, a.port_file)
    print(
        f"fake LLM listening on http://{a.host}:{port}/v1 "
        f"(steps={a.steps}, error={a.error}, ask={a.ask}, delay={a.delay})",
        file=sys.stderr,
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
