"""A remembered version (the CLI's cache) is a presumption: when the server answers as if that
generation's routes were missing, the client detects once and carries on on the right one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from openhands_api import NotFoundError, OpenHandsAPI
from openhands_api.testing import FakeOpenHandsServer

FAST = {"rate_limit": False, "speed": 5.0}
POLL = {"poll_interval": 0.05, "max_poll_interval": 0.2, "throttle": False}
PROBES = ("/api/v1/app-conversations/search?limit=1", "/api/conversations?limit=1")
OTHER = {"v0": "v1", "v1": "v0"}


def probes(server: FakeOpenHandsServer) -> int:
    return sum(1 for r in server.state.requests if r.path in PROBES)


def _client(server: FakeOpenHandsServer, presumed: str) -> OpenHandsAPI:
    api = OpenHandsAPI(base_url=server.base_url, **POLL)  # type: ignore[arg-type]
    api._presume(presumed)
    return api


@pytest.mark.parametrize("actual", ["v0", "v1"])
def test_a_wrong_presumption_is_corrected_by_one_detection(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], actual: str
) -> None:
    server = fake_openhands_factory(generations=actual, **FAST)
    with _client(server, OTHER[actual]) as api:
        conversation = api.create_conversation("Hi. [fake-llm steps=1]")
        assert api.api_version == actual
        assert api.get_conversation(conversation.id).id == conversation.id
        assert [c.id for c in api.list_conversations()] == [conversation.id]  # made once
    assert probes(server) == 2


@pytest.mark.parametrize("actual", ["v0", "v1"])
def test_a_delete_under_a_wrong_presumption_deletes(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], actual: str
) -> None:
    server = fake_openhands_factory(generations=actual, **FAST)
    with OpenHandsAPI(base_url=server.base_url, api_version=actual, **POLL) as forced:  # type: ignore[arg-type]
        conversation_id = forced.create_conversation("Hi. [fake-llm steps=1]").id
    with _client(server, OTHER[actual]) as api:
        assert api.delete_conversation(conversation_id) is True  # not "there was none"
        with pytest.raises(NotFoundError):
            api.get_conversation(conversation_id)
    assert probes(server) == 2


def test_a_right_presumption_probes_nothing_and_an_unknown_id_stays_unknown(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(**FAST)
    with _client(server, "v0") as api:
        with pytest.raises(NotFoundError):
            api.get_conversation("0123456789abcdef0123456789abcdef")
        assert probes(server) == 2  # a 404 under a presumption: checked once, it was right
        with pytest.raises(NotFoundError):
            api.get_conversation("0123456789abcdef0123456789abcdef")
        assert api.api_version == "v0"
    assert probes(server) == 2  # and then known: no more probes
    with _client(server, "v0") as api:
        api.list_conversations()
    assert probes(server) == 2
