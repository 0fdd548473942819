"""What V0 state reads and wait() polls cost against the fake server over loopback: the
requests it logs and the response bytes the client received (counted, never timed)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx

from openhands_api import AsyncOpenHandsAPI, OpenHandsAPI, Outcome
from openhands_api.testing import FakeOpenHandsServer


class Received(httpx.BaseTransport):
    """A loopback transport that keeps every answer the client received: (path, query, body)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.answers: list[tuple[str, dict[str, str], bytes]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        body = response.read()
        response.close()
        query = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        self.answers.append((request.url.path, query, body))
        return httpx.Response(
            response.status_code, headers=response.headers, stream=httpx.ByteStream(body), request=request
        )

    def close(self) -> None:
        self.inner.close()


def test_wait_polls_cost_no_more_than_a_loop_asking_only_for_new_events(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
    make_api: Callable[..., OpenHandsAPI],
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0)
    received = Received()
    api = make_api(server, transport=received)
    conversation = api.create_conversation("Slow steps. [fake-llm steps=6 delay=0.5]")
    before = len(received.answers)
    result = api.wait(conversation.id, timeout=60)
    assert result.outcome is Outcome.FINISHED
    events_path = f"/api/conversations/{conversation.id}/events"
    conversation_path = f"/api/conversations/{conversation.id}"
    answers = received.answers[before:]
    polls = [answers[i : i + 2] for i in range(0, len(answers), 2)]
    assert all([a[0] for a in poll] == [events_path, conversation_path] for poll in polls)
    assert len(polls) >= 4  # some polls found nothing new

    seen_ids: list[int] = []
    library = baseline = idle = 0
    with httpx.Client(base_url=server.base_url) as bare:
        for (_, query, events_body), (_, _, conversation_body) in polls:
            last = max(seen_ids, default=-1)
            # Each poll asks only for the events after the newest one the client has seen...
            assert int(query["start_id"]) == last + 1
            assert "end_id" not in query
            ids = [e["id"] for e in json.loads(events_body)["events"]]
            idle += not ids
            # ... and the loop it is measured against asks for the same ones, oldest first.
            newest = max(ids, default=last)
            same = bare.get(events_path, params={"start_id": last + 1, "end_id": newest, "limit": 20})
            library += len(events_body) + len(conversation_body)
            baseline += len(same.content) + len(conversation_body)
            seen_ids.extend(ids)
    assert idle >= 1
    assert len(seen_ids) == len(set(seen_ids))  # no poll re-downloads an event
    print(f"\nwait: {len(polls)} polls ({idle} idle), library {library} B, baseline {baseline} B")
    assert library <= 1.3 * baseline


def test_state_reads_while_a_turn_grows_cost_two_requests_each(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
    make_api: Callable[..., OpenHandsAPI],
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0)
    api = make_api(server)
    conversation = api.create_conversation("Many steps. [fake-llm steps=1000]")

    def events_so_far() -> int:
        return len(server.state.conversations[conversation.id].events)  # materialised up to now

    costs = []
    for read in range(20):
        # more new events than one page between two reads (not a timing: a count to reach)
        while events_so_far() < 40 * (read + 1):
            time.sleep(0.01)
        before = len(server.state.requests)
        assert api.get_conversation(conversation.id).outcome is Outcome.IN_PROGRESS
        costs.append(len(server.state.requests) - before)
    assert costs == [2] * 20
    api.stop(conversation.id)


async def test_concurrent_async_reads_of_one_conversation_share_what_they_learn(
    server: FakeOpenHandsServer, aapi: AsyncOpenHandsAPI
) -> None:
    conversation = await aapi.create_conversation("Many steps. [fake-llm steps=1000]")
    before = len(server.state.requests)
    results = await asyncio.gather(*(aapi.get_conversation(conversation.id) for _ in range(10)))
    assert {r.outcome for r in results} == {Outcome.IN_PROGRESS}
    assert len(server.state.requests) - before == 20
    # a later read asks only for what is newer than the newest cursor any of them left
    known = max(int(q["start_id"]) for q in _events_queries(server, conversation.id)[-10:])
    await aapi.get_conversation(conversation.id)
    assert int(_events_queries(server, conversation.id)[-1]["start_id"]) > known
    await aapi.stop(conversation.id)


def _events_queries(server: FakeOpenHandsServer, conversation_id: str) -> list[dict[str, str]]:
    path = f"/api/conversations/{conversation_id}/events"
    found = []
    for record in server.state.requests:
        split = urlsplit(record.path)
        if split.path == path:
            found.append({k: v[0] for k, v in parse_qs(split.query).items()})
    return found
