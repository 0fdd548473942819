"""``python -m openhands_api.testing serve``: the entry point; ``serving/cli.py`` does the work."""

from __future__ import annotations

import sys

from .serving.cli import main

if __name__ == "__main__":
    sys.exit(main())
