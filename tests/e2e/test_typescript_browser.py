"""The TypeScript client's built ESM bundle (``npm run build`` → typescript/dist) in headless
Chromium: create → wait → result against the fake server on V0 and V1, from the fake's own origin
(``serve --static``: the page and dist/ under one directory), and once cross-origin with
``--cors`` and a session key (a preflight per keyed request).

Needs what tests/e2e/test_browser_harness.py needs (Chromium, Node, the harness's ``npm ci``) plus
the TypeScript package's ``npm ci``: skipped without them, except in CI.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.test_browser_harness import run_page, serve
from tests.typescript.node import build_dist, skip_unless_installed

skip_unless_installed()

PAGE = Path(__file__).parent / "typescript_page"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page and the freshly built bundle, side by side: what ``--static`` serves."""
    root = tmp_path_factory.mktemp("typescript-site")
    for name in ("index.html", "page.mjs"):
        shutil.copy(PAGE / name, root / name)
    shutil.copytree(build_dist(), root / "dist")
    return root


@pytest.mark.parametrize("version", ["v0", "v1"])
def test_create_wait_result_from_the_fakes_own_origin(site: Path, version: str) -> None:
    with serve("--static", str(site), "--generations", version, "--speed", "5") as url:
        result = run_page(f"{url}/_fake/static/index.html?version={version}")
    assert (result.returncode, result.stdout) == (0, "PASS\n"), result.stderr


def test_create_wait_result_cross_origin_with_cors_and_a_session_key(site: Path) -> None:
    with (
        serve("--static", str(site)) as page_url,
        serve(
            "--cors", page_url, "--session-api-key", "browser-key", "--generations", "v1", "--speed", "5"
        ) as api,
    ):
        result = run_page(f"{page_url}/_fake/static/index.html?version=v1&api={api}&key=browser-key")
    assert (result.returncode, result.stdout) == (0, "PASS\n"), result.stderr
