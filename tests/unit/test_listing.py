"""The generation-neutral listing filters (protocol/listing.py): what each keeps, and the
checks of the public keyword arguments."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from openhands_api.errors import InvalidInputError
from openhands_api.models import Conversation, Outcome
from openhands_api.protocol.listing import ListQuery

WHEN = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)


def _conversation(**fields: object) -> Conversation:
    base: dict[str, object] = {
        "id": "a" * 32,
        "api_version": "v1",
        "web_url": "http://x/conversations/" + "a" * 32,
        "title": "Fix the Flaky test",
        "repository": "acme/api",
        "created_at": WHEN,
        "updated_at": WHEN,
        "outcome": Outcome.FAILED,
    }
    base.update(fields)
    return Conversation.model_validate(base)


def test_each_filter_keeps_what_it_names() -> None:
    c = _conversation()
    assert ListQuery.of().keeps_fields(c)
    assert ListQuery.of(repository="acme/api").keeps_fields(c)
    assert not ListQuery.of(repository="acme/web").keeps_fields(c)
    assert not ListQuery.of(repository="acme/api").keeps_fields(_conversation(repository=None))
    assert ListQuery.of(search="flaky TEST").keeps_fields(c)  # any case
    assert not ListQuery.of(search="broken").keeps_fields(c)
    assert not ListQuery.of(search="flaky").keeps_fields(_conversation(title=None))
    assert ListQuery.of(created_since=WHEN).keeps_fields(c)  # at or after
    assert not ListQuery.of(created_since=datetime(2026, 12, 1, tzinfo=timezone.utc)).keeps_fields(c)
    assert not ListQuery.of(updated_since=WHEN).keeps_fields(_conversation(updated_at=None))


def test_an_outcome_filter_asks_for_outcomes() -> None:
    query = ListQuery.of(outcomes=["failed", Outcome.BLOCKED])
    assert query.with_outcome
    assert query.outcomes == {Outcome.FAILED, Outcome.BLOCKED}
    assert query.keeps_outcome(_conversation())
    assert not query.keeps_outcome(_conversation(outcome=Outcome.FINISHED))
    assert ListQuery.of().keeps_outcome(_conversation(outcome=None))
    with pytest.raises(InvalidInputError, match="outcomes must be among"):
        ListQuery.of(outcomes=["done"])


def test_a_naive_time_is_utc_and_a_non_time_is_refused() -> None:
    query = ListQuery.of(created_since=datetime(2026, 11, 30, 12))
    assert query.created_since == WHEN
    with pytest.raises(InvalidInputError, match="updated_since must be a datetime"):
        ListQuery.of(updated_since="2026-11-30")  # type: ignore[arg-type]
