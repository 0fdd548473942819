"""The protocol layer: routes, lifecycle, retry decisions and multi-step operations.

No I/O in here: pure functions and generators that the drivers (``client.py``, ``aio.py``) run.
"""
