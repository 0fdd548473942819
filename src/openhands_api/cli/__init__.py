"""The ``openhands-api`` command line: a thin layer that parses, calls the library, renders.

No API logic lives here. Imports stay cheap (``--help`` loads neither httpx nor pydantic);
the library is imported inside each command.
"""

from __future__ import annotations

from .app import main

__all__ = ["main"]
