"""``resolve_conversation_id`` against the fake server over loopback: a full id or a web URL
costs no request, a prefix costs the listing's pages until it is decided, on V0, V1 and a
server that speaks both, with the sync and the async client."""

from __future__ import annotations

import types
import uuid
from collections.abc import Callable, Iterator

import pytest

from openhands_api import (
    AmbiguousIdError,
    AsyncOpenHandsAPI,
    InvalidInputError,
    NotFoundError,
    OpenHandsAPI,
)
from openhands_api.testing import FakeOpenHandsServer
from openhands_api.testing.v0 import store as v0_store

Factory = Callable[..., FakeOpenHandsServer]
MakeApi = Callable[..., OpenHandsAPI]
FAST = {"rate_limit": False, "speed": 5.0}

# Newest last: the listing shows them the other way round.
IDS = [
    "aaaa1111000000000000000000000001",
    "bbbb2222000000000000000000000002",
    "aaaa2222000000000000000000000003",
    "cccc3333000000000000000000000004",
]


def hand_out_v0_ids(monkeypatch: pytest.MonkeyPatch, ids: list[str]) -> None:
    """Make the fake V0 server give its next conversations these ids (the real one draws
    uuid4 hex ids: chosen ones make shared prefixes certain)."""
    queue: Iterator[str] = iter(ids)
    monkeypatch.setattr(v0_store, "uuid", types.SimpleNamespace(uuid4=lambda: uuid.UUID(next(queue))))


def requests_since(server: FakeOpenHandsServer, since: int) -> int:
    return len(server.state.requests) - since


@pytest.fixture
def v0_api(
    fake_openhands_factory: Factory, make_api: MakeApi, monkeypatch: pytest.MonkeyPatch
) -> tuple[FakeOpenHandsServer, OpenHandsAPI]:
    server = fake_openhands_factory(**FAST)
    hand_out_v0_ids(monkeypatch, IDS)
    api = make_api(server)
    for n in range(len(IDS)):
        assert api.create_conversation(f"Task {n}.").id == IDS[n]
    return server, make_api(server)  # a fresh client: it has not detected the version yet


@pytest.fixture
def v1_api(fake_openhands_factory: Factory, make_api: MakeApi) -> tuple[FakeOpenHandsServer, OpenHandsAPI]:
    server = fake_openhands_factory(**FAST, generations="v1")
    api = make_api(server)
    for n, cid in enumerate(IDS):
        assert api.create_conversation(f"Task {n}.", conversation_id=cid).id == cid
    return server, make_api(server)


def test_a_full_id_or_web_url_costs_no_request(v0_api: tuple[FakeOpenHandsServer, OpenHandsAPI]) -> None:
    server, api = v0_api
    before = len(server.state.requests)
    url = f"{server.base_url}/conversations/{IDS[1]}"
    for text in (IDS[1], url, url + "/", url + "?tab=changes#x", IDS[1].upper(), "not-hex-at-all"):
        assert api.resolve_conversation_id(text).lower() in (IDS[1], "not-hex-at-all")
    assert len(server.state.requests) == before
    assert api.api_version is None  # not even the version detection


@pytest.mark.parametrize("flavor", ["v0", "v1"])
def test_a_unique_prefix(
    flavor: str,
    request: pytest.FixtureRequest,
) -> None:
    server, api = request.getfixturevalue(f"{flavor}_api")
    before = len(server.state.requests)
    assert api.resolve_conversation_id("bbbb") == IDS[1]
    assert requests_since(server, before) == 2 + 1  # the version detection, one page
    before = len(server.state.requests)
    assert api.resolve_conversation_id("CCCC3333") == IDS[3]
    assert api.resolve_conversation_id(f"{server.base_url}/conversations/aaaa1") == IDS[0]
    assert requests_since(server, before) == 2  # one page each
    assert api.get_conversation(api.resolve_conversation_id("bbbb2")).id == IDS[1]


@pytest.mark.parametrize("flavor", ["v0", "v1"])
def test_an_ambiguous_prefix_names_the_candidates(flavor: str, request: pytest.FixtureRequest) -> None:
    _, api = request.getfixturevalue(f"{flavor}_api")
    with pytest.raises(AmbiguousIdError) as caught:
        api.resolve_conversation_id("aaaa")
    error = caught.value
    assert isinstance(error, InvalidInputError)
    assert [c.id for c in error.candidates] == [IDS[2], IDS[0]]  # newest first
    assert error.complete
    assert str(error).startswith("2 conversations start with 'aaaa': ")
    assert IDS[2] in str(error)
    assert IDS[0] in str(error)


@pytest.mark.parametrize("flavor", ["v0", "v1"])
def test_no_match_is_not_found(flavor: str, request: pytest.FixtureRequest) -> None:
    _, api = request.getfixturevalue(f"{flavor}_api")
    with pytest.raises(NotFoundError, match="No conversation's id starts with 'dddd'"):
        api.resolve_conversation_id("dddd")


def test_the_scan_limit_bounds_the_search(v1_api: tuple[FakeOpenHandsServer, OpenHandsAPI]) -> None:
    server, api = v1_api
    api.list_conversations(limit=1)  # the version detection, done
    before = len(server.state.requests)
    with pytest.raises(AmbiguousIdError, match="among the newest 2 conversations") as caught:
        api.resolve_conversation_id("aaaa2", scan_limit=2)  # the second newest: found, not proven unique
    assert not caught.value.complete
    with pytest.raises(NotFoundError, match="among the newest 2"):
        api.resolve_conversation_id("aaaa1", scan_limit=2)  # the oldest: beyond the limit
    assert requests_since(server, before) == 2  # one page of 2 each, of 4 conversations
    with pytest.raises(InvalidInputError, match="scan_limit"):
        api.resolve_conversation_id("aaaa1", scan_limit=0)


def test_urls_of_another_server_and_short_prefixes_send_nothing(
    v0_api: tuple[FakeOpenHandsServer, OpenHandsAPI],
) -> None:
    server, api = v0_api
    before = len(server.state.requests)
    with pytest.raises(InvalidInputError, match=r"--base-url http://elsewhere\.test:3000"):
        api.resolve_conversation_id(f"http://elsewhere.test:3000/conversations/{IDS[0]}")
    port = int(server.base_url.rsplit(":", 1)[1])
    with pytest.raises(InvalidInputError, match="not of the configured one"):
        api.resolve_conversation_id(f"http://127.0.0.1:{port + 1}/conversations/{IDS[0]}")
    with pytest.raises(InvalidInputError, match="at least 4 characters"):
        api.resolve_conversation_id("aaa")
    with pytest.raises(InvalidInputError):
        api.resolve_conversation_id("../../etc/passwd")
    assert len(server.state.requests) == before


def test_a_v1_conversation_on_a_server_with_both_generations(
    fake_openhands_factory: Factory, make_api: MakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1.0–1.6.0 serve both generations: the client speaks V0 there, and V0's listing shows
    V1 conversations too, so one listing finds a prefix of either kind."""
    server = fake_openhands_factory(**FAST, generations="both")
    hand_out_v0_ids(monkeypatch, [IDS[0]])
    assert make_api(server).create_conversation("A V0 task.").id == IDS[0]
    v1 = make_api(server, api_version="v1").create_conversation("A V1 task.", conversation_id=IDS[2])
    assert v1.id == IDS[2]
    api = make_api(server)
    assert api.resolve_conversation_id("aaaa2") == IDS[2]
    assert api.api_version == "v0"
    assert api.get_conversation(api.resolve_conversation_id("aaaa2")).api_version == "v1"
    assert api.resolve_conversation_id("aaaa1") == IDS[0]
    with pytest.raises(AmbiguousIdError) as caught:
        api.resolve_conversation_id("aaaa")
    assert {c.id for c in caught.value.candidates} == {IDS[0], IDS[2]}


async def test_the_async_client(v1_api: tuple[FakeOpenHandsServer, OpenHandsAPI]) -> None:
    server, _ = v1_api
    async with AsyncOpenHandsAPI(base_url=server.base_url, throttle=False) as api:
        assert await api.resolve_conversation_id("bbbb") == IDS[1]
        assert await api.resolve_conversation_id(f"{server.base_url}/conversations/{IDS[3]}/") == IDS[3]
        with pytest.raises(AmbiguousIdError):
            await api.resolve_conversation_id("aaaa")
