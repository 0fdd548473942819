"""client.py is generated from aio.py by scripts/unasync.py: it must be what the script writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "unasync.py"
CLIENT = ROOT / "src" / "openhands_api" / "client.py"


def _unasync(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT, check=False
    )


def test_client_py_is_what_unasync_generates_from_aio_py() -> None:
    done = _unasync("--check")
    assert done.returncode == 0, (
        "src/openhands_api/client.py is stale or was edited by hand; edit aio.py and run "
        f"`python scripts/unasync.py`.\n{done.stdout}{done.stderr}"
    )


def test_the_check_fails_with_a_diff_on_a_hand_edited_client(tmp_path: Path) -> None:
    edited = tmp_path / "client.py"
    edited.write_text(CLIENT.read_text().replace("def stop(", "def halt(", 1))
    done = _unasync("--check", "--target", str(edited))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "-    def halt(self, conversation_id: str) -> None:" in done.stdout
    assert "+    def stop(self, conversation_id: str) -> None:" in done.stdout
    assert edited.read_text().count("def halt(") == 1  # --check never writes


def test_client_py_starts_with_the_generated_header() -> None:
    head = CLIENT.read_text().splitlines()[:2]
    assert head[0].startswith("# GENERATED FILE, DO NOT EDIT BY HAND")
    assert "aio.py" in head[0]
    assert "scripts/unasync.py" in head[1]


def _loads_asyncio(module: str) -> bool:
    code = f"import sys, {module}; print('asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return out.strip() == "True"


def test_the_sync_client_still_does_not_load_asyncio() -> None:
    if _loads_asyncio("httpx"):
        pytest.skip("this httpx loads asyncio by itself")
    assert not _loads_asyncio("openhands_api.client")
