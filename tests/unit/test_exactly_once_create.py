"""A create whose answer was lost is looked up before it is ever sent again (the generations' create)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from email.utils import formatdate
from typing import Any

import pytest

from openhands_api.errors import (
    APIConnectionError,
    APITimeoutError,
    ProtocolError,
    ServerError,
    UnprocessableEntityError,
)
from openhands_api.protocol.generation import (
    ABSENCE_SETTLE,
    CLOCK_MARGIN,
    GenerationContext,
    NewConversation,
    is_ambiguous,
)
from openhands_api.protocol.http import Request, Response
from openhands_api.protocol.parsing import server_clock
from openhands_api.protocol.polling import PollPolicy
from openhands_api.protocol.v0_ops import V0Generation
from openhands_api.protocol.v1_ops import V1Generation
from tests.unit.opdriver import WALL_EPOCH, Driver, json_response

MESSAGE = "Fix the flaky test."
NEW = "a" * 32
OTHER = "b" * 32
POLL = PollPolicy(interval=1.0, max_interval=1.0)


REQUEST_TIMEOUT = 2.0


def _context(known: set[str] | None = None, timeout: float = 60.0) -> GenerationContext:
    return GenerationContext(
        base_url="http://oh.test",
        poll=POLL,
        start_timeout=timeout,
        max_resends=3,
        created=known if known is not None else set(),
        request_timeout=REQUEST_TIMEOUT,
    )


def create_v0(known: set[str] | None = None, timeout: float = 60.0) -> Any:
    return V0Generation(_context(known, timeout)).create(NewConversation(MESSAGE))


def _info(cid: str, status: str = "RUNNING", age: float = 1.0) -> dict[str, Any]:
    created = datetime.fromtimestamp(WALL_EPOCH - age, tz=timezone.utc).isoformat()
    return {"conversation_id": cid, "status": status, "created_at": created}


def _message_events(text: str | None) -> dict[str, Any]:
    events: list[dict[str, Any]] = [
        {
            "id": 0,
            "source": "environment",
            "observation": "agent_state_changed",
            "extras": {"agent_state": "loading"},
        }
    ]
    if text is not None:
        events.append({"id": 2, "source": "user", "action": "message", "args": {"content": text}})
    return {"events": events, "has_more": False}


def _lost(request: Request) -> APITimeoutError:
    return APITimeoutError(
        f"{request.describe()}: timed out waiting for the answer",
        method=request.method,
        path=request.path,
        request_sent=True,
    )


class Server:
    """A tiny scripted V0 server: conversations, their first messages, and how creates end."""

    def __init__(self, create_outcomes: list[str]) -> None:
        self.create_outcomes = create_outcomes  # "ok", "lost-after-create", "lost-before-create", "500"
        self.conversations: list[dict[str, Any]] = []
        self.messages: dict[str, str | None] = {}
        self.message_appears_after_lookups = 0
        self.arrives_after_lookups = 0  # a "lost-before-create" request the server gets late
        self.extra_fields: dict[str, Any] = {}  # stored with each created conversation
        self.after_create: Any = None  # called once the server made a conversation
        self.lookups = 0
        self.post_times: list[float] = []

    def answer(self, request: Request) -> Response:
        if request.method == "POST" and request.path == "/api/conversations":
            outcome = self.create_outcomes.pop(0)
            if outcome == "500":
                return Response(500, {"content-type": "text/plain"}, b"Internal Server Error")
            if outcome in ("ok", "lost-after-create"):
                cid = f"{len(self.conversations) + 10:032x}"
                self.conversations.insert(0, {**_info(cid, status="STARTING"), **self.extra_fields})
                self.messages[cid] = (
                    None if self.message_appears_after_lookups else request.json["initial_user_msg"]
                )
                self._pending = (cid, request.json["initial_user_msg"])
                if self.after_create is not None:
                    self.after_create()
                if outcome == "ok":
                    return json_response(
                        {"status": "ok", "conversation_id": cid, "conversation_status": "STARTING"}
                    )
            raise _lost(request)
        if request.method == "GET" and request.path == "/api/conversations":
            self.lookups += 1
            if self.arrives_after_lookups and self.lookups == self.arrives_after_lookups:
                cid = f"{len(self.conversations) + 10:032x}"  # the held first request arrives
                self.conversations.insert(0, _info(cid))
                self.messages[cid] = MESSAGE
            if self.message_appears_after_lookups and self.lookups > self.message_appears_after_lookups:
                cid, text = self._pending
                self.messages[cid] = text
            return json_response({"results": self.conversations, "next_page_id": None})
        cid = request.path.split("/")[3]
        return json_response(_message_events(self.messages.get(cid)))

    @property
    def created(self) -> int:
        return len(self.conversations)


def _create(server: Server, known: set[str] | None = None, timeout: float = 60.0) -> tuple[str, Driver]:
    driver = Driver(server.answer)
    return driver.run(create_v0(known, timeout)).id, driver


def test_a_normal_create_sends_once() -> None:
    server = Server(["ok"])
    cid, driver = _create(server)
    assert server.created == 1
    assert driver.count("POST", "/api/conversations") == 1
    assert cid == server.conversations[0]["conversation_id"]


def test_a_create_lost_after_the_server_made_it_is_found_not_resent() -> None:
    server = Server(["lost-after-create"])
    cid, driver = _create(server)
    assert server.created == 1
    assert driver.count("POST", "/api/conversations") == 1
    assert cid == server.conversations[0]["conversation_id"]


def test_a_create_lost_before_the_server_made_it_is_sent_again_once() -> None:
    server = Server(["lost-before-create", "ok"])
    cid, driver = _create(server)
    assert server.created == 1
    assert driver.count("POST", "/api/conversations") == 2
    assert cid == server.conversations[0]["conversation_id"]


def test_a_candidate_still_starting_is_waited_for_until_its_message_shows() -> None:
    server = Server(["lost-after-create"])
    server.message_appears_after_lookups = 3
    cid, driver = _create(server)
    assert cid == server.conversations[0]["conversation_id"]
    assert driver.count("POST", "/api/conversations") == 1
    assert server.lookups == 4


def test_conversations_this_client_already_made_are_not_mistaken_for_the_lost_one() -> None:
    server = Server(["lost-before-create", "ok"])
    server.conversations.append(_info(OTHER))
    server.messages[OTHER] = MESSAGE  # same prompt, created earlier by this client
    cid, driver = _create(server, known={OTHER})
    assert cid != OTHER
    assert driver.count("POST", "/api/conversations") == 2


def test_undecided_within_the_lookup_time_raises_instead_of_risking_a_duplicate() -> None:
    server = Server(["lost-after-create"])
    server.message_appears_after_lookups = 1000
    with pytest.raises(APITimeoutError, match="may have been created") as caught:
        _create(server, timeout=5.0)
    assert caught.value.request_sent is True
    assert server.created == 1


def test_a_server_error_is_looked_up_then_sent_again() -> None:
    # The server answered: it is done with the request, and one look decides.
    server = Server(["500", "ok"])
    cid, driver = _create(server)
    assert server.lookups == 1
    assert driver.count("POST", "/api/conversations") == 2
    assert server.created == 1
    assert cid == server.conversations[0]["conversation_id"]


def test_a_create_without_an_answer_is_sent_again_only_after_the_absence_settles() -> None:
    server = Server(["lost-before-create", "ok"])
    cid, driver = _create(server)
    # One look a second (POLL) until ABSENCE_SETTLE (5 s, above the 2 s request timeout) has
    # passed since the failure: a request whose answer timed out may still reach the server.
    assert server.lookups == int(ABSENCE_SETTLE) + 1
    assert driver.count("POST", "/api/conversations") == 2
    assert server.created == 1
    assert cid == server.conversations[0]["conversation_id"]


def test_a_first_request_that_reaches_the_server_late_is_found_not_sent_again() -> None:
    # Held by a proxy past its read timeout, then delivered: the lookup is still looking.
    server = Server(["lost-before-create", "ok"])
    server.arrives_after_lookups = 4
    cid, driver = _create(server)
    assert driver.count("POST", "/api/conversations") == 1
    assert server.created == 1
    assert cid == server.conversations[0]["conversation_id"]


def test_a_client_error_is_final() -> None:
    def refuse(request: Request) -> Response:
        return json_response({"detail": [{"loc": ["body", "x"], "msg": "bad"}]}, status=422)

    driver = Driver(refuse)
    with pytest.raises(UnprocessableEntityError):
        driver.run(create_v0())
    assert len(driver.requests) == 1


def test_a_request_that_never_left_is_not_looked_up() -> None:
    def refuse(request: Request) -> Response:
        raise APIConnectionError("could not connect", method="POST", path=request.path, request_sent=False)

    driver = Driver(refuse)
    with pytest.raises(APIConnectionError):
        driver.run(create_v0())
    assert len(driver.requests) == 1


def test_what_counts_as_may_have_happened() -> None:
    def status_error(code: int) -> ServerError:
        return ServerError("x", status_code=code, method="POST", path="/api/conversations")

    assert is_ambiguous(status_error(500))
    assert is_ambiguous(status_error(504))
    assert is_ambiguous(ProtocolError("cut JSON"))
    assert not is_ambiguous(UnprocessableEntityError("x", status_code=422, method="POST", path="/"))


def test_a_candidate_the_server_evicted_before_its_first_message_is_undecided_never_absent() -> None:
    # 1.6.0 runs 3 conversations: one evicted before its runtime came up is STOPPED and never
    # records its first message, so it could be ours for good.
    server = Server(["lost-before-create", "ok"])
    evicted = "e" * 32
    server.conversations.append(_info(evicted, status="STOPPED", age=0.0))
    server.messages[evicted] = None
    with pytest.raises(APITimeoutError, match="may have been created"):
        _create(server, timeout=20.0)
    assert server.create_outcomes == ["ok"]  # never sent again


def test_the_lookup_matches_the_repository_and_returns_what_the_server_keeps() -> None:
    # Same prompt, another repository: not ours, even though it is newer.
    server = Server(["lost-after-create"])
    other = "d" * 32
    driver = Driver(server.answer)
    generation = V0Generation(_context())
    op = generation.create(NewConversation(MESSAGE, repository="o/ours", branch="main"))
    server.extra_fields = {"selected_repository": "o/ours", "selected_branch": "main"}
    server.after_create = lambda: (
        server.conversations.insert(0, {**_info(other, age=0.0), "selected_repository": "o/other"}),
        server.messages.__setitem__(other, MESSAGE),
    )
    conversation = driver.run(op)
    assert conversation.id != other
    assert conversation.id == server.conversations[1]["conversation_id"]
    assert (conversation.repository, conversation.branch) == ("o/ours", "main")


def test_a_match_another_create_of_this_client_may_own_is_not_taken() -> None:
    # Two creates alike in every field the server keeps: while the other is in flight, the
    # one match may be the other's.
    server = Server(["lost-after-create"])
    context = _context(timeout=10.0)
    generation = V0Generation(context)
    rival = _claim_like(MESSAGE)
    context.in_flight.append(rival)
    with pytest.raises(APITimeoutError, match="may have been created"):
        Driver(server.answer).run(generation.create(NewConversation(MESSAGE)))
    assert server.created == 1


def _claim_like(message: str) -> Any:
    from openhands_api.protocol.v0_ops import _Claim, fingerprint

    return _Claim(fingerprint({"initial_user_msg": message}))


# ---------------------------------------------------------------------------- V0, a crowded server


class CrowdedServer:
    """A V0 server whose clock is ``skew`` seconds off the client's, holding ``others``
    conversations another client made (same fields, other prompts) between ``newest_age`` and
    ``oldest_age`` seconds before the client's create, listed 100 a page, newest first; list
    answers carry a ``Date`` unless ``dated`` is False (second resolution, cut down)."""

    def __init__(
        self,
        outcomes: list[str],
        *,
        others: int = 100,
        skew: float = 0.0,
        newest_age: float = 120.0,
        oldest_age: float = 590.0,
        dated: bool = True,
    ) -> None:
        self.outcomes = outcomes
        self.skew = skew
        self.dated = dated
        self.driver = Driver(self.answer)
        self.conversations: list[dict[str, Any]] = []
        self.first: dict[str, str | None] = {}
        for n in range(others):
            age = newest_age + (oldest_age - newest_age) * n / max(1, others - 1)
            cid = f"{n + 1000:032x}"
            self.conversations.append(self._info(cid, self.now() - age))
            self.first[cid] = f"Another task, number {n}."
        self.ours: str | None = None

    def now(self) -> float:
        return WALL_EPOCH + self.driver.now + self.skew

    @staticmethod
    def _info(cid: str, created: float) -> dict[str, Any]:
        stamp = datetime.fromtimestamp(created, tz=timezone.utc).isoformat()
        return {"conversation_id": cid, "status": "RUNNING", "created_at": stamp}

    def answer(self, request: Request) -> Response:
        if request.method == "POST":
            outcome = self.outcomes.pop(0)
            if outcome in ("ok", "lost-after-create"):
                self.ours = f"{len(self.conversations) + 10:032x}"
                self.conversations.insert(0, self._info(self.ours, self.now()))
                self.first[self.ours] = request.json["initial_user_msg"]
                if outcome == "ok":
                    return json_response({"status": "ok", "conversation_id": self.ours})
            raise _lost(request)
        if request.path == "/api/conversations":
            params = dict(request.params)
            offset, limit = int(params.get("page_id", 0)), int(params["limit"])
            more = offset + limit < len(self.conversations)
            page = {
                "results": self.conversations[offset : offset + limit],
                "next_page_id": str(offset + limit) if more else None,
            }
            headers = {"content-type": "application/json"}
            if self.dated:
                headers["date"] = formatdate(int(self.now()), usegmt=True)
            return Response(200, headers, json.dumps(page).encode())
        return json_response(_message_events(self.first[request.path.split("/")[3]]))

    def create(self) -> str:
        return str(self.driver.run(create_v0()).id)

    def events_read(self) -> int:
        return sum(1 for r in self.driver.requests if r.path.endswith("/events"))

    def lists(self) -> int:
        return self.driver.count("GET", "/api/conversations")


@pytest.mark.parametrize(
    "skew", [0.0, 300.0, -900.0], ids=["same-clock", "server-ahead", "server-far-behind"]
)
def test_a_lost_create_among_100_recent_conversations_costs_a_few_requests(skew: float) -> None:
    # Before: every conversation of the last 600 s by the client's clock had its events read
    # (~100 requests a look); a server clock 900 s behind even hid ours from that window.
    server = CrowdedServer(["lost-after-create"], skew=skew)
    assert server.create() == server.ours
    assert server.lists() == 1
    assert server.events_read() == 1  # ours; the 100 older ones are skipped unread
    assert len(server.driver.requests) == 3  # the create, the list, the events of ours


def test_a_lost_create_that_never_arrived_among_100_recent_conversations_reads_no_events() -> None:
    server = CrowdedServer(["lost-before-create", "ok"])
    assert server.create() == server.ours
    assert server.driver.count("POST", "/api/conversations") == 2
    # One list a second until the absence settles (ABSENCE_SETTLE); no candidate to read.
    assert server.lists() == int(ABSENCE_SETTLE) + 1
    assert server.events_read() == 0


def test_conversations_made_within_the_clock_margin_before_the_send_are_read_once_each() -> None:
    # Stamped 10–50 s before the send: within CLOCK_MARGIN, so they could be ours; each is
    # read once, then known by its first message for the rest of the lookup.
    server = CrowdedServer(["lost-before-create", "ok"], others=5, newest_age=10.0, oldest_age=50.0)
    assert CLOCK_MARGIN > 50.0
    assert server.create() == server.ours
    assert server.lists() == int(ABSENCE_SETTLE) + 1
    assert server.events_read() == 5


def test_without_a_date_the_lookup_falls_back_to_the_client_clock_window() -> None:
    # The documented worst case: no server clock, so every candidate of LOOKUP_WINDOW is read.
    server = CrowdedServer(["lost-after-create"], dated=False)
    assert server.create() == server.ours
    assert server.events_read() == 101
    assert server.lists() == 2


def test_a_garbled_date_counts_as_none() -> None:
    response = Response(200, {"date": "yesterday-ish"}, b"")
    assert server_clock(response) is None
    assert server_clock(Response(200, {"date": "Tue, 01 Dec 2026 11:02:36 GMT"}, b"")) == 1796122956.0


# ---------------------------------------------------------------------------- V1

CONV = "c" * 32


class V1Server:
    """A scripted V1 server: start tasks that become READY on the next look."""

    def __init__(self, outcomes: list[str]) -> None:
        self.outcomes = outcomes  # "ok", "lost-after-create", "lost-before-create"
        self.tasks: dict[str, dict[str, Any]] = {}
        self.conversations: dict[str, dict[str, Any]] = {}
        self.others_after_create = 0  # other clients' start tasks that arrive right after ours

    def _task(self, tid: str) -> dict[str, Any]:
        task = self.tasks[tid]
        if task["status"] != "READY":  # one look later it is ready
            task["status"] = "READY"
            cid = task["request"]["conversation_id"]
            task["app_conversation_id"] = cid
            self.conversations[cid] = {"id": cid, "sandbox_status": "RUNNING", "execution_status": "running"}
            return {**task, "status": "WORKING", "app_conversation_id": None}
        return task

    def answer(self, request: Request) -> Response:
        path = request.path
        if request.method == "POST" and path == "/api/v1/app-conversations":
            outcome = self.outcomes.pop(0)
            if outcome in ("ok", "lost-after-create"):
                tid = f"{len(self.tasks) + 1:032x}"
                self.tasks[tid] = {"id": tid, "status": "WORKING", "request": request.json}
                for n in range(self.others_after_create):
                    other = f"{n + 1000:032x}"
                    self.tasks[other] = {
                        "id": other,
                        "status": "WORKING",
                        "request": {"conversation_id": other},
                    }
                if outcome == "ok":
                    return json_response(self.tasks[tid])
            raise _lost(request)
        if path == "/api/v1/app-conversations/start-tasks":
            return json_response([self._task(v) if v in self.tasks else None for _, v in request.params])
        if path == "/api/v1/app-conversations/start-tasks/search":
            params = dict(request.params)
            newest_first = list(reversed(self.tasks.values()))
            offset, limit = int(params.get("page_id", 0)), int(params.get("limit", 100))
            page = newest_first[offset : offset + limit]
            more = offset + limit < len(newest_first)
            return json_response({"items": page, "next_page_id": str(offset + limit) if more else None})
        if path == "/api/v1/app-conversations":
            return json_response([self.conversations.get(v) for _, v in request.params])
        raise AssertionError(path)


def _create_v1(server: V1Server) -> tuple[Any, Driver]:
    driver = Driver(server.answer)
    generation = V1Generation(_context())
    result = driver.run(generation.create(NewConversation(MESSAGE, options={"conversation_id": CONV})))
    return result, driver


def test_v1_create_sends_our_id_and_follows_the_start_task() -> None:
    server = V1Server(["ok"])
    conversation, driver = _create_v1(server)
    assert conversation.id == CONV
    assert driver.count("POST", "/api/v1/app-conversations") == 1


def test_v1_create_lost_after_the_server_took_it_is_found_by_its_start_task() -> None:
    server = V1Server(["lost-after-create"])
    conversation, driver = _create_v1(server)
    assert conversation.id == CONV
    assert conversation.start_task_id is not None
    assert driver.count("POST", "/api/v1/app-conversations") == 1
    assert len(server.tasks) == 1


def test_v1_create_lost_before_the_server_took_it_is_sent_again_with_the_same_id() -> None:
    server = V1Server(["lost-before-create", "ok"])
    conversation, driver = _create_v1(server)
    posts = [r for r in driver.requests if r.method == "POST"]
    assert len(posts) == 2
    assert posts[0].json["conversation_id"] == posts[1].json["conversation_id"] == CONV
    assert conversation.id == CONV
    assert len(server.tasks) == 1


def test_v1_lookup_pages_back_past_the_newest_start_tasks() -> None:
    # 150 other creates started just after ours: ours is on the second page of the search.
    server = V1Server(["lost-after-create"])
    server.others_after_create = 150
    conversation, driver = _create_v1(server)
    assert conversation.id == CONV
    assert driver.count("POST", "/api/v1/app-conversations") == 1
    searches = [dict(r.params) for r in driver.requests if r.path.endswith("/start-tasks/search")]
    assert any("page_id" in params for params in searches)
    assert all("created_at__gte" in params for params in searches)
