"""The CLI's exit codes, stable and documented (``openhands-api --help``, README).

They follow gh's habit of one code per situation a script wants to tell apart.
"""

from __future__ import annotations

OK = 0  # finished, or waiting for the user's reply (the agent's turn ended well)
FAILED = 1  # the agent, its runtime or the start failed
USAGE = 2  # bad arguments or input (refused before anything was sent)
BLOCKED = 3  # needs a human: confirmation pending, or paused
STOPPED = 4  # stopped before the turn ended, or the conversation is gone
TIMED_OUT = 5  # the wait ran out of time; the conversation may still be running
AUTH = 6  # missing, wrong or expired API key / session key; not allowed
API_ERROR = 7  # the server could not be reached, or answered with an error
IN_PROGRESS = 8  # the turn has no outcome yet (result on a running conversation)
INTERNAL = 70  # a bug in openhands-api (please report it; --debug shows the traceback)
INTERRUPTED = 130  # Ctrl-C

EPILOG = """\
\b
Exit codes:
  0  finished, or waiting for your reply      5  wait timed out (may still be running)
  1  failed (agent, runtime or start)         6  authentication: missing/wrong key
  2  usage: bad arguments or input            7  server unreachable or API error
  3  blocked: needs confirmation, or paused   8  no outcome yet (result while running)
  4  stopped before the turn ended, or gone  70  internal error (a bug)
                                            130  interrupted
"""

BY_OUTCOME = {
    "finished": OK,
    "waiting_for_user": OK,
    "failed": FAILED,
    "blocked": BLOCKED,
    "stopped": STOPPED,
    "gone": STOPPED,
    "in_progress": IN_PROGRESS,
}
