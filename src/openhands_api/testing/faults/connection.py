"""The handle to a request's TCP connection, for answers that end with the connection.

Responsible for: ``CONNECTION_EXTENSION`` (the key ``serving/server.py`` puts the handle under
in each request's scope), the ``ConnectionControl`` protocol, and ``crash_answer`` — the real
server's answer to an unhandled exception, which ends its connection as well: Starlette's
outermost error middleware writes the bare 500 and re-raises, and uvicorn then closes the
transport, without a ``Connection: close`` header. A client that pooled the connection meets
a reset or a closed socket on its next request there (seen on 1.6.0 with the DELETE sent again
after its ``KeyError`` race).

Not responsible for: deciding to fail (``injector.py``, ``ServerCrash`` in ``crash.py``), the
500's body (``core/error_bodies.py``) or the uvicorn protocol that implements the handle
(``serving/server.py``).
"""

from __future__ import annotations

from typing import Protocol

from starlette.types import Receive, Scope, Send

from ..core import error_bodies as bodies

CONNECTION_EXTENSION = "openhands_api.fake.connection"
"""Key in ``scope["extensions"]`` of the handle to the request's TCP connection."""


class ConnectionControl(Protocol):
    """What the fake may do to the TCP connection a request came on."""

    def reset(self) -> None:
        """Drop the connection with a TCP RST; nothing still buffered is sent."""

    def write(self, data: bytes) -> None:
        """Write bytes as they are, past the server's HTTP framing."""

    def close(self) -> None:
        """Close the connection (FIN) once what was already written is sent."""


def connection_of(scope: Scope) -> ConnectionControl | None:
    """The request's connection; None in-process (``httpx.ASGITransport`` has none)."""
    control: ConnectionControl | None = (scope.get("extensions") or {}).get(CONNECTION_EXTENSION)
    return control


async def crash_answer(
    scope: Scope, receive: Receive, send: Send, *, headers: dict[str, str] | None = None
) -> None:
    """500 ``text/plain`` ``Internal Server Error``, then the connection closes (uvicorn's way)."""
    await bodies.internal_server_error(headers)(scope, receive, send)
    connection = connection_of(scope)
    if connection is not None:
        connection.close()
