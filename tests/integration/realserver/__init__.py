"""The self-contained harness that installs and runs the real OpenHands server for the tests.

Everything lives in :mod:`.harness` (install / start / stop / throttle, plus a
command line); this package only re-exports what test code uses. Data files next
to it: ``fake_llm.py`` (the scripted LLM), ``launchers/`` (how each server version
is started without Docker) and ``constraints/`` (the releases' dependency pins).
"""

from .harness import (
    CLIENT_REQUESTS_PER_SECOND,
    SERVER_REQUESTS_PER_SECOND,
    VERSIONS,
    HarnessError,
    LeftoverProcessesError,
    PrerequisiteMissing,
    RealServer,
    StopReport,
    Throttle,
    check_tools,
    find_python,
    install,
    installed_record,
    start,
    stop_all,
    stop_started,
    stop_workdir,
    throttle_for,
    workdir_processes,
)

__all__ = [
    "CLIENT_REQUESTS_PER_SECOND",
    "SERVER_REQUESTS_PER_SECOND",
    "VERSIONS",
    "HarnessError",
    "LeftoverProcessesError",
    "PrerequisiteMissing",
    "RealServer",
    "StopReport",
    "Throttle",
    "check_tools",
    "find_python",
    "install",
    "installed_record",
    "start",
    "stop_all",
    "stop_started",
    "stop_workdir",
    "throttle_for",
    "workdir_processes",
]
