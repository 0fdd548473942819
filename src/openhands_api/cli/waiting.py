"""``openhands-api wait ID...``: wait for one or several conversations, as ``gh run watch``.

Exit status (the decision of issue "The command line at the standard of gh"):

- Without ``--exit-status`` the command exits 0 once every conversation has an outcome,
  whatever it is: ``wait`` answers "has it ended?", ``result`` and ``--exit-status`` "how?".
- With ``--exit-status`` it exits with the code of the worst outcome, in this order:
  failed (1) > blocked (3) > stopped or gone (4) > in progress (8) > finished or waiting
  for the user (0).
- Either way a wait that could not end keeps its own code: timed out 5, server or network
  error 7, key refused 6 … (the first such, in the order the ids were given), since some
  conversation then has no outcome to judge.

Output: one id prints its result as before (the human view, or one JSON object with
``--json``); several print one row per conversation (a table on a terminal, tab-separated
rows in a pipe) or with ``--json`` an array of result objects, in the order given; a wait
that failed is a row whose ``status`` is ``timed_out`` or ``error`` (``outcome`` null, the
error in ``detail``) and also one line on stderr.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from . import exit_codes
from .app import (
    cli,
    connection_options,
    error_text,
    exit_code_for,
    following,
    handle_errors,
    make_client,
    output,
    progress_line,
    status_line,
)
from .jq import Filter
from .output import Column, Printer, json_output
from .views import RESULT_FIELDS, result_json, result_lines, short_id

if TYPE_CHECKING:
    from ..errors import OpenHandsError
    from ..models import ConversationResult

WORST_FIRST = (
    exit_codes.FAILED,
    exit_codes.BLOCKED,
    exit_codes.STOPPED,
    exit_codes.IN_PROGRESS,
    exit_codes.OK,
)
"""The outcomes' exit codes from worst to best: what ``--exit-status`` picks among several."""

RESULT_COLUMNS = (
    Column("id", "id", on_terminal=short_id),
    Column("status", "status"),
    Column("url", "web_url", lambda value: value or "-"),
    Column("detail", "detail", lambda value: value or "-", flexible=True),
)


def worst_code(codes: list[int]) -> int:
    """The worst of the outcomes' exit codes (``WORST_FIRST``); 0 for none."""
    return min(codes, key=WORST_FIRST.index, default=exit_codes.OK)


def _failed_row(conversation_id: str, exc: OpenHandsError) -> dict[str, Any]:
    from ..errors import WaitTimeoutError

    return {
        "id": conversation_id,
        "outcome": None,
        "status": "timed_out" if isinstance(exc, WaitTimeoutError) else "error",
        "detail": error_text(exc, conversation_id),
        "conversation_id": conversation_id,
    }


@contextlib.contextmanager
def _summary_line(total: int) -> Iterator[Callable[[ConversationResult], None] | None]:
    """For several waits, the status line says how many of them have an outcome."""
    with status_line() as line:
        if line is None:
            yield None
            return
        done: set[str] = set()

        def show(snapshot: ConversationResult) -> None:
            if snapshot.outcome.value != "in_progress":
                done.add(snapshot.conversation_id)
            line.show(f"waiting: {len(done)} of {total} done · {line.elapsed()}")

        yield show


@cli.command("wait", epilog=exit_codes.SEE_EXIT_CODES)
@click.argument("conversation_ids", metavar="ID...", nargs=-1, required=True)
@click.option(
    "--timeout-s",
    type=click.FloatRange(min=0, min_open=True),
    default=30 * 60.0,
    show_default=True,
    help="Give up waiting after this many seconds (exit 5; the conversation goes on).",
)
@click.option(
    "--exit-status",
    is_flag=True,
    help="Exit with the worst outcome's code: failed 1 > blocked 3 > stopped/gone 4 > "
    "in progress 8 > finished 0.",
)
@json_output(RESULT_FIELDS)
@connection_options
@handle_errors
def wait_command(
    conversation_ids: tuple[str, ...],
    timeout_s: float,
    exit_status: bool,
    json_fields: str | None,
    jq: Filter | None,
    **connection: Any,
) -> None:
    """Wait until each conversation's turn has an outcome.

    Several conversations are waited for at once. Exits 0 once all have an outcome; with
    --exit-status, with the worst outcome's code (failed 1 > blocked 3 > stopped or gone 4 >
    in progress 8 > finished 0). A wait that times out exits 5, whatever the others did.
    With --json: one object for one id, an array for several.

    \b
    Examples:
      openhands-api wait ID --exit-status && echo "the agent finished"
      openhands-api wait ID1 ID2 ID3 --timeout-s 600 --json
    """
    out = output(json_fields, jq)
    with make_client(**connection) as api:
        ids = [api.resolve_conversation_id(text) for text in conversation_ids]
        if len(ids) == 1:
            with following(ids[0], **connection), progress_line() as on_progress:
                result = api.wait(ids[0], timeout=timeout_s, on_progress=on_progress)
            out.record(result_json(result), result_lines(result))
            sys.exit(exit_codes.BY_OUTCOME[result.outcome.value] if exit_status else exit_codes.OK)
        with following(*ids, **connection), _summary_line(len(ids)) as on_progress:
            answers = api.wait_many(ids, timeout=timeout_s, on_progress=on_progress)
    _finish_many(ids, answers, exit_status, out)


def _finish_many(
    ids: list[str],
    answers: list[ConversationResult | OpenHandsError],
    exit_status: bool,
    out: Printer,
) -> None:
    from ..errors import OpenHandsError

    rows: list[dict[str, Any]] = []
    failures: list[tuple[str, OpenHandsError]] = []
    codes: list[int] = []
    for conversation_id, answer in zip(ids, answers, strict=True):
        if isinstance(answer, OpenHandsError):
            failures.append((conversation_id, answer))
            rows.append(_failed_row(conversation_id, answer))
        else:
            rows.append(result_json(answer))
            codes.append(exit_codes.BY_OUTCOME[answer.outcome.value])
    out.table(rows, RESULT_COLUMNS)
    for conversation_id, exc in failures:
        text = " ".join(error_text(exc, conversation_id).split())
        click.echo(f"error: {conversation_id}: {text}", err=True)
    if failures:
        sys.exit(exit_code_for(failures[0][1]))
    sys.exit(worst_code(codes) if exit_status else exit_codes.OK)
