"""WHEN values of ``list --created-since`` / ``--updated-since``: durations and ISO times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from openhands_api.cli.when import parse_when

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1.5h", timedelta(minutes=90)),
        (" 3D ", timedelta(days=3)),
        ("0m", timedelta(0)),
    ],
)
def test_a_duration_is_that_long_before_now(text: str, back: timedelta) -> None:
    assert parse_when(text, now=NOW) == NOW - back


def test_a_duration_counts_from_the_real_now_by_default() -> None:
    before = datetime.now(timezone.utc)
    moment = parse_when("1h")
    assert before - timedelta(hours=1, seconds=5) <= moment <= datetime.now(timezone.utc) - timedelta(hours=1)
    assert moment.tzinfo is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-30T14:00:00+00:00", datetime(2026, 11, 30, 14, tzinfo=timezone.utc)),
        ("2026-11-30T14:00Z", datetime(2026, 11, 30, 14, tzinfo=timezone.utc)),
        ("2026-11-30 14:00:00z", datetime(2026, 11, 30, 14, tzinfo=timezone.utc)),
        ("2026-11-30T15:00+01:00", datetime(2026, 11, 30, 14, tzinfo=timezone.utc)),
    ],
)
def test_an_iso_time_with_a_zone_is_that_moment(text: str, expected: datetime) -> None:
    assert parse_when(text) == expected


def test_an_iso_date_or_time_without_a_zone_is_local_time() -> None:
    local = datetime(2026, 11, 30).astimezone()
    assert parse_when("2026-11-30") == local
    assert parse_when("2026-11-30").tzinfo is not None
    assert parse_when("2026-11-30T14:30") == datetime(2026, 11, 30, 14, 30).astimezone()


@pytest.mark.parametrize("text", ["", "yesterday", "7x", "-2h", "h", "2026-13-01", "30 minutes", "2h30m"])
def test_anything_else_is_refused_with_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration back from now .* ISO date or time"):
        parse_when(text)
