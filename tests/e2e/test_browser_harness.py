"""The browser harness (typescript/browser-test/run-page.mjs) in headless Debian Chromium against the
fake server: a page and its ES module served by ``serve --static`` call the fake from its own origin;
from another origin only with ``--cors``, preflight and session key included.

Skipped only where Chromium, Node or the harness's ``npm ci`` is missing *and* this is not CI: in
CI (``CI=true``, where ``.ci/run`` installs them) a missing piece fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "typescript" / "browser-test"
RUN_PAGE = HARNESS / "run-page.mjs"
PAGE = Path(__file__).parent / "browser_page"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _missing() -> str | None:
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")):
        return "no Chromium (apt-get install -y chromium)"
    if shutil.which("node") is None:
        return "no Node.js"
    if not (HARNESS / "node_modules" / "playwright-core").is_dir():
        return f"the harness is not installed (npm ci in {HARNESS.relative_to(ROOT)})"
    return None


_REASON = _missing()
if _REASON is not None and not _in_ci():
    pytest.skip(f"browser harness: {_REASON}", allow_module_level=True)


@contextmanager
def serve(*flags: str) -> Iterator[str]:
    """The fake as a process (``python -m openhands_api.testing serve FLAGS``); yields its URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    process = subprocess.Popen(
        [sys.executable, "-m", "openhands_api.testing", "serve", "--quiet", "--no-rate-limit", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://"), "the fake did not start"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def run_page(url: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    assert _REASON is None, f"browser harness: {_REASON}"  # in CI, where nothing may skip
    return subprocess.run(
        ["node", str(RUN_PAGE), url, "--timeout", str(timeout)],
        capture_output=True,
        text=True,
        timeout=timeout + 60,
        cwd=HARNESS,
    )


def test_a_page_on_the_fakes_own_origin_calls_it() -> None:
    with serve("--static", str(PAGE)) as url:
        result = run_page(f"{url}/_fake/static/index.html")
    assert (result.returncode, result.stdout) == (0, "PASS\n"), result.stderr


def test_another_origin_needs_cors() -> None:
    with serve("--static", str(PAGE)) as page_url, serve() as api_url:
        result = run_page(f"{page_url}/_fake/static/index.html?api={api_url}")
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("FAIL: TypeError"), result.stdout  # fetch refused by the browser


def test_with_cors_another_origin_calls_it_with_a_key_after_a_preflight() -> None:
    with (
        serve("--static", str(PAGE)) as page_url,
        serve("--cors", page_url, "--session-api-key", "browser-key") as api_url,
    ):
        result = run_page(f"{page_url}/_fake/static/index.html?api={api_url}&key=browser-key")
    assert (result.returncode, result.stdout) == (0, "PASS\n"), result.stderr


def test_no_verdict_is_exit_2_with_the_reason() -> None:
    with serve("--static", str(PAGE)) as url:
        result = run_page(f"{url}/_fake/static/missing.html", timeout=10)
    assert result.returncode == 2
    assert "HTTP 404" in result.stderr
