"""The client against faults a hostile network adds (issue 10): a server that trickles its
answer a byte at a time, a corrupt gzip body, an answer far larger than any real one, and a
gzip bomb. Timeouts must hold as totals, memory must stay bounded, and every failure must be a
library error — for a create, one that goes through the lost-answer lookup.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from openhands_api import (
    APITimeoutError,
    AsyncOpenHandsAPI,
    OpenHandsAPI,
    Outcome,
    ProtocolError,
    WaitTimeoutError,
)
from openhands_api.testing import FakeOpenHandsServer, FaultRule

POLL = {"poll_interval": 0.05, "max_poll_interval": 0.2}
CREATE_PATH = {"v0": "/api/conversations", "v1": "/api/v1/app-conversations"}
READ_PATH = {"v0": "/api/conversations/*", "v1": "/api/v1/app-conversations"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def api(server: FakeOpenHandsServer) -> Iterator[OpenHandsAPI]:
    with OpenHandsAPI(base_url=server.base_url, timeout=30.0, max_retries=0, **POLL) as client:  # type: ignore[arg-type]
        client.list_conversations(limit=1)  # detect the generation before faults are armed
        yield client


def _conversations(server: FakeOpenHandsServer, generation: str) -> int:
    return len(server.state.conversations if generation == "v0" else server.state.app_conversations)


# ---------------------------------------------------------------------------- trickle


def test_a_trickled_answer_cannot_outlast_the_request_timeout(
    server: FakeOpenHandsServer, generation: str
) -> None:
    with OpenHandsAPI(base_url=server.base_url, timeout=2.0, max_retries=0) as api:
        conversation = api.create_conversation("Trickle. [fake-llm steps=1]")
        server.state.faults.add(FaultRule("trickle", method="GET", path=READ_PATH[generation], delay=0.5))
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            api.get_conversation(conversation.id)
        assert time.monotonic() - started < 4.0


def test_one_attempt_ends_at_its_timeout_when_each_byte_comes_just_in_time(
    server: FakeOpenHandsServer, generation: str
) -> None:
    # A byte every 1.9 s never trips a 2 s read timeout. Checked only between chunks, the
    # attempt's 2 s deadline would be seen after the third byte (3.8 s); the watchdog ends the
    # waiting read at the deadline itself.
    with OpenHandsAPI(base_url=server.base_url, timeout=2.0, max_retries=0) as api:
        conversation = api.create_conversation("Just in time. [fake-llm steps=1]")
        server.state.faults.add(FaultRule("trickle", method="GET", path=READ_PATH[generation], delay=1.9))
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="the whole answer did not arrive in time"):
            api.get_conversation(conversation.id)
        assert time.monotonic() - started < 3.0
        # the connection it shut down is not reused: the next call gets its answer
        server.state.faults.clear()
        assert api.get_conversation(conversation.id).id == conversation.id


async def test_one_async_attempt_ends_at_its_timeout_when_each_byte_comes_just_in_time(
    server: FakeOpenHandsServer, generation: str
) -> None:
    async with AsyncOpenHandsAPI(base_url=server.base_url, timeout=2.0, max_retries=0) as api:
        conversation = await api.create_conversation("Just in time. [fake-llm steps=1]")
        server.state.faults.add(FaultRule("trickle", method="GET", path=READ_PATH[generation], delay=1.9))
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="the whole answer did not arrive in time"):
            await api.get_conversation(conversation.id)
        assert time.monotonic() - started < 3.0
        server.state.faults.clear()
        assert (await api.get_conversation(conversation.id)).id == conversation.id


def test_a_wait_ends_within_its_timeout_while_every_answer_trickles(
    api: OpenHandsAPI, server: FakeOpenHandsServer, generation: str
) -> None:
    conversation = api.create_conversation("Trickle while waiting. [fake-llm steps=200]")
    server.state.faults.add(FaultRule("trickle", method="GET", times=None, delay=0.5))
    started = time.monotonic()
    with pytest.raises(WaitTimeoutError):
        api.wait(conversation.id, timeout=3)
    assert time.monotonic() - started < 4.5


def test_the_cli_wait_ends_within_its_timeout_while_every_answer_trickles(
    server: FakeOpenHandsServer, generation: str
) -> None:
    with OpenHandsAPI(base_url=server.base_url) as api:
        conversation = api.create_conversation("CLI trickle. [fake-llm steps=200]")
    server.state.faults.add(FaultRule("trickle", method="GET", times=None, delay=0.5))
    env = {**os.environ, "OPENHANDS_BASE_URL": server.base_url}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "openhands_api", "wait", conversation.id, "--timeout-s", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 5, done.stderr
    assert time.monotonic() - started < 8.0  # 3 s, plus the interpreter's start


# ---------------------------------------------------------------------------- garbled encodings


def test_a_corrupt_gzip_answer_is_a_protocol_error(
    api: OpenHandsAPI, server: FakeOpenHandsServer, generation: str
) -> None:
    conversation = api.create_conversation("Corrupt. [fake-llm steps=1]")
    server.state.faults.add(FaultRule("corrupt_gzip", method="GET", path=READ_PATH[generation]))
    with pytest.raises(ProtocolError, match="corrupt gzip"):
        api.get_conversation(conversation.id)


def test_a_wait_rides_out_corrupt_gzip_answers(
    api: OpenHandsAPI, server: FakeOpenHandsServer, generation: str
) -> None:
    conversation = api.create_conversation("Corrupt while waiting. [fake-llm steps=2]")
    server.state.faults.add(FaultRule("corrupt_gzip", method="GET", times=3))
    assert api.wait(conversation.id, timeout=30).outcome is Outcome.FINISHED


def test_a_create_whose_answer_is_corrupt_gzip_is_looked_up_not_resent(
    server: FakeOpenHandsServer, generation: str
) -> None:
    with OpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        api.list_conversations(limit=1)
        server.state.faults.add(FaultRule("corrupt_gzip", method="POST", path=CREATE_PATH[generation]))
        conversation = api.create_conversation("Exactly once, though garbled. [fake-llm steps=1]")
        assert _conversations(server, generation) == 1
        assert api.wait(conversation.id, timeout=30).outcome is Outcome.FINISHED


def test_the_cli_reports_a_corrupt_answer_as_a_server_error(
    server: FakeOpenHandsServer, generation: str
) -> None:
    with OpenHandsAPI(base_url=server.base_url) as api:
        conversation = api.create_conversation("CLI corrupt. [fake-llm steps=1]")
    server.state.faults.add(FaultRule("corrupt_gzip", method="GET", times=None))
    done = subprocess.run(
        [sys.executable, "-m", "openhands_api", "get", conversation.id, "--api-version", generation],
        env={**os.environ, "OPENHANDS_BASE_URL": server.base_url},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 7, done.stderr
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------------------- size


PEAK_SCRIPT = """
import json, resource, sys
from openhands_api import OpenHandsAPI, ProtocolError
url, cid, version = sys.argv[1:4]
api = OpenHandsAPI(base_url=url, api_version=version, max_retries=0, timeout=60)
api.list_conversations(limit=1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
api._http.get(url + "/alive")  # warm the connection pool
error = None
try:
    api.v0.get_conversation(cid) if version == "v0" else api.v1.get_conversations([cid])
except ProtocolError as exc:
    error = str(exc)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_mib": (after - before) / 1024, "error": error}))
"""


@pytest.mark.parametrize("fault", ["oversize", "gzip_bomb"])
def test_an_answer_over_the_cap_costs_at_most_the_cap(
    server: FakeOpenHandsServer, generation: str, fault: str
) -> None:
    with OpenHandsAPI(base_url=server.base_url) as api:
        conversation = api.create_conversation("Big. [fake-llm steps=1]")
    size = 50_000_000 if fault == "oversize" else 512 * 1024 * 1024
    server.state.faults.add(FaultRule(fault, method="GET", path=READ_PATH[generation], size=size))
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, server.base_url, conversation.id, generation],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["error"] is not None
    assert "larger than" in report["error"]
    # The cap is 32 MiB of decoded answer; what it took to find out is bounded by about that.
    assert report["grew_mib"] < 80, report


def test_a_wait_under_gateway_errors_ends_within_its_timeout_backoff_included(
    server: FakeOpenHandsServer, generation: str
) -> None:
    with OpenHandsAPI(base_url=server.base_url, max_retries=6, **POLL) as api:  # type: ignore[arg-type]
        conversation = api.create_conversation("Behind a failing gateway. [fake-llm steps=200]")
        server.state.faults.add(FaultRule("status", method="GET", status=503, times=None))
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError):
            api.wait(conversation.id, timeout=4)
        assert time.monotonic() - started < 4.5
