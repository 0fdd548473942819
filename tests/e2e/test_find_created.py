"""find_created_conversation against the fake server, V0 and V1: a create made by another
client (a process that is gone) is found, nothing is found when it never arrived, ``exclude``
leaves known conversations out, and an undecidable lookup raises instead of guessing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from openhands_api import AsyncOpenHandsAPI
from openhands_api.errors import CreationUndecidedError
from openhands_api.testing import FakeOpenHandsServer

POLL = {"poll_interval": 0.05, "max_poll_interval": 0.2, "throttle": False}
PROMPT = "Look me up. [fake-llm steps=1]"


@pytest.fixture(params=["v0", "v1"])
def server(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], request: pytest.FixtureRequest
) -> FakeOpenHandsServer:
    return fake_openhands_factory(generations=request.param, rate_limit=False, speed=20.0)


async def test_a_create_of_another_client_is_found(server: FakeOpenHandsServer) -> None:
    sent_at = time.time() - 40  # long enough ago that absence would be believed at once
    chosen = uuid.uuid4().hex
    v1 = server.config.generations == "v1"
    options = {"conversation_id": chosen} if v1 else {}
    async with AsyncOpenHandsAPI(base_url=server.base_url, **POLL) as other:  # type: ignore[arg-type]
        made = await other.create_conversation(PROMPT, **options)
        decoy = await other.create_conversation("Another prompt. [fake-llm steps=1]")
        await other.wait(made.id, timeout=30)
    async with AsyncOpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        found = await api.find_created_conversation(
            PROMPT, since=sent_at, title="Found again", conversation_id=chosen if v1 else None
        )
        assert found is not None
        assert found.id == made.id
        assert found.title == "Found again"
        assert (await api.get_conversation(made.id)).title == "Found again"
        if v1:
            # Without the id: by the prompt of the start request.
            by_prompt = await api.find_created_conversation(PROMPT, since=sent_at)
            assert by_prompt is not None
            assert by_prompt.id == made.id
        # Left out on purpose: then there is none.
        assert await api.find_created_conversation(PROMPT, since=sent_at, exclude=[made.id]) is None
        # A prompt no create sent.
        assert await api.find_created_conversation("Never sent", since=sent_at) is None
        assert decoy.id != made.id


async def test_nothing_is_created_by_a_lookup(server: FakeOpenHandsServer) -> None:
    async with AsyncOpenHandsAPI(base_url=server.base_url, **POLL) as api:  # type: ignore[arg-type]
        chosen = uuid.uuid4().hex if server.config.generations == "v1" else None
        assert (
            await api.find_created_conversation(PROMPT, since=time.time() - 40, conversation_id=chosen)
            is None
        )
    assert server.state.conversations == {}
    assert server.state.app_conversations == {}


async def test_a_candidate_that_cannot_be_told_apart_is_undecided(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    """V0: a conversation whose runtime never comes up never shows its first message; it could
    be ours, so the lookup says it cannot tell (after the start timeout) rather than guess."""
    server = fake_openhands_factory(generations="v0", rate_limit=False, speed=20.0)
    async with AsyncOpenHandsAPI(base_url=server.base_url, **POLL) as other:  # type: ignore[arg-type]
        await other.create_conversation("Stuck. [fake-start stuck]")
    async with AsyncOpenHandsAPI(base_url=server.base_url, start_timeout=0.5, **POLL) as api:  # type: ignore[arg-type]
        with pytest.raises(CreationUndecidedError, match="nothing was created"):
            await api.find_created_conversation(PROMPT, since=time.time() - 40)
    assert len(server.state.conversations) == 1
