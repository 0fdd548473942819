"""What V0 state reads and wait() polls cost: requests and response bytes, counted on the
scripted server (no sockets, no timings).

A V0 read must cost what it must and no more: the newest events and the conversation (two
requests), bytes independent of the turn's length, and — once the client has read a
conversation — only the events newer than what it has seen."""

from __future__ import annotations

import json
import threading
from typing import Any

from openhands_api.models import Outcome, SentMessage, V0Event
from openhands_api.protocol.generation import ReadMemory
from openhands_api.protocol.http import Request, Response
from openhands_api.protocol.lifecycle import AgentStateChange
from openhands_api.protocol.v0_ops import V0Generation, V0Knowledge, V0Tracker, combine, worth_keeping
from tests.unit.opdriver import Driver
from tests.unit.scripted import (
    POLL,
    V0_CID,
    V0_PATH,
    V0Server,
    context,
    params,
    v0_finish,
    v0_first_turn,
    v0_output,
    v0_run,
    v0_state,
    v0_user,
)

EVENTS = f"{V0_PATH}/events"


class Metered:
    """The scripted server, counting the requests and the response bytes of each route."""

    def __init__(self, server: V0Server) -> None:
        self.server = server
        self.requests: list[Request] = []
        self.bytes: list[int] = []
        self.event_ids: list[int] = []  # every event id the events route answered with

    def answer(self, request: Request) -> Response:
        response = self.server.answer(request)
        self.requests.append(request)
        self.bytes.append(len(response.content))
        if request.path == EVENTS:
            self.event_ids.extend(e["id"] for e in json.loads(response.content)["events"])
        return response

    def mark(self) -> tuple[int, int]:
        return len(self.requests), sum(self.bytes)

    def since(self, mark: tuple[int, int]) -> tuple[int, int]:
        return len(self.requests) - mark[0], sum(self.bytes) - mark[1]


def running_turn(length: int) -> list[dict[str, Any]]:
    """A first turn still running after ``length`` events: its only ``running`` is id 5, then
    the agent's commands and their outputs."""
    events = v0_first_turn()[:7]
    events.extend(v0_run(i) if i % 2 else v0_output(i) for i in range(7, length))
    return events


def grow(server: V0Server, count: int) -> None:
    start = server.next_id
    server.add(*(v0_run(i) if i % 2 else v0_output(i) for i in range(start, start + count)))


def state_read(metered: Metered, generation: V0Generation) -> tuple[Any, tuple[int, int]]:
    mark = metered.mark()
    result = Driver(metered.answer).run(generation.observe(V0_CID))
    return result, metered.since(mark)


# ---------------------------------------------------------------------------- one read


def test_a_state_read_of_a_long_running_first_turn_costs_two_requests_whatever_its_length() -> None:
    costs = {}
    for length in (10_000, 20_000):
        metered = Metered(V0Server("RUNNING", running_turn(length)))
        result, costs[length] = state_read(metered, V0Generation(context()))
        assert result.outcome is Outcome.IN_PROGRESS
        assert result.conversation.agent_state == "running"
        assert [r.path for r in metered.requests] == [EVENTS, V0_PATH]
    assert costs[10_000][0] == costs[20_000][0] == 2
    # the same 20 newest events: only the ids grow a digit
    assert abs(costs[20_000][1] - costs[10_000][1]) <= 100


def test_twenty_reads_while_a_turn_grows_cost_two_requests_each_and_only_what_is_new() -> None:
    server = V0Server("RUNNING", running_turn(1_000))
    metered = Metered(server)
    generation = V0Generation(context())
    _, (requests, first_bytes) = state_read(metered, generation)
    assert requests == 2
    per_read = []
    for _ in range(19):
        grow(server, 1_000)
        result, cost = state_read(metered, generation)
        assert result.outcome is Outcome.IN_PROGRESS
        per_read.append(cost)
    assert server.next_id == 20_000
    assert all(requests == 2 for requests, _ in per_read)
    assert len(metered.requests) == 40  # linear: 2 per read
    # 1,000 new events per read, yet each read costs one page of the newest, like the first
    assert max(b for _, b in per_read) <= first_bytes + 100


def test_a_read_after_a_few_new_events_downloads_only_those() -> None:
    server = V0Server("RUNNING", running_turn(10_000))
    metered = Metered(server)
    generation = V0Generation(context())
    state_read(metered, generation)
    idle_mark = metered.mark()
    state_read(metered, generation)
    _, idle_bytes = metered.since(idle_mark)
    grow(server, 3)
    mark = metered.mark()
    state_read(metered, generation)
    requests, grown_bytes = metered.since(mark)
    events_read = metered.requests[-2]
    assert params(events_read) == {"start_id": "10000", "reverse": "true", "limit": "20"}
    three = sum(len(json.dumps(e)) for e in server.events[-3:])
    assert requests == 2
    assert grown_bytes - idle_bytes <= three + 10


def test_a_finished_first_turn_is_read_in_two_requests_and_then_only_asks_for_what_is_new() -> None:
    metered = Metered(
        V0Server("RUNNING", [*running_turn(5_000), v0_finish(5_000, "Done."), v0_state(5_001, "finished")])
    )
    generation = V0Generation(context())
    result = Driver(metered.answer).run(generation.result(V0_CID))
    assert (result.outcome, result.final_message) == (Outcome.FINISHED, "Done.")
    again = Driver(metered.answer).run(generation.result(V0_CID))
    assert (again.outcome, again.final_message) == (Outcome.FINISHED, "Done.")
    assert [r.path for r in metered.requests] == [EVENTS, V0_PATH, EVENTS, V0_PATH]
    assert params(metered.requests[2])["start_id"] == "5002"


# ---------------------------------------------------------------------------- a page that cannot decide


def test_a_newest_page_that_cannot_decide_pages_back_and_the_result_says_so() -> None:
    # A command that printed much: only its outputs since the ``running``, no agent action.
    events = [*v0_first_turn()[:6], *(v0_output(i) for i in range(6, 121))]
    metered = Metered(V0Server("RUNNING", events))
    result, (requests, _) = state_read(metered, V0Generation(context()))
    assert result.outcome is Outcome.IN_PROGRESS
    assert result.detail is not None
    assert "older page" in result.detail
    assert requests == 3  # the newest 20, then 100 older ones reaching the ``running`` at 5
    assert params(metered.requests[1]) == {
        "start_id": "0",
        "end_id": "100",
        "reverse": "true",
        "limit": "100",
    }


def test_a_newest_page_that_decides_says_nothing_about_paging() -> None:
    metered = Metered(V0Server("RUNNING", running_turn(500)))
    result, _ = state_read(metered, V0Generation(context()))
    assert result.detail is None


def test_a_later_read_pages_back_no_further_than_the_cursor_and_keeps_the_answer_it_read() -> None:
    server = V0Server("RUNNING", v0_first_turn("Task complete."))
    metered = Metered(server)
    generation = V0Generation(context())
    state_read(metered, generation)  # finished at 8, its answer at 7
    server.add(*(v0_output(i) for i in range(9, 309)))  # a tail that proves nothing
    mark = metered.mark()
    result = Driver(metered.answer).run(generation.result(V0_CID))
    assert (result.outcome, result.final_message) == (Outcome.FINISHED, "Task complete.")
    requests, _ = metered.since(mark)
    assert (
        requests == 1 + 3 + 1
    )  # 20 newest, then 100s down to the cursor: 300 events once each; no trajectory
    assert sorted(metered.event_ids[-300:]) == list(range(9, 309))


# ---------------------------------------------------------------------------- wait()


def test_wait_idle_polls_ask_only_for_events_after_the_newest_seen() -> None:
    server = V0Server("RUNNING", running_turn(10_000))
    server.timeline = [
        None,
        None,
        None,
        lambda s: grow(s, 2),
        None,
        lambda s: s.add(v0_finish(s.next_id, "Done."), v0_state(s.next_id + 1, "finished")),
    ]
    metered = Metered(server)
    driver = Driver(metered.answer)
    result = driver.run(V0Generation(context()).wait(V0_CID, timeout=60, after=None, poll=POLL))
    assert (result.outcome, result.final_message) == (Outcome.FINISHED, "Done.")
    reads = [(params(r), b) for r, b in zip(metered.requests, metered.bytes, strict=True) if r.path == EVENTS]
    assert [p["start_id"] for p, _ in reads] == ["0", "10000", "10000", "10000", "10002", "10002"]
    assert all("end_id" not in p for p, _ in reads)
    idle = [b for p, b in reads[1:3]]
    assert idle == [len(b'{"events": [], "has_more": false}')] * 2
    # the first poll reads one page of the newest; the later ones what is new: no event twice
    assert len(metered.event_ids) == len(set(metered.event_ids)) == 20 + 2 + 2


def test_wait_after_a_message_does_not_take_the_cached_finish_of_the_previous_turn() -> None:
    server = V0Server("RUNNING", v0_first_turn("First answer."))
    generation = V0Generation(context())
    before = Driver(server.answer).run(generation.observe(V0_CID))
    assert before.outcome is Outcome.FINISHED  # the client now knows: finished at 8, cursor 8
    server.timeline = [None] * (server.reads + 1) + [  # + the restart check's read
        None,  # the first poll: the agent has not picked the message up yet
        lambda s: s.add(v0_state(10, "running")),
        lambda s: s.add(v0_finish(11, "Second answer."), v0_state(12, "finished")),
    ]
    driver = Driver(server.answer)
    result = driver.run(generation.send_and_wait(V0_CID, "Now the docs.", timeout=30))
    assert (result.outcome, result.final_message) == (Outcome.FINISHED, "Second answer.")
    assert [p.outcome for p in driver.progress] == [Outcome.IN_PROGRESS, Outcome.IN_PROGRESS]


def test_a_read_between_the_message_and_the_wait_does_not_lend_the_old_finish_to_the_wait() -> None:
    # The client read the conversation after the message arrived (cursor 9, newest deciding
    # state: the old ``finished`` at 8); a wait for the turn the message started (marker 8)
    # must not count that finish.
    server = V0Server("RUNNING", [*v0_first_turn("First answer."), v0_user(9, "Now the docs.")])
    generation = V0Generation(context())
    Driver(server.answer).run(generation.observe(V0_CID))
    known = generation.context.reads.get(V0_CID, V0Knowledge)
    assert known is not None
    assert known.cursor == 9
    assert known.agent is not None
    assert known.agent.state == "finished"
    server.timeline = [None] * server.reads + [
        None,
        lambda s: s.add(v0_state(10, "running"), v0_finish(11, "Second answer."), v0_state(12, "finished")),
    ]
    driver = Driver(server.answer)
    result = driver.run(
        generation.wait(V0_CID, timeout=30, after=SentMessage(conversation_id=V0_CID, marker=8), poll=POLL)
    )
    assert (result.outcome, result.final_message) == (Outcome.FINISHED, "Second answer.")
    assert [p.outcome for p in driver.progress] == [Outcome.IN_PROGRESS]
    # no event is read twice: the wait starts after the cursor it found
    assert params(next(r for r in driver.requests if r.path == EVENTS))["start_id"] == "10"


# ---------------------------------------------------------------------------- what the client remembers


def _knowing(
    floor: int, cursor: int, agent: AgentStateChange | None = None, *kept: dict[str, Any]
) -> V0Knowledge:
    return V0Knowledge(floor, cursor, agent, tuple(V0Event.model_validate(e) for e in kept))


def test_knowledge_read_after_a_gap_holds_alone_and_keeps_nothing_from_below_it() -> None:
    # An answer from below a gap must not survive it: it could be taken for the final message.
    known = _knowing(-1, 50, AgentStateChange(41, "finished"), v0_finish(40, "Old answer."))
    new = _knowing(200, 220, AgentStateChange(219, "running", inferred=True))
    assert combine(known, new) == new
    assert combine(known, new).kept == ()


def test_knowledge_that_meets_keeps_the_older_state_and_answer_when_the_new_range_has_none() -> None:
    finished = AgentStateChange(41, "finished")
    merged = combine(
        _knowing(-1, 50, finished, v0_finish(40, "Done.")), _knowing(50, 60, None, v0_output(55))
    )
    assert (merged.floor, merged.cursor, merged.agent) == (-1, 60, finished)
    assert [e.id for e in merged.kept] == [40]


def test_only_the_newest_answer_and_the_newest_cost_are_kept() -> None:
    metered = {**v0_run(7), "llm_metrics": {"accumulated_cost": 0.5}}
    events = [v0_finish(3, "Old."), v0_user(4, "More."), v0_finish(6, "New."), metered, v0_output(8)]
    kept = worth_keeping(V0Event.model_validate(e) for e in events)
    assert [e.id for e in kept] == [6, 7]


def test_knowledge_of_a_read_that_finished_late_does_not_replace_a_newer_one() -> None:
    newer = _knowing(-1, 90, AgentStateChange(85, "finished"))
    assert combine(newer, _knowing(-1, 70, AgentStateChange(60, "running"))) is newer


def test_knowledge_without_a_state_answers_only_for_markers_at_or_above_its_floor() -> None:
    knowing = _knowing(30, 60)
    assert knowing.covers(30)
    assert not knowing.covers(10)
    finished = _knowing(30, 60, AgentStateChange(45, "finished"))
    assert finished.covers(10)
    assert finished.since(10) == AgentStateChange(45, "finished")
    assert finished.since(45) is None  # a deciding state older than the marker does not count


def test_read_memory_keeps_the_most_recently_used_conversations() -> None:
    memory = ReadMemory(capacity=3)
    for cid in "abc":
        memory.update(cid, _knowing(-1, 1), combine)
    assert memory.get("a", V0Knowledge) is not None  # a is now the most recently used
    memory.update("d", _knowing(-1, 1), combine)
    assert len(memory) == 3
    assert memory.get("b", V0Knowledge) is None
    assert {cid for cid in "acd" if memory.get(cid, V0Knowledge) is not None} == set("acd")


def test_read_memory_shared_by_threads_ends_with_the_newest_cursor() -> None:
    memory = ReadMemory()
    cursors = list(range(0, 400, 7))

    def teach(offset: int) -> None:
        for cursor in cursors[offset::4]:
            memory.update(V0_CID, V0Knowledge(-1, cursor, AgentStateChange(cursor, "running")), combine)

    threads = [threading.Thread(target=teach, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    known = memory.get(V0_CID, V0Knowledge)
    assert known is not None
    assert known.cursor == max(cursors)
    assert known.agent == AgentStateChange(max(cursors), "running")


def test_a_tracker_does_not_use_knowledge_that_cannot_answer_for_its_marker() -> None:
    memory = ReadMemory()
    memory.update(V0_CID, _knowing(30, 60), combine)
    assert V0Tracker.recall(memory, V0_CID, marker=40).cursor == 60
    fresh = V0Tracker.recall(memory, V0_CID, marker=10)
    assert (fresh.knowledge, fresh.cursor) == (None, 10)
