"""The ``openhands-api`` command line: a thin layer that parses, calls the library, renders.

No API logic lives here. Imports stay cheap (``--help`` loads neither httpx nor pydantic);
the library is imported inside each command.
"""

from __future__ import annotations

from . import commands as _commands  # noqa: F401  (registers the commands on the group)
from . import manage as _manage  # noqa: F401  (send, stop, resume, delete, download)
from .app import main

__all__ = ["main"]
