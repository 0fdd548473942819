"""What every part of the fake OpenHands server shares.

``state`` (``FakeState``, the one object a running fake remembers everything in), ``config``
(``FakeServerConfig``), ``clock``, ``scheduler`` (simulated time), ``directives`` (the
``[fake-llm ...]`` and ``[fake-start ...]`` parsers both generations obey), ``workspace``,
``auth``, the plain middleware (request log, time, cache headers), the health routes, the
``/_fake/`` control routes, Cloud's web-app fallback, and ``error_bodies`` — every error body
the fake answers with, in the real stack's words.

Not responsible for: a generation's routes and behaviour (``v0/``, ``v1/``), faults and edge
behaviour (``faults/``) or serving (``serving/``). Imports nothing on purpose: importing a
module from here loads only what that module needs.
"""
