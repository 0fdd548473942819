"""The ``openhands-api`` command line: a thin layer that parses, calls the library, renders.

No API logic lives here. Imports stay cheap (``--help`` loads neither httpx nor pydantic);
the library is imported inside each command.
"""

from __future__ import annotations

from . import batch as _batch  # noqa: F401  (batch run, status, report)
from . import commands as _commands  # noqa: F401  (registers the commands on the group)
from . import completion as _completion  # noqa: F401  (completion SHELL)
from . import create as _create  # noqa: F401  (registers new-conversation and create)
from . import events as _events  # noqa: F401  (registers the events command)
from . import manage as _manage  # noqa: F401  (send, stop, resume, delete, download)
from . import raw_api as _raw_api  # noqa: F401  (api METHOD PATH)
from . import waiting as _waiting  # noqa: F401  (wait ID...)
from .app import main

__all__ = ["main"]
