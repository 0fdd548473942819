"""``python -m openhands_api`` runs the ``openhands-api`` command."""

from .cli import main

main()
