"""TLS and proxies: verification is on by default; a custom CA bundle is honoured (``verify=``
or the standard ``SSL_CERT_FILE``); an HTTPS proxy from the standard ``HTTPS_PROXY`` variable
is used (and ``NO_PROXY`` respected), tunnelling so the proxy never sees the key. Served by the
fake server's app over HTTPS on loopback with a certificate made for the test by ``openssl``,
behind a small CONNECT proxy written here."""

from __future__ import annotations

import asyncio
import selectors
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from openhands_api import APIConnectionError, AsyncOpenHandsAPI, ConfigurationError, OpenHandsAPI
from openhands_api.testing import create_app

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def _make_certificate(directory: Path) -> tuple[Path, Path]:
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    key, cert = _make_certificate(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(rate_limit=False),
        host="127.0.0.1",
        port=port,
        ssl_keyfile=str(key),
        ssl_certfile=str(cert),
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"https://127.0.0.1:{port}", cert
    finally:
        server.should_exit = True
        thread.join(10)


def test_an_unknown_certificate_is_refused_by_default(https_server: tuple[str, Path]) -> None:
    base_url, _ = https_server
    with (
        OpenHandsAPI(base_url=base_url, api_key="k", max_retries=0) as api,
        pytest.raises(APIConnectionError) as caught,
    ):
        api.list_conversations(limit=1)
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


def test_a_custom_ca_bundle_is_honoured(https_server: tuple[str, Path]) -> None:
    base_url, cert = https_server
    with OpenHandsAPI(base_url=base_url, api_key="k", verify=str(cert)) as api:
        assert api.list_conversations(limit=1) == []


def test_ssl_cert_file_is_honoured(https_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    base_url, cert = https_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with OpenHandsAPI(base_url=base_url, api_key="k") as api:
        assert api.list_conversations(limit=1) == []


def test_a_missing_ca_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CA bundle"):
        OpenHandsAPI(base_url="https://127.0.0.1:1", verify=str(tmp_path / "nope.pem"))


CANARY_KEY = "sk-proxy-canary-5f1e0c9a"


class ConnectProxy:
    """A forward proxy that only tunnels (``CONNECT``), as corporate HTTPS proxies do. It
    records each tunnel's target and every byte the client sent through it."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.tunnels: list[str] = []
        self.relayed = bytearray()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
            if method != "CONNECT":
                conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            self.tunnels.append(target)
            host, port = target.rsplit(":", 1)
            with socket.create_connection((host, int(port))) as upstream:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._pipe(conn, upstream)

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, client)
            while True:
                for key, _ in selector.select():
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(65536)
                    if not data:
                        return
                    if source is client:
                        self.relayed += data
                    key.data.sendall(data)


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectProxy]:
    for name in ("ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    server = ConnectProxy()
    monkeypatch.setenv("HTTPS_PROXY", server.url)
    try:
        yield server
    finally:
        server.close()


def test_the_https_proxy_of_the_environment_tunnels_every_request(
    https_server: tuple[str, Path], proxy: ConnectProxy
) -> None:
    base_url, cert = https_server
    with OpenHandsAPI(base_url=base_url, api_key=CANARY_KEY, verify=str(cert)) as api:
        assert api.list_conversations(limit=1) == []
        conversation_id = api.create_conversation(initial_user_msg="through the proxy")["conversation_id"]
        assert api.get_conversation(conversation_id).id == conversation_id
    assert proxy.tunnels == [base_url.removeprefix("https://")]
    # The proxy carried the requests but, tunnelling TLS, could not read the key.
    assert len(proxy.relayed) > 1000
    assert CANARY_KEY.encode() not in proxy.relayed


def test_the_async_client_uses_the_proxy_too(https_server: tuple[str, Path], proxy: ConnectProxy) -> None:
    base_url, cert = https_server

    async def main() -> None:
        async with AsyncOpenHandsAPI(base_url=base_url, api_key=CANARY_KEY, verify=str(cert)) as api:
            assert await api.list_conversations(limit=1) == []

    asyncio.run(main())
    assert proxy.tunnels == [base_url.removeprefix("https://")]


def test_no_proxy_bypasses_the_proxy(
    https_server: tuple[str, Path], proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, cert = https_server
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with OpenHandsAPI(base_url=base_url, api_key=CANARY_KEY, verify=str(cert)) as api:
        assert api.list_conversations(limit=1) == []
    assert proxy.tunnels == []
