"""Two rules of the house, read from the source's syntax trees (so no comment or string gets in
the way):

- Outside the generation modules, the detection and the wire models, no code asks which API
  generation it is talking to: a comparison with ``"v0"``/``"v1"`` (either case) is a version
  branch, and what differs between the generations belongs to the ``Generation`` objects.
- The protocol layer takes time from the driver only (``Now``/``Sleep`` steps): it imports no
  clock, sleep or I/O module, and asks no ``datetime`` for the present.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import openhands_api

PACKAGE = Path(openhands_api.__file__).parent
PROTOCOL = PACKAGE / "protocol"

# Where the generations are allowed to be told apart: each generation's routes, operations
# and live stream, the detection, the wire models (and the fake server, which plays both).
GENERATION_MODULES = {
    "protocol/v0.py",
    "protocol/v1.py",
    "protocol/v0_ops.py",
    "protocol/v1_ops.py",
    "protocol/v1_live.py",
    "protocol/detect.py",
    "models.py",
}
VERSION_NAMES = {"v0", "v1"}


def _source_files() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] != "testing"
        and path.relative_to(PACKAGE).as_posix() not in GENERATION_MODULES
    ]


def version_branches(source: str) -> list[int]:
    """The lines of ``source`` that compare something with a generation's name (== or !=)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare) or not any(
            isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops
        ):
            continue
        operands = [node.left, *node.comparators]
        if any(
            isinstance(o, ast.Constant) and isinstance(o.value, str) and o.value.lower() in VERSION_NAMES
            for o in operands
        ):
            lines.append(node.lineno)
    return lines


def test_the_rule_finds_a_version_branch() -> None:
    assert version_branches('if version == "v1":\n    pass\nx = "V0" != kind\ny = v == "auto"\n') == [1, 3]


def test_no_code_outside_the_generation_modules_asks_which_version_it_is_talking_to() -> None:
    assert all((PACKAGE / name).is_file() for name in GENERATION_MODULES)
    found = {
        f"{path.relative_to(PACKAGE).as_posix()}:{line}"
        for path in _source_files()
        for line in version_branches(path.read_text(encoding="utf-8"))
    }
    assert found == set(), "what differs between the generations belongs on Generation"


# Modules whose import would give the protocol layer a clock, a sleep or I/O of its own.
NO_IO_IMPORTS = {
    "time",
    "asyncio",
    "socket",
    "select",
    "selectors",
    "httpx",
    "httpcore",
    "websockets",
    "anyio",
}
PRESENT_TENSE = {"now", "utcnow", "today", "monotonic", "perf_counter", "time_ns", "monotonic_ns"}


def clock_uses(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                f"{node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] in NO_IO_IMPORTS
            ]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            if (node.module or "").split(".")[0] in NO_IO_IMPORTS:
                found.append(f"{node.lineno}: from {node.module} import …")
        elif isinstance(node, ast.Attribute) and node.attr in PRESENT_TENSE:
            found.append(f"{node.lineno}: .{node.attr}")
    return found


def test_the_clock_rule_finds_a_clock() -> None:
    source = "import time\nfrom asyncio import sleep\nx = datetime.now(tz=utc)\ny = Now()\n"
    assert clock_uses(source) == ["1: import time", "2: from asyncio import …", "3: .now"]


@pytest.mark.parametrize("path", sorted(PROTOCOL.glob("*.py")), ids=lambda p: p.name)
def test_the_protocol_layer_takes_time_from_the_driver_only(path: Path) -> None:
    assert clock_uses(path.read_text(encoding="utf-8")) == []


def test_each_generation_implements_every_operation_of_the_interface() -> None:
    """The type checker says it first (``_base_client._every_generation_is_complete``)."""
    from openhands_api._base_client import GENERATIONS
    from openhands_api.protocol.generation import Generation

    assert Generation.__abstractmethods__
    for version, generation in GENERATIONS.items():
        assert generation.version == version
        assert generation.__abstractmethods__ == frozenset(), version
