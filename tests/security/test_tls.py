"""TLS: verification is on by default; a custom CA bundle is honoured (``verify=`` or the
standard ``SSL_CERT_FILE``). Served by the fake server's app over HTTPS on loopback with a
certificate made for the test by ``openssl``."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from openhands_api import APIConnectionError, ConfigurationError, OpenHandsAPI
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
