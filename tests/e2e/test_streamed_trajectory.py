"""V0 ``download_history`` against the fake: the trajectory is streamed to the file (issue 11,
item 2). Memory stays flat for a 20k-event history, the file is the server's valid
``{"trajectory": [...]}``, and no failure — an error answer, a page, a cut, corrupt or
oversize body — leaves a file (or a temporary one) behind, or touches one already there.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from openhands_api import (
    APITimeoutError,
    AsyncOpenHandsAPI,
    AuthenticationError,
    NotFoundError,
    OpenHandsAPI,
    OpenHandsError,
    ProtocolError,
    ServerError,
)
from openhands_api.testing import FakeOpenHandsServer, FaultRule

ROOT = Path(__file__).resolve().parents[2]
TRAJECTORY_PATH = "/api/conversations/*/trajectory"
OLD_CONTENT = b"an earlier download"

# The client in its own process, so that tracemalloc sees only the client (the fake renders
# the whole 21 MB answer in this one). Prints the peak growth during the download.
PEAK_SCRIPT = """
import asyncio, json, sys, tracemalloc
from openhands_api import AsyncOpenHandsAPI, OpenHandsAPI
url, cid, destination, flavour = sys.argv[1:5]

def sync():
    with OpenHandsAPI(base_url=url, api_version="v0", throttle=False) as api:
        api.list_conversations(limit=1)  # connection pool and imports warm
        tracemalloc.start()
        api.download_history(cid, destination)
        return tracemalloc.get_traced_memory()[1]

async def run_async():
    async with AsyncOpenHandsAPI(base_url=url, api_version="v0", throttle=False) as api:
        await api.list_conversations(limit=1)
        tracemalloc.start()
        await api.download_history(cid, destination)
        return tracemalloc.get_traced_memory()[1]

peak = sync() if flavour == "sync" else asyncio.run(run_async())
print(json.dumps({"peak_mib": peak / 2**20}))
"""


@pytest.fixture
def server(fake_openhands_factory: Callable[..., FakeOpenHandsServer]) -> FakeOpenHandsServer:
    return fake_openhands_factory(rate_limit=False, speed=1e6)


def _finished_conversation(server: FakeOpenHandsServer, steps: int) -> str:
    """A V0 conversation whose turn of ``steps`` think steps (2 events each) has finished."""
    with httpx.Client(base_url=server.base_url, timeout=30) as raw:
        created = raw.post("/api/conversations", json={"initial_user_msg": f"Long. [fake-llm steps={steps}]"})
        conversation_id: str = created.json()["conversation_id"]
        for _ in range(600):
            page = raw.get(
                f"/api/conversations/{conversation_id}/events", params={"reverse": "true", "limit": 1}
            ).json()
            newest = page["events"][0] if page["events"] else {}
            if newest.get("extras", {}).get("agent_state") == "finished":
                return conversation_id
            raw.get("/alive")  # a beat, without sleeping on a fixed time
        raise AssertionError("the fake never finished the turn")


def _download(flavour: str, server: FakeOpenHandsServer, conversation_id: str, path: Path, **kw: Any) -> Path:
    """``download_history`` through the sync or the async client."""
    options: dict[str, Any] = {"base_url": server.base_url, "api_version": "v0", "throttle": False, **kw}
    if flavour == "sync":
        with OpenHandsAPI(**options) as api:
            return api.download_history(conversation_id, path)

    async def run() -> Path:
        async with AsyncOpenHandsAPI(**options) as api:
            return await api.download_history(conversation_id, path)

    return asyncio.run(run())


def _server_events(server: FakeOpenHandsServer, conversation_id: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=server.base_url, timeout=60) as raw:
        events: list[dict[str, Any]] = raw.get(f"/api/conversations/{conversation_id}/trajectory").json()[
            "trajectory"
        ]
    return events


FLAVOURS = pytest.mark.parametrize("flavour", ["sync", "async"])


@FLAVOURS
def test_a_20k_event_trajectory_streams_to_the_file_in_flat_memory(
    server: FakeOpenHandsServer, tmp_path: Path, flavour: str
) -> None:
    conversation_id = _finished_conversation(server, steps=10_000)
    destination = tmp_path / "history.json"
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, server.base_url, conversation_id, str(destination), flavour],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    size_mib = destination.stat().st_size / 2**20
    assert size_mib > 20  # the history is large: 20k events, about 21 MB
    # Parsing it whole cost +434 MiB; streamed, the client holds a few chunks at a time.
    assert report["peak_mib"] <= 10, report
    written = json.loads(destination.read_bytes())
    assert list(written) == ["trajectory"]
    assert len(written["trajectory"]) > 20_000
    assert written["trajectory"] == _server_events(server, conversation_id)
    assert [p.name for p in tmp_path.iterdir()] == ["history.json"]


@FLAVOURS
def test_the_file_is_the_servers_trajectory_with_every_event(
    server: FakeOpenHandsServer, tmp_path: Path, flavour: str
) -> None:
    conversation_id = _finished_conversation(server, steps=3)
    path = _download(flavour, server, conversation_id, tmp_path / "h.json")
    written = json.loads(path.read_bytes())
    assert written == {"trajectory": _server_events(server, conversation_id)}
    assert [e["id"] for e in written["trajectory"]] == list(range(len(written["trajectory"])))
    assert any(e.get("action") == "finish" for e in written["trajectory"])


def _assert_untouched(tmp_path: Path, destination: Path) -> None:
    assert destination.read_bytes() == OLD_CONTENT  # the earlier file is left as it was
    assert [p.name for p in tmp_path.iterdir()] == [destination.name]  # no temporary file left


@FLAVOURS
@pytest.mark.parametrize(
    ("rule", "error", "words"),
    [
        (FaultRule("truncated_json", method="GET", path=TRAJECTORY_PATH), ProtocolError, "cut-off body"),
        (FaultRule("corrupt_gzip", method="GET", path=TRAJECTORY_PATH), ProtocolError, "corrupt gzip"),
        (FaultRule("status", status=401, path=TRAJECTORY_PATH), AuthenticationError, "401"),
        (FaultRule("status", status=500, path=TRAJECTORY_PATH), ServerError, "500"),
        (FaultRule("status", status=503, path=TRAJECTORY_PATH), ServerError, "503"),
        (FaultRule("html", status=200, path=TRAJECTORY_PATH), ProtocolError, "HTML page"),
        (FaultRule("wrong_shape", path=TRAJECTORY_PATH), ProtocolError, "no trajectory"),
        (
            FaultRule("wrong_shape", path=TRAJECTORY_PATH, body={"trajectory": None, "error": "Error x"}),
            ProtocolError,
            "Error x",
        ),
        (FaultRule("oversize", path=TRAJECTORY_PATH, size=2_000_000), ProtocolError, "larger than"),
    ],
    ids=["cut", "corrupt-gzip", "401", "500", "503", "html-200", "wrong-shape", "error-200", "oversize"],
)
def test_a_failed_download_raises_and_leaves_no_file(
    server: FakeOpenHandsServer,
    tmp_path: Path,
    flavour: str,
    rule: FaultRule,
    error: type[OpenHandsError],
    words: str,
) -> None:
    conversation_id = _finished_conversation(server, steps=3)
    destination = tmp_path / "h.json"
    destination.write_bytes(OLD_CONTENT)
    server.state.faults.add(rule)
    with pytest.raises(error, match=words):
        # max_response_bytes: the oversize answer (not a trajectory) is over the ordinary cap.
        _download(flavour, server, conversation_id, destination, max_retries=0, max_response_bytes=1_000_000)
    assert server.state.faults.fired
    _assert_untouched(tmp_path, destination)


@FLAVOURS
def test_an_unknown_conversation_is_not_found_and_leaves_no_file(
    server: FakeOpenHandsServer, tmp_path: Path, flavour: str
) -> None:
    destination = tmp_path / "h.json"
    destination.write_bytes(OLD_CONTENT)
    with pytest.raises(NotFoundError):
        _download(flavour, server, "0123456789abcdef0123456789abcdef", destination)
    _assert_untouched(tmp_path, destination)


@FLAVOURS
def test_a_trajectory_over_the_bulk_cap_is_refused_and_leaves_no_file(
    server: FakeOpenHandsServer, tmp_path: Path, flavour: str
) -> None:
    conversation_id = _finished_conversation(server, steps=40)
    assert len(json.dumps(_server_events(server, conversation_id))) > 16 * 4096
    destination = tmp_path / "h.json"
    destination.write_bytes(OLD_CONTENT)
    # The bulk cap is 16 × max_response_bytes: 64 KiB here, less than this trajectory.
    with pytest.raises(ProtocolError, match="larger than 65,536 bytes"):
        _download(flavour, server, conversation_id, destination, max_response_bytes=4096)
    _assert_untouched(tmp_path, destination)


@FLAVOURS
def test_a_trickled_trajectory_cannot_outlast_the_request_timeout_and_leaves_no_file(
    server: FakeOpenHandsServer, tmp_path: Path, flavour: str
) -> None:
    conversation_id = _finished_conversation(server, steps=3)
    destination = tmp_path / "h.json"
    destination.write_bytes(OLD_CONTENT)
    server.state.faults.add(FaultRule("trickle", method="GET", path=TRAJECTORY_PATH, delay=0.05))
    # Each byte comes quickly; the whole answer never comes within the 1 s request timeout.
    with pytest.raises(APITimeoutError, match="timed out"):
        _download(flavour, server, conversation_id, destination, timeout=1.0, max_retries=0)
    _assert_untouched(tmp_path, destination)


@FLAVOURS
def test_an_answer_lost_mid_way_is_read_again_and_written_once(
    server: FakeOpenHandsServer, tmp_path: Path, flavour: str
) -> None:
    conversation_id = _finished_conversation(server, steps=3)
    server.state.faults.add(FaultRule("reset_after", method="GET", path=TRAJECTORY_PATH))
    path = _download(flavour, server, conversation_id, tmp_path / "h.json")
    assert json.loads(path.read_bytes()) == {"trajectory": _server_events(server, conversation_id)}
    assert [p.name for p in tmp_path.iterdir()] == ["h.json"]
