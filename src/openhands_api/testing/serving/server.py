"""Serving the fake app over loopback: uvicorn in a background thread.

Responsible for: ``FakeOpenHandsServer`` — bind ``127.0.0.1`` (port 0 picks a free port
before uvicorn starts, so ``base_url`` is known and never races), run uvicorn in a daemon
thread, wait until it accepts connections, and shut it down cleanly (``should_exit``, join
the thread, close the socket). Usable as a context manager.

Also the TCP side of fault injection, which only the server can do:

* Each request's scope carries a handle to its connection (``faults.connection.CONNECTION_EXTENSION``)
  so the fault hook can reset it (``SO_LINGER`` 0, then abort: the kernel sends an RST), or
  write a close-delimited answer and close it. Done in uvicorn's own h11 protocol,
  subclassed: the transport that owns the socket is right there, no proxy hop is added to
  every request, and the reset happens exactly when the hook decides — after the app
  committed, for ``reset_after``.
* ``refuse_connections(seconds)`` closes the listening socket, so connecting fails with
  ``ECONNREFUSED`` (the client provably sent nothing), closes idle keep-alive connections (or
  pooled clients would go on using them), and listens again on the same port afterwards.

Not responsible for: the app itself (``serving/app.py``), choosing faults (``faults/rules.py``,
``faults/injector.py``) or the command line (``serving/cli.py``).
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
import socket
import struct
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..core.config import FakeServerConfig
from ..core.state import FakeState
from ..faults.connection import CONNECTION_EXTENSION
from .app import FakeOpenHandsApp, create_app

_logger = logging.getLogger(__name__)


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Also what lets refuse_connections() listen on the same port again at once.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this. Without it, uvicorn's separate writes of headers
        # and body meet Nagle's algorithm and delayed ACKs: ~40 ms per request on loopback.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class _TcpConnection:
    """``faults.connection.ConnectionControl`` for one uvicorn h11 connection."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: H11Protocol) -> None:
        self._protocol = protocol

    def reset(self) -> None:
        transport = self._protocol.transport
        if transport.is_closing():
            return  # the client is gone already
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger on, timeout 0: closing sends an RST instead of a FIN — a reset, as when
            # a load balancer drops a connection or a process dies.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    def write(self, data: bytes) -> None:
        self._protocol.transport.write(data)

    def close(self) -> None:
        self._protocol.transport.close()


class _FaultableH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, adding the connection handle to every request's scope."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        app = self.app
        connection = _TcpConnection(self)

        async def with_connection(scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})[CONNECTION_EXTENSION] = connection
            await app(scope, receive, send)

        self.app = with_connection


class _Listener:
    """The listening side on the server's event loop: refuse, accept again (``ListenerControl``)."""

    def __init__(self, server: _UvicornServer, host: str, port: int) -> None:
        self._server = server
        self._host = host
        self._port = port
        self._reopen: asyncio.TimerHandle | None = None
        self._reopening: asyncio.Task[None] | None = None
        self._listening = True  # uvicorn's startup() opened the first listener
        self._stopped = False

    async def refuse(self, seconds: float) -> None:
        self._cancel_reopen()
        server = self._server
        for listener in server.servers:
            listener.close()
        server.servers = []
        self._listening = False
        # As a stopping server does: idle keep-alive connections close now, busy ones after
        # their answer. Two turns of the loop let the closed sockets really close, so a
        # pooled client sees the FIN before its next request and has to connect anew.
        for connection in list(server.server_state.connections):
            connection.shutdown()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        self._reopen = asyncio.get_running_loop().call_later(seconds, self._reopen_later)

    async def accept(self) -> None:
        self._cancel_reopen()
        await self._listen()

    def stop(self) -> None:
        """The server is shutting down: never listen again."""
        self._stopped = True
        self._cancel_reopen()

    def _cancel_reopen(self) -> None:
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None

    def _reopen_later(self) -> None:
        self._reopen = None
        self._reopening = asyncio.get_running_loop().create_task(self._listen_or_retry())

    async def _listen_or_retry(self) -> None:
        while not self._stopped:
            try:
                await self._listen()
                return
            except OSError as exc:  # the port was taken meanwhile: keep trying, loudly
                _logger.warning("fake OpenHands server cannot listen on port %s again: %s", self._port, exc)
                await asyncio.sleep(0.1)

    async def _listen(self) -> None:
        server = self._server
        if self._stopped or self._listening:
            return
        sock = _listening_socket(self._host, self._port)
        # What uvicorn's startup() passes to create_server(), rebuilt for the new socket.
        factory = functools.partial(
            _FaultableH11Protocol,
            config=server.config,
            server_state=server.server_state,
            app_state=server.lifespan.state,
        )
        # Claimed before the await, so a concurrent accept() does not bind the port twice.
        self._listening = True
        try:
            listener = await asyncio.get_running_loop().create_server(factory, sock=sock)
        except BaseException:
            self._listening = False
            sock.close()
            raise
        if self._stopped:  # shutdown began meanwhile and has closed the others
            listener.close()
            return
        server.servers.append(listener)


class _UvicornServer(uvicorn.Server):
    """uvicorn's server, keeping its event loop and a ``_Listener`` for the fake's state."""

    def __init__(self, config: uvicorn.Config, state: FakeState, host: str, port: int) -> None:
        super().__init__(config)
        self.fake_state = state
        self.listener = _Listener(self, host, port)
        self.loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().startup(sockets=sockets)
        self.fake_state.listener = self.listener

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.fake_state.listener = None
        self.listener.stop()
        await super().shutdown(sockets=sockets)


class FakeOpenHandsServer:
    """A fake OpenHands server on loopback.

    >>> with FakeOpenHandsServer(speed=10) as server:
    ...     httpx.get(server.base_url + "/alive").json()
    {'status': 'ok'}
    """

    def __init__(
        self,
        config: FakeServerConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        **overrides: Any,
    ) -> None:
        self.app: FakeOpenHandsApp = create_app(config, **overrides)
        self.host = host
        self._requested_port = port
        self._log_level = log_level
        self._server: _UvicornServer | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------ properties
    @property
    def state(self) -> FakeState:
        return self.app.fake_state

    @property
    def config(self) -> FakeServerConfig:
        return self.app.fake_state.config

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the fake server is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 10.0) -> FakeOpenHandsServer:
        """Start serving; returns once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the fake server is already started")
        sock = _listening_socket(self.host, self._requested_port)
        self._socket = sock
        self._port = int(sock.getsockname()[1])

        uv_config = uvicorn.Config(
            self.app,
            # The connection handle lives in uvicorn's h11 protocol on asyncio's own loop;
            # "auto" could pick httptools or uvloop instead.
            http=_FaultableH11Protocol,
            loop="asyncio",
            # The agent-server tier's /sockets/events/{id} (websockets' Sans-I/O implementation:
            # supports denial responses, no deprecated legacy API). Without the package the
            # fake still serves HTTP; upgrades then get uvicorn's plain answer.
            ws="websockets-sansio" if importlib.util.find_spec("websockets") else "none",
            log_level=self._log_level,
            lifespan="off",
            # The app stamps Date from its own clock (core/middleware.py DateHeaderMiddleware).
            date_header=False,
            # Keep shutdown quick even if a client holds a keep-alive connection open.
            timeout_graceful_shutdown=2,
        )
        server = _UvicornServer(uv_config, self.state, self.host, self._port)
        self._server = server
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"fake-openhands-{self._port}", daemon=True
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                self._cleanup()
                raise RuntimeError("the fake server failed to start (see the log output)")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the fake server did not start within {timeout} s")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and join the server thread (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                # A stuck connection: make uvicorn drop everything now.
                if self._server is not None:
                    self._server.force_exit = True
                self._thread.join(timeout)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._socket = None
        self._thread = None
        self._server = None

    # ------------------------------------------------------------------ refusing connections
    def refuse_connections(self, seconds: float) -> None:
        """Refuse new connections (``ECONNREFUSED``) for ``seconds``, then accept them again
        on the same port.

        Returns once connecting fails. Idle keep-alive connections are closed, requests in
        flight finish (then their connections close), as when a server goes away. Calling it
        again starts the period anew. Over HTTP: ``POST /_fake/refuse_connections``.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError("seconds must be a number >= 0")
        listener, loop = self._listener_and_loop()
        asyncio.run_coroutine_threadsafe(listener.refuse(float(seconds)), loop).result(timeout=10)

    def accept_connections(self) -> None:
        """End a ``refuse_connections`` period now."""
        listener, loop = self._listener_and_loop()
        asyncio.run_coroutine_threadsafe(listener.accept(), loop).result(timeout=10)

    def _listener_and_loop(self) -> tuple[_Listener, asyncio.AbstractEventLoop]:
        server = self._server
        loop = server.loop if server is not None else None
        if server is None or loop is None or not self.running:
            raise RuntimeError("the fake server is not running")
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            # Waiting for the loop from the loop itself would deadlock.
            raise RuntimeError("on the server's own loop, await state.listener.refuse()/accept() instead")
        return server.listener, loop

    def __enter__(self) -> FakeOpenHandsServer:
        return self.start() if self._thread is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None and self.running else "not running"
        return f"<FakeOpenHandsServer {where}>"
