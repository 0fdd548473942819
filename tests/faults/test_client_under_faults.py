"""The client under every fault the fake server can inject (CONTRACT §1.4–1.5, issue: reliability).

Each test names the fault and what the client must do about it: retry (bounded, honouring
Retry-After), never create twice, ride out transient trouble while waiting, stop at once on
permanent errors, never hang past a timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from openhands_api import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConcurrencyLimitError,
    OpenHandsAPI,
    Outcome,
    ProtocolError,
    RateLimitError,
    ServerError,
    WaitTimeoutError,
)
from openhands_api.testing import FakeOpenHandsServer, FaultRule

POLL = {"poll_interval": 0.05, "max_poll_interval": 0.2}
CREATE_PATH = {"v0": "/api/conversations", "v1": "/api/v1/app-conversations"}


@pytest.fixture
def api(server: FakeOpenHandsServer) -> Iterator[OpenHandsAPI]:
    with OpenHandsAPI(base_url=server.base_url, timeout=2.0, **POLL) as client:  # type: ignore[arg-type]
        client.list_conversations(limit=1)  # detect the generation before faults are armed
        yield client


@pytest.fixture
def retries(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    caplog.set_level(logging.DEBUG, logger="openhands_api")
    return lambda: [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]


def _conversations(server: FakeOpenHandsServer, generation: str) -> int:
    return len(server.state.conversations if generation == "v0" else server.state.app_conversations)


# ---------------------------------------------------------------------------- exactly-once create


@pytest.mark.parametrize("fault", ["reset_after", "reset_before"])
def test_a_create_whose_connection_broke_makes_exactly_one_conversation(
    api: OpenHandsAPI, server: FakeOpenHandsServer, generation: str, fault: str
) -> None:
    server.state.faults.add(FaultRule(fault, method="POST", path=CREATE_PATH[generation]))
    conversation = api.create_conversation("Exactly once, please.")
    assert _conversations(server, generation) == 1
    assert api.wait(conversation.id, timeout=30).outcome is Outcome.FINISHED


def test_a_create_answered_too_late_makes_exactly_one_conversation(
    api: OpenHandsAPI, server: FakeOpenHandsServer, generation: str
) -> None:
    server.state.faults.add(FaultRule("slow", method="POST", path=CREATE_PATH[generation], delay=3.0))
    conversation = api.create_conversation("Slow answer.")
    assert _conversations(server, generation) == 1
    assert conversation.id


@pytest.mark.parametrize("status", [502, 504])
def test_a_create_behind_a_failing_gateway_makes_exactly_one_conversation(
    api: OpenHandsAPI, server: FakeOpenHandsServer, generation: str, status: int
) -> None:
    server.state.faults.add(FaultRule("status", method="POST", path=CREATE_PATH[generation], status=status))
    api.create_conversation("Gateway trouble.")
    assert _conversations(server, generation) == 1


def test_a_refused_connection_is_retried_because_nothing_was_sent(
    api: OpenHandsAPI, server: FakeOpenHandsServer, generation: str, retries: Callable[[], list[str]]
) -> None:
    server.refuse_connections(0.3)
    api.create_conversation("After the refusal.")
    assert _conversations(server, generation) == 1
    assert any("could not connect" in line for line in retries())


# ---------------------------------------------------------------------------- retries


@pytest.mark.parametrize("retry_after", ["1", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_429_is_retried_honouring_retry_after(
    api: OpenHandsAPI, server: FakeOpenHandsServer, retries: Callable[[], list[str]], retry_after: str
) -> None:
    server.state.faults.add(FaultRule("rate_limit", method="GET", times=2, retry_after=retry_after))
    assert api.list_conversations(limit=1) == []
    logged = retries()
    assert len(logged) == 2
    if retry_after == "1":
        assert all("in 1.00s after HTTP 429" in line for line in logged)


def test_429_with_rate_limit_headers_is_retried(
    api: OpenHandsAPI, server: FakeOpenHandsServer, retries: Callable[[], list[str]]
) -> None:
    server.state.faults.add(FaultRule("rate_limit", method="GET", ratelimit_headers=True))
    api.list_conversations(limit=1)
    assert len(retries()) == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_for_reads(
    api: OpenHandsAPI, server: FakeOpenHandsServer, retries: Callable[[], list[str]], status: int
) -> None:
    server.state.faults.add(FaultRule("status", method="GET", status=status, times=2))
    api.list_conversations(limit=1)
    assert len(retries()) == 2


def test_a_plain_500_is_not_retried(
    api: OpenHandsAPI, server: FakeOpenHandsServer, retries: Callable[[], list[str]]
) -> None:
    server.state.faults.add(FaultRule("status", method="GET", status=500))
    with pytest.raises(ServerError):
        api.list_conversations(limit=1)
    assert retries() == []


def test_retries_are_bounded(server: FakeOpenHandsServer, retries: Callable[[], list[str]]) -> None:
    server.state.faults.add(FaultRule("status", method="GET", status=503, times=None))
    with (
        OpenHandsAPI(
            base_url=server.base_url,
            max_retries=2,
            api_version="v1" if "v1" in server.config.generations else "v0",
        ) as api,
        pytest.raises(ServerError),
    ):
        api.list_conversations(limit=1)
    assert len(retries()) == 2


def test_max_retries_zero_disables_retrying(
    server: FakeOpenHandsServer, retries: Callable[[], list[str]]
) -> None:
    server.state.faults.add(FaultRule("rate_limit", method="GET", retry_after="1"))
    with (
        OpenHandsAPI(
            base_url=server.base_url,
            max_retries=0,
            api_version="v1" if "v1" in server.config.generations else "v0",
        ) as api,
        pytest.raises(RateLimitError) as caught,
    ):
        api.list_conversations(limit=1)
    assert caught.value.retry_after == 1.0
    assert retries() == []


def test_concurrency_limit_is_not_retried(
    api: OpenHandsAPI, server: FakeOpenHandsServer, generation: str, retries: Callable[[], list[str]]
) -> None:
    server.state.faults.add(FaultRule("concurrency_limit", method="POST", path=CREATE_PATH[generation]))
    with pytest.raises(ConcurrencyLimitError) as caught:
        api.create_conversation("Too many.")
    assert caught.value.limit is not None
    assert retries() == []
    assert _conversations(server, generation) == 0


def test_a_read_timeout_on_a_read_is_retried(api: OpenHandsAPI, server: FakeOpenHandsServer) -> None:
    server.state.faults.add(FaultRule("slow", method="GET", delay=3.0))
    assert api.list_conversations(limit=1) == []


def test_a_read_that_keeps_timing_out_is_a_timeout_error(server: FakeOpenHandsServer) -> None:
    server.state.faults.add(FaultRule("slow", method="GET", delay=3.0, times=None))
    with (
        OpenHandsAPI(
            base_url=server.base_url,
            timeout=0.3,
            max_retries=1,
            api_version="v1" if "v1" in server.config.generations else "v0",
        ) as api,
        pytest.raises(APITimeoutError) as caught,
    ):
        api.list_conversations(limit=1)
    assert caught.value.request_sent is True


# ---------------------------------------------------------------------------- bad answers


@pytest.mark.parametrize(
    ("fault", "status", "error"),
    [
        ("html", 500, ServerError),
        ("html", 200, ProtocolError),
        ("truncated_json", None, ProtocolError),
        ("wrong_shape", None, ProtocolError),
    ],
)
def test_bad_answers_are_clear_errors(
    api: OpenHandsAPI, server: FakeOpenHandsServer, fault: str, status: int | None, error: type[Exception]
) -> None:
    server.state.faults.add(FaultRule(fault, method="GET", status=status))
    with pytest.raises(error):
        api.list_conversations(limit=1)


# ---------------------------------------------------------------------------- waiting


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule("reset_before", method="GET", times=3),
        FaultRule("status", method="GET", status=500, times=3),
        FaultRule("html", method="GET", status=200, times=3),
        FaultRule("truncated_json", method="GET", times=3),
        FaultRule("rate_limit", method="GET", times=3, retry_after="0"),
        FaultRule("slow", method="GET", delay=3.0, times=1),
    ],
    ids=lambda r: f"{r.fault}-{r.status}",
)
def test_a_wait_rides_out_transient_faults(
    api: OpenHandsAPI, server: FakeOpenHandsServer, rule: FaultRule
) -> None:
    conversation = api.create_conversation("Work through the noise. [fake-llm steps=2]")
    server.state.faults.add(rule)
    assert api.wait(conversation.id, timeout=60).outcome is Outcome.FINISHED


def test_a_401_mid_wait_stops_the_wait_at_once(api: OpenHandsAPI, server: FakeOpenHandsServer) -> None:
    conversation = api.create_conversation("Long. [fake-llm delay=30]")
    server.state.faults.add(FaultRule("status", method="GET", status=401, skip=3, times=None))
    with pytest.raises(AuthenticationError):
        api.wait(conversation.id, timeout=60)


def test_a_conversation_deleted_while_waited_on_is_gone(
    api: OpenHandsAPI, server: FakeOpenHandsServer
) -> None:
    conversation = api.create_conversation("Long. [fake-llm delay=30]")
    with OpenHandsAPI(base_url=server.base_url) as other:
        other.delete_conversation(conversation.id)
    assert api.wait(conversation.id, timeout=30).outcome is Outcome.GONE


@pytest.mark.timeout(30)
def test_a_wait_never_hangs_past_its_timeout_even_when_every_answer_is_slow(
    api: OpenHandsAPI, server: FakeOpenHandsServer
) -> None:
    conversation = api.create_conversation("Whatever.")
    server.state.faults.add(FaultRule("slow", method="GET", delay=20.0, times=None))
    with pytest.raises(WaitTimeoutError):
        api.wait(conversation.id, timeout=2.0)


def test_an_unreachable_server_is_a_connection_error() -> None:
    with OpenHandsAPI(base_url="http://127.0.0.1:9", max_retries=1) as api, pytest.raises(APIConnectionError):
        api.list_conversations(limit=1)
