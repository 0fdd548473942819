"""Exceptions the fake server's routes raise to produce the real server's odd answers.

Responsible for: ``ServerCrash`` — "answer the way an unhandled exception in the real
server is answered" (500, ``text/plain``, body ``Internal Server Error``, and none of the
cache headers normal responses carry, because Starlette's outermost error middleware
writes it; uvicorn then closes the connection). ``middleware.CrashGuardMiddleware`` turns it into that
answer (``connection.crash_answer``) without re-raising, so
in-process clients (``httpx.ASGITransport``) see a response instead of an exception.

Not responsible for: genuine bugs in the fake; those propagate as they would anywhere.
"""

from __future__ import annotations


class ServerCrash(Exception):
    """Reply 500 ``text/plain`` ``Internal Server Error``, like an unhandled exception."""
