"""``openhands-api events``: a conversation's events, its history or followed live.

The library does the reading (``iter_events``, ``stream_events``: where events come from,
each once, and when the turn ends); this module parses ``--since`` and ``--kind`` and prints
each event through the command's Printer: one line on a terminal, a JSON line with ``--json``
(``--jq`` applies to each event).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import click

from . import exit_codes
from .app import cli, connection_options, following, handle_errors, make_client, output
from .jq import Filter
from .output import Printer, json_output
from .prompt import InputProblem
from .views import EVENT_FIELDS, RAW, event_json, event_line

if TYPE_CHECKING:
    from ..models import Event
    from ..protocol.streaming import Since

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: datetime | None = None) -> Since:
    """``--since``: a duration back from now (``10m``, ``2h``, ``1d``, ``30s``), an ISO time
    (local time unless it carries ``Z`` or an offset), a V0 event id (a number), or else a V1
    event id."""
    value = text.strip()
    if not value:
        raise InputProblem("--since is empty: give a time (10m, 2026-12-01T14:00) or an event id")
    if value.isdigit():
        return int(value)
    duration = _DURATION.fullmatch(value)
    if duration is not None:
        amount, unit = duration.groups()
        return (now or datetime.now(timezone.utc)) - timedelta(seconds=float(amount) * _UNIT_SECONDS[unit])
    when = _iso_time(value)
    if when is not None:
        return when
    return value


def _iso_time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.astimezone()  # naive: local time


@cli.command("events", epilog=exit_codes.SEE_EXIT_CODES)
@click.argument("conversation_id", metavar="ID")
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Print each new event as it comes until the agent's turn ends; exit by its outcome.",
)
@click.option(
    "--since",
    metavar="WHEN|EVENT",
    help="Only newer events: after an event id (V0: a number, V1: a UUID), or since a time "
    "(10m, 2h, 1d back from now, or an ISO time such as 2026-12-01T14:00, local unless Z or "
    "an offset is given).",
)
@click.option(
    "--kind",
    "kinds",
    metavar="KIND",
    multiple=True,
    help="Only events of this kind (repeatable): an exact kind (action:run, MessageEvent …) or "
    "a family: message (V0 action:message, V1 MessageEvent); action (V0 the other action:*, "
    "V1 ActionEvent, SystemPromptEvent); observation (V0 the other observation:*, V1 "
    "ObservationEvent, AgentErrorEvent, UserRejectObservation); state (V0 "
    "observation:agent_state_changed, action:change_agent_state; V1 ConversationStateUpdateEvent).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many events.")
@click.option("--reverse", is_flag=True, help="Newest first (not with --follow).")
@click.option(
    "--timeout-s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="With --follow: give up after this many seconds (exit 5; the conversation goes on). "
    "Default: until the turn ends.",
)
@json_output(EVENT_FIELDS, on_request=RAW)
@connection_options
@handle_errors
def events_command(
    conversation_id: str,
    follow: bool,
    since: str | None,
    kinds: tuple[str, ...],
    limit: int | None,
    reverse: bool,
    timeout_s: float | None,
    json_fields: str | None,
    jq: Filter | None,
    **connection: Any,
) -> None:
    """Print a conversation's events, or follow them live.

    One line each, or one JSON object a line with --json. With --follow the history comes
    first, then each new event as it arrives, each once, until the agent's turn ends; the
    exit code is then the outcome's (as wait's). --kind families: message, action,
    observation, state (see --kind).

    \b
    Examples:
      openhands-api events ID --follow
      openhands-api events ID --kind message --json
      openhands-api events ID --since 10m --kind action
      openhands-api events ID --reverse --limit 20
    """
    if follow and reverse:
        raise InputProblem("--reverse cannot be used with --follow (new events come last)")
    if timeout_s is not None and not follow:
        raise InputProblem("--timeout-s is for --follow (listing the history does not wait)")
    start = parse_since(since) if since is not None else None
    for kind in kinds:
        check_kind(kind)
    out = output(json_fields, jq)
    with make_client(**connection) as api:
        conversation_id = api.resolve_conversation_id(conversation_id)
        if not follow:
            _print(api.iter_events(conversation_id, reverse=reverse, since=start), kinds, limit, out)
            return
        with following(conversation_id, **connection):
            stream = api.stream_events(conversation_id, since=start, timeout=timeout_s)
            complete = _print(stream, kinds, limit, out)
            if not complete:
                stream.close()
    result = stream.result
    if result is None:  # --limit stopped it first
        return
    out.note(f"the turn ended: {result.outcome.value}" + (f" ({result.detail})" if result.detail else ""))
    sys.exit(exit_codes.BY_OUTCOME[result.outcome.value])


# A V0 kind (action:run, observation:agent_state_changed) or a V1 event class (MessageEvent).
# Kinds the servers add later pass as long as they look like one; a typo such as "mesage" or
# "Message event" would otherwise filter out every event in silence.
_KIND_SHAPE = re.compile(r"(?:action|observation):[a-z_]+|[A-Z][A-Za-z0-9]+")


def check_kind(kind: str) -> None:
    """Refuse a --kind that is neither a family nor shaped like an event kind."""
    from ..protocol.streaming import EVENT_FAMILIES

    if kind not in EVENT_FAMILIES and not _KIND_SHAPE.fullmatch(kind):
        families = ", ".join(EVENT_FAMILIES)
        raise InputProblem(
            f"--kind {kind!r} is neither a family ({families}) nor an event kind "
            "such as action:run or MessageEvent"
        )


def _print(events: Iterable[Event], kinds: tuple[str, ...], limit: int | None, out: Printer) -> bool:
    """Print the events that ``--kind`` keeps, at most ``limit``; False if the limit cut them."""
    from ..protocol.streaming import kind_matches

    printed = 0
    for event in events:
        if kinds and not kind_matches(event.kind, kinds):
            continue
        out.line(event_json(event), event_line(event))
        printed += 1
        if limit is not None and printed >= limit:
            return False
    return True
