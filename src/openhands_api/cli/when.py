"""``--created-since WHEN`` and ``--updated-since WHEN``: a moment, given as people write one.

WHEN is a duration back from now (``90s``, ``30m``, ``2h``, ``7d``, ``2w``) or an ISO date or
time (``2026-11-30``, ``2026-11-30T14:00``, ``2026-11-30 14:00:00+01:00``, ``…Z``). A date or
time without a zone is in the local time zone, as a person at this terminal means it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import click

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
EXAMPLES = "a duration back from now (30m, 2h, 7d, 2w) or an ISO date or time (2026-11-30, 2026-11-30T14:00)"


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """The aware datetime ``text`` names; ValueError (saying what is accepted) if none."""
    value = text.strip()
    match = _DURATION.fullmatch(value.lower())
    if match is not None:
        amount, unit = float(match.group(1)), match.group(2)
        current = now if now is not None else datetime.now(timezone.utc)
        return current - timedelta(seconds=amount * _UNIT_SECONDS[unit])
    try:
        # Python 3.10's fromisoformat takes a date alone and a space or T before the time,
        # but not the trailing Z of UTC.
        iso = value[:-1] + "+00:00" if value[-1:] in ("z", "Z") else value
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(f"{text!r} is not a time: give {EXAMPLES}") from None
    return moment if moment.tzinfo is not None else moment.astimezone()


if TYPE_CHECKING:
    _WhenBase = click.ParamType[datetime]  # generic in the click the type checker reads
else:
    _WhenBase = click.ParamType  # not subscriptable in click 8.1


class When(_WhenBase):
    """A click option type for WHEN: a bad value is a usage error (exit 2) that says why."""

    name = "when"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_when(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
