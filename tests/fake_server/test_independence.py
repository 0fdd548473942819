"""The fake server stands on its own: nothing in ``openhands_api.testing`` imports the client.

A fake that borrowed the client's models, protocol tables or errors would agree with the
client by construction, and tests of the client against it would prove nothing. So every
module under ``src/openhands_api/testing`` may import from the standard library, third-party
packages and ``openhands_api.testing`` itself, never from the rest of ``openhands_api``.

The imports are read from the syntax tree (``import`` and ``from … import`` statements
anywhere in a module: ``TYPE_CHECKING`` blocks and function bodies included), relative ones
resolved against the module's package, so neither strings nor relative spelling get past it.
A relative import must also name a module that exists in the package: ``from ..protocol
import v0`` in ``testing/v0/routes.py`` means ``openhands_api.testing.protocol``, which is
no module of the fake's, so it is refused as well.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import openhands_api.testing

TESTING_DIR = Path(openhands_api.testing.__file__).parent
PACKAGE = "openhands_api.testing"
BEYOND_TOP = "<beyond the top-level package>"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(TESTING_DIR).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def fake_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(TESTING_DIR.rglob("*.py"))}


@dataclass(frozen=True)
class Imported:
    line: int
    module: str
    """The module the statement imports (``from X import a``: ``X``), absolute."""
    names: tuple[str, ...] = ()
    """``from X import a, b``: ``a``, ``b`` (attributes of ``X`` or its submodules)."""


def imports_of(source: str, module: str, *, is_package: bool) -> list[Imported]:
    """Every import statement in ``source``, resolved as Python resolves it in ``module``."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Imported] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Imported(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            if not node.level:
                found.append(Imported(node.lineno, node.module or "", names))
                continue
            parts = package.split(".")
            if node.level - 1 >= len(parts):
                found.append(Imported(node.lineno, BEYOND_TOP, names))
                continue
            base = ".".join(parts[: len(parts) - (node.level - 1)])
            found.append(Imported(node.lineno, f"{base}.{node.module}" if node.module else base, names))
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(source: str, module: str, known: set[str], *, is_package: bool = False) -> list[str]:
    """What ``source`` (as ``module``) imports that the fake may not: ``line N: module``."""
    problems = []
    for imported in imports_of(source, module, is_package=is_package):
        targets = [imported.module] + [f"{imported.module}.{name}" for name in imported.names if name != "*"]
        if imported.module == BEYOND_TOP:
            problems.append(f"line {imported.line}: {BEYOND_TOP}")
        elif any(within(t, "openhands_api") and not within(t, PACKAGE) for t in targets):
            problems.append(f"line {imported.line}: {imported.module} is outside {PACKAGE}")
        elif within(imported.module, PACKAGE) and imported.module not in known:
            problems.append(f"line {imported.line}: {imported.module} is no module of the fake")
    return problems


KNOWN = set(fake_modules())


def test_the_fake_server_imports_nothing_from_openhands_api_outside_testing() -> None:
    modules = fake_modules()
    assert len(modules) > 30, sorted(modules)  # the walk found the sub-packages too
    problems = {}
    resolved = set()
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        source = path.read_text(encoding="utf-8")
        problems[name] = violations(source, name, KNOWN, is_package=is_package)
        resolved |= {i.module for i in imports_of(source, name, is_package=is_package)}
    assert {name: found for name, found in problems.items() if found} == {}
    # Not vacuous: relative imports from sub-packages were seen and resolved.
    assert {"openhands_api.testing.core.state", "openhands_api.testing.faults.crash"} <= resolved


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        # ``..protocol`` from a sub-package stays inside testing, where there is no such module
        (
            "openhands_api.testing.v0.routes",
            "from ..protocol import v0",
            ["line 1: openhands_api.testing.protocol is no module of the fake"],
        ),
        (
            "openhands_api.testing.v0.routes",
            "from ...protocol import v0",
            ["line 1: openhands_api.protocol is outside openhands_api.testing"],
        ),
        (
            "openhands_api.testing.v0.routes",
            "from ... import errors",
            ["line 1: openhands_api is outside openhands_api.testing"],
        ),
        (
            "openhands_api.testing.pytest_plugin",
            "from ..protocol import v0",
            ["line 1: openhands_api.protocol is outside openhands_api.testing"],
        ),
        ("openhands_api.testing.v1.routes", "from ...... import x", [f"line 1: {BEYOND_TOP}"]),
        (
            "openhands_api.testing.v1.routes",
            "import openhands_api.models",
            ["line 1: openhands_api.models is outside openhands_api.testing"],
        ),
        (
            "openhands_api.testing.v1.routes",
            "from openhands_api import errors",
            ["line 1: openhands_api is outside openhands_api.testing"],
        ),
        (
            "openhands_api.testing.v1.routes",
            "if TYPE_CHECKING:\n    from ...client import OpenHandsAPI",
            ["line 2: openhands_api.client is outside openhands_api.testing"],
        ),
        (
            "openhands_api.testing.v1.routes",
            "def f():\n    import openhands_api.protocol.v1",
            ["line 2: openhands_api.protocol.v1 is outside openhands_api.testing"],
        ),
        (
            "openhands_api.testing.v1.routes",
            "from ..core import error_bodies as bodies\nfrom .models import EventKind",
            [],
        ),
        ("openhands_api.testing.v1.routes", "from openhands_api.testing import FakeState\nimport httpx", []),
        (
            "openhands_api.testing.v1.routes",
            'TEXT = "from openhands_api import models"\n"import openhands_api.client"',
            [],
        ),
    ],
)
def test_the_check_resolves_imports_as_python_does(module: str, source: str, expected: list[str]) -> None:
    assert violations(source, module, KNOWN) == expected


def test_a_package_resolves_relative_imports_against_itself() -> None:
    # In openhands_api/testing/__init__.py ``.`` is openhands_api.testing and ``..`` openhands_api.
    assert violations("from .core import state", PACKAGE, KNOWN, is_package=True) == []
    assert violations("from ..protocol import v0", PACKAGE, KNOWN, is_package=True) == [
        "line 1: openhands_api.protocol is outside openhands_api.testing"
    ]
