"""Which conversations a listing keeps: the generation-neutral filters of
``iter_conversations`` / ``list_conversations``, and the listing that applies them.

Each generation sends the server what its server filters itself (V0: the repository; V1: the
creation and update times) and this module checks every filter again on each row, so a
filter means the same on both generations whatever the server did with it. The title search
is always decided here: V1's ``title__contains`` is SQL ``LIKE``, case-insensitive on SQLite
but case-sensitive on PostgreSQL (OpenHands Cloud), so sending it could drop rows that match.

The checks run cheapest first: the fields of the row, then (only for rows that passed) the
outcome, which may cost requests (V0), then the outcome filter. A listing read lazily stops
paging as soon as its reader has enough rows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import InvalidInputError
from ..models import Conversation, Outcome
from .http import Emit, Op
from .polling import each_emitted

Outcomes = Collection[Outcome | str]
"""Outcomes a listing keeps: members of :class:`~openhands_api.models.Outcome` or their values."""


@dataclass(frozen=True)
class ListQuery:
    """What a listing keeps, and whether each row's outcome is decided.

    ``repository``: ``owner/repo``, exactly. ``search``: the title contains it (case-insensitive).
    ``created_since`` / ``updated_since``: at or after (an aware datetime; a naive one is UTC).
    ``outcomes``: the outcome is one of them (implies ``with_outcome``)."""

    repository: str | None = None
    search: str | None = None
    created_since: datetime | None = None
    updated_since: datetime | None = None
    outcomes: frozenset[Outcome] = field(default_factory=frozenset)
    with_outcome: bool = False

    @classmethod
    def of(
        cls,
        *,
        repository: str | None = None,
        search: str | None = None,
        created_since: datetime | None = None,
        updated_since: datetime | None = None,
        outcomes: Outcomes | None = None,
        with_outcome: bool = False,
    ) -> ListQuery:
        """The query of the public keyword arguments, checked (InvalidInputError)."""
        try:
            chosen = frozenset(Outcome(o) for o in outcomes or ())
        except ValueError:
            known = ", ".join(o.value for o in Outcome)
            raise InvalidInputError(f"outcomes must be among {known}") from None
        return cls(
            repository=repository or None,
            search=search or None,
            created_since=_aware(created_since, "created_since"),
            updated_since=_aware(updated_since, "updated_since"),
            outcomes=chosen,
            with_outcome=with_outcome or bool(chosen),
        )

    def keeps_fields(self, conversation: Conversation) -> bool:
        """Whether the row's own fields pass (no request needed)."""
        c = conversation
        if self.repository is not None and c.repository != self.repository:
            return False
        if self.search is not None and self.search.casefold() not in (c.title or "").casefold():
            return False
        if self.created_since is not None and (c.created_at is None or c.created_at < self.created_since):
            return False
        return self.updated_since is None or (c.updated_at is not None and c.updated_at >= self.updated_since)

    def keeps_outcome(self, conversation: Conversation) -> bool:
        return not self.outcomes or conversation.outcome in self.outcomes


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{name} must be a datetime")
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def filtered(
    listing: Op[None],
    query: ListQuery,
    unified: Callable[[Any], Conversation],
    decide: Callable[[Any], Op[Conversation]],
) -> Op[None]:
    """``listing`` (emitting a generation's wire items) as unified conversations, with
    ``query`` applied: ``unified`` makes a row without requests, ``decide`` makes it with its
    outcome (run only when ``query.with_outcome``, and only for rows whose fields passed)."""

    def handle(item: Any) -> Op[None]:
        conversation = unified(item)
        if not query.keeps_fields(conversation):
            return
        if query.with_outcome:
            conversation = yield from decide(item)
        if query.keeps_outcome(conversation):
            yield Emit(conversation)

    yield from each_emitted(listing, handle)
