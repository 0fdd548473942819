"""A scripted driver for protocol operations: tests that an op makes the right requests and
decisions, with answers given by a function instead of a server (no sockets, no sleeping).

The op sees real ``Response`` objects, parsed by the route's own parser, exactly as the
clients hand them over.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openhands_api.errors import OpenHandsError
from openhands_api.protocol.http import Call, Emit, Now, Op, Progress, Request, Response, Sleep

WALL_EPOCH = 1_800_000_000.0


def json_response(body: Any, status: int = 200) -> Response:
    return Response(status, {"content-type": "application/json"}, json.dumps(body).encode())


@dataclass
class Driver:
    """Runs an op; ``answer(request)`` returns a Response or raises an OpenHandsError."""

    answer: Callable[[Request], Response]
    now: float = 0.0
    requests: list[Request] = field(default_factory=list)
    emitted: list[Any] = field(default_factory=list)
    progress: list[Any] = field(default_factory=list)

    def run(self, op: Op[Any]) -> Any:
        value: Any = None
        error: OpenHandsError | None = None
        while True:
            try:
                step = op.throw(error) if error is not None else op.send(value)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            if isinstance(step, Call):
                self.requests.append(step.request)
                try:
                    value = step.parse(self.answer(step.request))
                except OpenHandsError as exc:
                    error = exc
            elif isinstance(step, Now):
                value = WALL_EPOCH + self.now if step.wall else self.now
            elif isinstance(step, Sleep):
                self.now += step.seconds
            elif isinstance(step, Emit):
                self.emitted.append(step.item)
            elif isinstance(step, Progress):
                self.progress.append(step.item)

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.path == path)

    def calls(self) -> list[str]:
        """Every request as ``"METHOD path"``, in order."""
        return [r.describe() for r in self.requests]
