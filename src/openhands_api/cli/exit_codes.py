"""The CLI's exit codes, stable and documented: this table is the one source of the list in
``openhands-api --help`` (the top-level epilog) and is checked against the README's table.

They follow gh's habit of one code per situation a script wants to tell apart. Decisions:

- A server that cannot do what was asked (``NotSupportedError``: a forced ``--api-version``
  the server does not speak, a route an older server lacks) is 7, not 2: the request was sent
  and the server's answer decided; 2 means refused before anything was sent.
- A closed output pipe (``openhands-api events ID | head -1``) is not an error: the command
  stops quietly and exits 0, as gh does, or with the code it had already decided when only
  the final flush found the pipe closed (so ``wait ID --exit-status | head -1`` still tells
  the outcome).
"""

from __future__ import annotations

from typing import NamedTuple

OK = 0  # finished, or waiting for the user's reply (the agent's turn ended well)
FAILED = 1  # the agent, its runtime or the start failed
USAGE = 2  # bad arguments or input (refused before anything was sent)
BLOCKED = 3  # needs a human: confirmation pending, or paused
STOPPED = 4  # stopped before the turn ended, or the conversation is gone
TIMED_OUT = 5  # the wait ran out of time; the conversation may still be running
AUTH = 6  # missing, wrong or expired API key / session key; not allowed
API_ERROR = 7  # the server could not be reached, answered with an error, or cannot do this
IN_PROGRESS = 8  # the turn has no outcome yet (result on a running conversation)
INTERNAL = 70  # a bug in openhands-api (please report it; --debug shows the traceback)
INTERRUPTED = 130  # Ctrl-C


class ExitCode(NamedTuple):
    code: int
    meaning: str


TABLE: tuple[ExitCode, ...] = (
    ExitCode(OK, "finished, or the agent answered and waits for your reply"),
    ExitCode(FAILED, "failed: agent error, runtime failure or start failure"),
    ExitCode(USAGE, "usage: bad arguments or input, refused before anything was sent"),
    ExitCode(BLOCKED, "blocked: an action waits for confirmation, or the agent was paused"),
    ExitCode(STOPPED, "stopped before the turn ended, or the conversation is gone"),
    ExitCode(TIMED_OUT, "the wait timed out (the conversation may still be running)"),
    ExitCode(AUTH, "authentication: missing, wrong or expired key, or not allowed"),
    ExitCode(API_ERROR, "server unreachable, an API error, or the server cannot do this"),
    ExitCode(IN_PROGRESS, "still running: the turn has no outcome yet (result)"),
    ExitCode(INTERNAL, "internal error (a bug: please report it; --debug shows the traceback)"),
    ExitCode(INTERRUPTED, "interrupted (Ctrl-C): the conversation goes on"),
)
"""Every exit code, in order; the README's table says the same (tests/cli/test_help.py)."""

EPILOG = "\b\nExit codes:\n" + "\n".join(f"  {row.code:>3}  {row.meaning}" for row in TABLE) + "\n"
"""The exit codes for ``openhands-api --help`` (only there; each command's help points to it)."""

SEE_EXIT_CODES = "Exit codes: see openhands-api --help."
"""The one line each command's help gives instead of repeating the table."""

BY_OUTCOME = {
    "finished": OK,
    "waiting_for_user": OK,
    "failed": FAILED,
    "blocked": BLOCKED,
    "stopped": STOPPED,
    "gone": STOPPED,
    "in_progress": IN_PROGRESS,
}
