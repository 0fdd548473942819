"""Running the fake server: the ASGI app factory and the ways to serve it.

``app`` (``create_app``, ``FakeOpenHandsApp``), ``server`` (``FakeOpenHandsServer``: uvicorn
in a thread, and the TCP side of faults), ``cli`` (``python -m openhands_api.testing serve``),
``pytest_fixtures`` (the fixtures of the ``openhands_api`` pytest plugin).

Not responsible for: what the app answers (everything else in ``openhands_api.testing``).
Imports nothing on purpose: the pytest plugin loads ``pytest_fixtures`` in every pytest run,
with or without FastAPI.
"""
