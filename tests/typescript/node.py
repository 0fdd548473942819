"""Running the TypeScript client (typescript/) from pytest: its npm scripts and its built bundle.

The TypeScript package has its own lock file; ``.ci/run`` installs it (``npm ci``). Tests that
need it skip outside CI when Node or ``node_modules`` is missing, and fail in CI (``CI=true``),
where nothing may skip.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TYPESCRIPT = ROOT / "typescript"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing() -> str | None:
    """Why the TypeScript package cannot run here, or None."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "no Node.js / npm"
    if not (TYPESCRIPT / "node_modules" / "typescript").is_dir():
        return "the TypeScript package is not installed (npm ci in typescript/)"
    return None


def skip_unless_installed() -> None:
    """Skip the calling module when the package cannot run, except in CI."""
    reason = missing()
    if reason is not None and not in_ci():
        pytest.skip(f"typescript: {reason}", allow_module_level=True)


def npm_env() -> dict[str, str]:
    """The environment for npm scripts: this interpreter runs the fake server, this src/ first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    env["OPENHANDS_API_PYTHON"] = sys.executable
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def npm(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    reason = missing()
    assert reason is None, f"typescript: {reason}"  # in CI, where nothing may skip
    return subprocess.run(
        ["npm", "--silent", *args],
        cwd=TYPESCRIPT,
        env=npm_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@functools.cache
def build_dist() -> Path:
    """``npm run build`` once per test process: the ESM bundle and its declarations, as in dist/,
    but in a directory of this process's own (``--outDir``), so that another build or an
    ``npm pack`` (whose prepack empties dist/) cannot change it under a running test."""
    out = Path(tempfile.mkdtemp(prefix="openhands-api-ts-dist-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    done = npm("run", "build", "--", "--outDir", str(out), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "index.js").is_file()
    return out
