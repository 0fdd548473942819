"""The CLI over the live event stream: ``events --follow`` streams a V1 conversation from its
agent server's WebSocket (and polls where it cannot: V0, a refused upgrade), and ``wait`` on
a terminal shows the newest event in its status line."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

import pytest

from openhands_api import OpenHandsAPI
from openhands_api.cli.app import Seam
from openhands_api.testing import FakeOpenHandsServer
from openhands_api.testing.faults.rules import FaultRule
from tests.cli.conftest import Ran, invoke, run_cli
from tests.cli.test_progress import _run_with_terminal_stderr
from tests.live_order import assert_same_events_in_stream_order

Factory = Callable[..., FakeOpenHandsServer]
QUICK = {"poll_interval": 0.05, "max_poll_interval": 0.2, "throttle": False}
SLOW = "Slow steps. [fake-llm steps=6 delay=1]"


def _events(server: FakeOpenHandsServer, *args: str) -> Ran:
    seam = Seam(client_factory=functools.partial(OpenHandsAPI, **QUICK))
    return invoke("events", *args, "--base-url", server.base_url, seam=seam)


def _started(server: FakeOpenHandsServer, prompt: str = SLOW) -> str:
    with OpenHandsAPI(base_url=server.base_url, **QUICK) as api:  # type: ignore[arg-type]
        return api.create_conversation(prompt).id


def _ids(text: str) -> list[str]:
    return [json.loads(line)["id"] for line in text.splitlines()]


def _handshakes(server: FakeOpenHandsServer) -> int:
    return sum("/sockets/events/" in r.path for r in server.state.requests)


def _event_reads(server: FakeOpenHandsServer) -> int:
    """Reads of the event history: V0's /events, V1's search without a kind (not the answer's)."""
    return sum(
        r.method == "GET" and "/events" in r.path and "/sockets/" not in r.path and "kind__eq" not in r.path
        for r in server.state.requests
    )


@pytest.mark.parametrize("generation", ["v0", "v1"])
def test_follow_streams_v1_and_polls_v0_with_the_same_events(
    fake_openhands_factory: Factory, generation: str
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations=generation)
    cid = _started(server)
    ran = _events(server, cid, "--follow", "--json", "id")
    assert ran.code == 0, ran.stderr
    followed = _ids(ran.stdout)
    with OpenHandsAPI(base_url=server.base_url) as api:
        assert_same_events_in_stream_order(followed, list(api.iter_events(cid)))
    assert len(set(followed)) == len(followed)
    if generation == "v1":
        assert _handshakes(server) == 1
        assert _event_reads(server) <= 3  # the history, the end, and the listing above
    else:
        assert _handshakes(server) == 0
        assert _event_reads(server) > 3  # poll after poll


def test_follow_polls_when_the_upgrade_is_refused(fake_openhands_factory: Factory) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations="v1")
    server.state.faults.add(FaultRule("ws_refuse", path="/_agent/*/sockets/events/*", times=None))
    cid = _started(server)
    ran = _events(server, cid, "--follow", "--json", "id")
    assert ran.code == 0, ran.stderr
    assert _ids(ran.stdout) == _ids(_events(server, cid, "--json", "id").stdout)
    assert _event_reads(server) > 3


def test_wait_on_a_terminal_shows_the_newest_event(fake_openhands_factory: Factory) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=2.0, generations="v1")
    created = run_cli(
        "new-conversation", "--base-url", server.base_url, "--prompt", "Steps. [fake-llm steps=4 delay=1]"
    )
    assert created.returncode == 0, created.stderr
    conversation_id = created.stdout.strip().rsplit("/", 1)[1]
    code, stdout, screen = _run_with_terminal_stderr("wait", conversation_id, "--base-url", server.base_url)
    assert code == 0, screen
    assert "finished" in stdout
    assert b" \xc2\xb7 ActionEvent: Fake step" in screen  # " · ActionEvent: Fake step 2 of 4."
    assert screen.endswith(b"\r\x1b[2K")
