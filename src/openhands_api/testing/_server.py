"""Serving the fake app over loopback: uvicorn in a background thread.

Responsible for: ``FakeOpenHandsServer`` — bind ``127.0.0.1`` (port 0 picks a free port
before uvicorn starts, so ``base_url`` is known and never races), run uvicorn in a daemon
thread, wait until it accepts connections, and shut it down cleanly (``should_exit``, join
the thread, close the socket). Usable as a context manager.

Not responsible for: the app itself (``_app.py``) or the command line (``__main__.py``).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from ._app import FakeOpenHandsApp, create_app
from ._config import FakeServerConfig
from ._state import FakeState


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
        self._server: uvicorn.Server | None = None
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
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # Accepted sockets inherit this. Without it, uvicorn's separate writes of headers
            # and body meet Nagle's algorithm and delayed ACKs: ~40 ms per request on loopback.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((self.host, self._requested_port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self._socket = sock
        self._port = int(sock.getsockname()[1])

        uv_config = uvicorn.Config(
            self.app,
            log_level=self._log_level,
            lifespan="off",
            # Keep shutdown quick even if a client holds a keep-alive connection open.
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(uv_config)
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
