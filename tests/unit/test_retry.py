"""The retry decision (protocol/retry.py): what is retried, how long to wait, when to stop."""

from __future__ import annotations

import pytest

from openhands_api.protocol.http import Request
from openhands_api.protocol.retry import FailureKind, RetryPolicy, parse_retry_after, server_delay_hint

GET = Request("GET", "/api/conversations/x")
CREATE = Request("POST", "/api/conversations", json={}, idempotent=False)
POLICY = RetryPolicy(max_retries=3, initial_delay=0.5, max_delay=8.0, max_retry_after=60.0)


@pytest.mark.parametrize("kind", [FailureKind.CONNECT, FailureKind.CONNECT_TIMEOUT, FailureKind.POOL_TIMEOUT])
def test_a_create_that_never_left_is_retried(kind: FailureKind) -> None:
    assert POLICY.delay_after_failure(0, CREATE, kind, rand=0.5, now=0) is not None


@pytest.mark.parametrize("kind", [FailureKind.READ_TIMEOUT, FailureKind.DISCONNECTED, FailureKind.WRITE])
def test_a_create_that_may_have_arrived_is_not_resent(kind: FailureKind) -> None:
    assert POLICY.delay_after_failure(0, CREATE, kind, rand=0.5, now=0) is None


@pytest.mark.parametrize("kind", list(FailureKind))
def test_an_idempotent_request_is_retried_after_any_transport_failure(kind: FailureKind) -> None:
    assert POLICY.delay_after_failure(0, GET, kind, rand=0.5, now=0) is not None


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_statuses_for_reads(status: int) -> None:
    assert POLICY.delay_after_response(0, GET, status, {}, rand=0.5, now=0) is not None


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 409, 422, 500])
def test_other_statuses_are_final(status: int) -> None:
    assert POLICY.delay_after_response(0, GET, status, {}, rand=0.5, now=0) is None


def test_a_rate_limited_create_is_retried_because_it_was_refused_before_processing() -> None:
    assert POLICY.delay_after_response(0, CREATE, 429, {}, rand=0.5, now=0) is not None


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_create_is_not_resent_after_a_gateway_error(status: int) -> None:
    assert POLICY.delay_after_response(0, CREATE, status, {}, rand=0.5, now=0) is None


def test_concurrency_limit_is_never_retried() -> None:
    assert POLICY.delay_after_response(0, GET, 429, {}, concurrency_limited=True, rand=0.5, now=0) is None


def test_retries_stop_after_max_retries() -> None:
    assert POLICY.delay_after_response(2, GET, 503, {}, rand=0.5, now=0) is not None
    assert POLICY.delay_after_response(3, GET, 503, {}, rand=0.5, now=0) is None


def test_max_retries_zero_disables_retrying() -> None:
    policy = RetryPolicy(max_retries=0)
    assert policy.delay_after_response(0, GET, 503, {}, rand=0.5, now=0) is None
    assert policy.delay_after_failure(0, GET, FailureKind.CONNECT, rand=0.5, now=0) is None


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    low = [POLICY.backoff(n, 0.0) for n in range(8)]
    high = [POLICY.backoff(n, 1.0) for n in range(8)]
    assert low[:4] == [0.25, 0.5, 1.0, 2.0]
    assert high[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(high) == 8.0


def test_retry_after_seconds_is_honoured() -> None:
    assert POLICY.delay_after_response(0, GET, 429, {"retry-after": "7"}, rand=0.5, now=0) == 7.0


def test_retry_after_is_capped() -> None:
    assert POLICY.delay_after_response(0, GET, 503, {"Retry-After": "3600"}, rand=0.5, now=0) == 60.0


def test_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", wall_now=1445412480.0) == 10.0


@pytest.mark.parametrize("value", [None, "", "soon", "-3", "nan"])
def test_garbled_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, wall_now=None) is None


def test_x_ratelimit_reset_is_used_without_retry_after() -> None:
    assert server_delay_hint({"X-RateLimit-Reset": "1000000005"}, wall_now=1000000000.0) == 5.0


def test_no_retry_past_the_deadline() -> None:
    request = Request("GET", "/x", deadline=10.0)
    assert POLICY.delay_after_response(0, request, 429, {"retry-after": "5"}, rand=0.5, now=4.0) == 5.0
    assert POLICY.delay_after_response(0, request, 429, {"retry-after": "5"}, rand=0.5, now=6.0) is None


def test_negative_max_retries_is_refused() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
