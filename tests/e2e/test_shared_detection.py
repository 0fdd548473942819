"""Version detection runs once per client, however many first calls ask at the same time.

Under ``api_version="auto"`` each concurrent first call used to probe on its own (2 probes
each); now they share one detection. Counted in the fake server's request log, never timed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from openhands_api import AsyncOpenHandsAPI, AuthenticationError, OpenHandsAPI, WaitTimeoutError
from openhands_api.testing import FakeOpenHandsServer, FaultRule

N = 20
V1_PROBE = "/api/v1/app-conversations/search"
V0_PROBE = "/api/conversations"
FAST = {"rate_limit": False}
NO_THROTTLE = {"throttle": False, "poll_interval": 0.05, "max_poll_interval": 0.2}


def probes(server: FakeOpenHandsServer) -> int:
    """Probes the server answered (a held answer is one too: ``slow`` lets the app answer)."""
    return sum(1 for r in server.state.requests if r.path in (f"{V1_PROBE}?limit=1", f"{V0_PROBE}?limit=1"))


def _conversation(server: FakeOpenHandsServer) -> str:
    with OpenHandsAPI(base_url=server.base_url, api_version="v0", **NO_THROTTLE) as forced:
        return forced.create_conversation("Say hello. [fake-llm steps=1]").id


def _slow_first_probe(server: FakeOpenHandsServer) -> None:
    """Hold the first probe's answer, so that every first call asks while detection runs."""
    server.state.faults.add(FaultRule("slow", method="GET", path=V1_PROBE, delay=0.5))


async def test_concurrent_first_calls_share_one_detection(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(**FAST)
    conversation_id = _conversation(server)
    _slow_first_probe(server)
    async with AsyncOpenHandsAPI(base_url=server.base_url, **NO_THROTTLE) as api:
        found = await asyncio.gather(*(api.get_conversation(conversation_id) for _ in range(N)))
        assert {c.id for c in found} == {conversation_id}
        assert api.api_version == "v0"
    assert probes(server) == 2


def test_concurrent_first_calls_share_one_detection_across_threads(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(**FAST)
    conversation_id = _conversation(server)
    _slow_first_probe(server)
    start = threading.Barrier(N)
    found: list[str] = []
    with OpenHandsAPI(base_url=server.base_url, **NO_THROTTLE) as api:

        def first_call() -> None:
            start.wait()
            found.append(api.get_conversation(conversation_id).id)

        threads = [threading.Thread(target=first_call) for _ in range(N)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert found == [conversation_id] * N
    assert probes(server) == 2


async def test_a_failed_detection_fails_every_joiner_and_is_not_kept(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(session_api_key="right", **FAST)
    _slow_first_probe(server)
    async with AsyncOpenHandsAPI(
        base_url=server.base_url,
        session_api_key="wrong",
        **NO_THROTTLE,
    ) as api:
        outcomes = await asyncio.gather(
            *(api.get_conversation("0123456789abcdef0123456789abcdef") for _ in range(N)),
            return_exceptions=True,
        )
        assert all(isinstance(o, AuthenticationError) for o in outcomes)
        assert len({id(o) for o in outcomes}) == N  # each caller its own error object
        assert probes(server) == 2  # one detection: the V1 probe's 404, the V0 probe's 401
        assert api.api_version is None
        with pytest.raises(AuthenticationError):
            await api.get_conversation("0123456789abcdef0123456789abcdef")
        assert probes(server) == 4  # the failure was not kept: the next call detected again


def test_a_failed_detection_fails_every_thread_and_is_not_kept(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(session_api_key="right", **FAST)
    _slow_first_probe(server)
    start = threading.Barrier(N)
    outcomes: list[BaseException | None] = []
    with OpenHandsAPI(base_url=server.base_url, session_api_key="wrong", **NO_THROTTLE) as api:

        def first_call() -> None:
            start.wait()
            try:
                api.get_conversation("0123456789abcdef0123456789abcdef")
            except AuthenticationError as exc:
                outcomes.append(exc)
            else:
                outcomes.append(None)

        threads = [threading.Thread(target=first_call) for _ in range(N)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(outcomes) == N
        assert all(isinstance(o, AuthenticationError) for o in outcomes)
        assert probes(server) == 2
        with pytest.raises(AuthenticationError):
            api.get_conversation("0123456789abcdef0123456789abcdef")
        assert probes(server) == 4


async def test_a_cancelled_joiner_leaves_the_detection_to_the_others(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(**FAST)
    conversation_id = _conversation(server)
    _slow_first_probe(server)
    async with AsyncOpenHandsAPI(base_url=server.base_url, **NO_THROTTLE) as api:
        first = asyncio.ensure_future(api.get_conversation(conversation_id))  # starts the detection
        others = [asyncio.ensure_future(api.get_conversation(conversation_id)) for _ in range(N - 1)]
        await asyncio.sleep(0.1)  # every call now waits for the held first probe
        first.cancel()
        others[0].cancel()
        found = await asyncio.gather(*others[1:])
        assert {c.id for c in found} == {conversation_id}
        assert first.cancelled()
        assert others[0].cancelled()
    assert probes(server) == 2


async def test_a_joiner_waits_for_the_shared_detection_only_until_its_own_deadline(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(**FAST)
    conversation_id = _conversation(server)
    server.state.faults.add(FaultRule("slow", method="GET", path=V1_PROBE, delay=1.5))
    async with AsyncOpenHandsAPI(base_url=server.base_url, **NO_THROTTLE) as api:
        leader = asyncio.ensure_future(api.get_conversation(conversation_id))
        await asyncio.sleep(0.05)
        with pytest.raises(WaitTimeoutError):
            await api.wait(conversation_id, timeout=0.3)  # joins, gives up at its deadline
        assert not leader.done()  # the detection goes on for the call without a deadline
        assert (await leader).id == conversation_id
    assert probes(server) == 2


def test_a_thread_whose_own_deadline_ended_the_detection_hands_it_to_a_waiting_thread(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    server = fake_openhands_factory(**FAST)
    conversation_id = _conversation(server)
    server.state.faults.add(FaultRule("slow", method="GET", path=V1_PROBE, delay=1.0))
    outcomes: dict[str, object] = {}
    with OpenHandsAPI(base_url=server.base_url, **NO_THROTTLE) as api:

        def leader() -> None:  # detects first, within its wait's 0.3 s
            try:
                api.wait(conversation_id, timeout=0.3)
            except WaitTimeoutError as exc:
                outcomes["leader"] = exc

        def joiner() -> None:  # no deadline of its own: it must not inherit the leader's
            outcomes["joiner"] = api.get_conversation(conversation_id).id

        threads = [threading.Thread(target=leader), threading.Thread(target=joiner)]
        threads[0].start()
        threading.Event().wait(0.1)
        threads[1].start()
        for thread in threads:
            thread.join()
    assert isinstance(outcomes["leader"], WaitTimeoutError)
    assert outcomes["joiner"] == conversation_id
