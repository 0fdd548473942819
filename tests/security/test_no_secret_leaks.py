"""Keys never appear in anything the library or the CLI writes.

The whole matrix — sync and async clients, success and error paths, debug logging (ours,
httpx's and httpcore's), the CLI with --debug and --json-like output — runs with
recognisable canary keys, and everything written is scanned for them.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from openhands_api import AsyncOpenHandsAPI, OpenHandsAPI, OpenHandsError
from openhands_api.testing import FakeOpenHandsServer

API_KEY = f"sk-oh-CANARY-{uuid.uuid4().hex}"
WRONG_KEY = f"sk-oh-CANARY-wrong-{uuid.uuid4().hex}"
SESSION_KEY = f"sess-CANARY-{uuid.uuid4().hex}"
CANARIES = (API_KEY, WRONG_KEY, SESSION_KEY)


class Collector:
    """Everything the code under test produced, as text."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, value: Any) -> None:
        self.texts.append(repr(value))
        self.texts.append(str(value))
        dump = getattr(value, "model_dump_json", None)
        if callable(dump):
            self.texts.append(dump())
        if isinstance(value, BaseException):
            self.texts.extend(str(arg) for arg in value.args)
            self.texts.extend(repr(v) for v in vars(value).values())

    def call(self, fn: Callable[[], Any]) -> Any:
        try:
            result = fn()
        except OpenHandsError as exc:
            self.add(exc)
            return None
        self.add(result)
        return result

    def assert_clean(self) -> None:
        everything = "\n".join(self.texts)
        for canary in CANARIES:
            assert canary not in everything, f"a key leaked: {canary[:16]}…"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in ("openhands_api", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _exercise(api: OpenHandsAPI, collect: Collector, tmp_path: Path) -> None:
    collect.add(api)
    conversation = collect.call(lambda: api.create_conversation("Leak check. [fake-llm steps=1]", title="t"))
    assert conversation is not None
    collect.call(lambda: api.wait(conversation.id, timeout=30))
    collect.call(lambda: api.get_conversation(conversation.id))
    collect.call(lambda: api.result(conversation.id))
    collect.call(lambda: list(api.iter_events(conversation.id)))
    collect.call(lambda: api.list_conversations(limit=5))
    collect.call(lambda: api.send_and_wait(conversation.id, "again", timeout=30))
    collect.call(lambda: api.download_history(conversation.id, tmp_path / "h.json"))
    collect.texts.append((tmp_path / "h.json").read_text())
    collect.call(lambda: api.v0.get_conversation(conversation.id))
    collect.call(lambda: api.get_conversation("0123456789abcdef0123456789abcdef"))  # NotFoundError
    collect.call(lambda: api.get_conversation("../etc"))  # InvalidInputError
    collect.call(lambda: api.wait(conversation.id, timeout=0.01, after=None))
    collect.call(lambda: api.delete_conversation(conversation.id))


def test_bearer_key_never_leaks(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
    debug_logs: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, api_key=API_KEY)
    collect = Collector()
    with OpenHandsAPI(base_url=server.base_url, api_key=API_KEY, poll_interval=0.05) as api:
        _exercise(api, collect, tmp_path)
    with OpenHandsAPI(base_url=server.base_url, api_key=WRONG_KEY) as wrong:
        collect.call(lambda: wrong.create_conversation("x"))
    with OpenHandsAPI(base_url="http://127.0.0.1:9", api_key=API_KEY, max_retries=1) as unreachable:
        collect.call(lambda: unreachable.create_conversation("x"))
    collect.texts.extend(record.getMessage() for record in debug_logs.records)
    collect.texts.append(debug_logs.text)
    collect.assert_clean()
    assert any("retrying" in record.getMessage() for record in debug_logs.records)  # debug logging was on


def test_session_key_never_leaks(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
    debug_logs: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, session_api_key=SESSION_KEY)
    collect = Collector()
    with OpenHandsAPI(base_url=server.base_url, session_api_key=SESSION_KEY, poll_interval=0.05) as api:
        _exercise(api, collect, tmp_path)
    collect.texts.append(debug_logs.text)
    collect.assert_clean()


async def test_async_client_never_leaks(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], debug_logs: pytest.LogCaptureFixture
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, api_key=API_KEY)
    collect = Collector()
    async with AsyncOpenHandsAPI(base_url=server.base_url, api_key=API_KEY, poll_interval=0.05) as api:
        collect.add(api)
        conversation = await api.create_conversation("Async leak check.")
        collect.add(conversation)
        collect.add(await api.wait(conversation.id, timeout=30))
    async with AsyncOpenHandsAPI(base_url=server.base_url, api_key=WRONG_KEY) as wrong:
        try:
            await wrong.create_conversation("x")
        except OpenHandsError as exc:
            collect.add(exc)
    collect.texts.append(debug_logs.text)
    collect.assert_clean()


POLLED_RUN = ("new-conversation", "--prompt", "hi", "--poll", "--poll-interval-s", "0.1")


def _cli(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    done = subprocess.run(
        [sys.executable, "-m", "openhands_api", "--debug", *args],
        capture_output=True,
        text=True,
        env={**base, **env},
        input=stdin,
        timeout=120,
    )
    return done.stdout + done.stderr


def test_profile_commands_never_print_a_key(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer], tmp_path: Path
) -> None:
    bearer = fake_openhands_factory(rate_limit=False, speed=5.0, api_key=API_KEY)
    session = fake_openhands_factory(rate_limit=False, speed=5.0, session_api_key=SESSION_KEY)
    home = {"HOME": str(tmp_path)}
    outputs = [
        _cli("auth", "login", "--profile", "b", "--base-url", bearer.base_url, stdin=API_KEY, env=home),
        _cli(
            "auth",
            "login",
            "--profile",
            "s",
            "--base-url",
            session.base_url,
            "--session-key",
            stdin=SESSION_KEY,
            env=home,
        ),
        _cli("auth", "login", "--profile", "w", "--base-url", bearer.base_url, stdin=WRONG_KEY, env=home),
        _cli("auth", "profiles", env=home),
        _cli("auth", "profiles", "--json", env=home),
        _cli("auth", "status", "--profile", "b", "--json", env=home),
        _cli("auth", "status", "--profile", "s", env=home),
        _cli(*POLLED_RUN, "--profile", "s", env=home),
        _cli("list", "--profile", "b", "--base-url", "https://elsewhere.example", env=home),
    ]
    everything = "\n".join(outputs)
    assert "Traceback" not in everything
    assert "saved profile 'b'" in outputs[0]
    assert "finished" in outputs[7]
    for canary in CANARIES:
        assert canary not in everything


def test_cli_never_prints_a_key(fake_openhands_factory: Callable[..., FakeOpenHandsServer]) -> None:
    bearer = fake_openhands_factory(rate_limit=False, speed=5.0, api_key=API_KEY)
    session = fake_openhands_factory(rate_limit=False, speed=5.0, session_api_key=SESSION_KEY)
    outputs = [
        _cli(
            *POLLED_RUN,
            env={"OPENHANDS_BASE_URL": bearer.base_url, "OPENHANDS_API_KEY": API_KEY},
        ),
        _cli(
            "new-conversation",
            "--prompt",
            "hi",
            "--api-key",
            WRONG_KEY,
            "--base-url",
            bearer.base_url,
            env={},
        ),
        _cli(
            *POLLED_RUN,
            env={"OPENHANDS_BASE_URL": session.base_url, "OPENHANDS_SESSION_API_KEY": SESSION_KEY},
        ),
        _cli(
            "new-conversation",
            "--prompt",
            "hi",
            "--session-api-key",
            WRONG_KEY,
            "--base-url",
            session.base_url,
            env={},
        ),
        _cli(
            "new-conversation",
            "--prompt",
            "hi",
            "--api-key",
            API_KEY,
            "--base-url",
            "http://127.0.0.1:9",
            env={},
        ),
        _cli(
            "new-conversation",
            "--prompt",
            "hi",
            "--api-key",
            API_KEY,
            "--base-url",
            "http://example.com",
            env={},
        ),
        _cli(
            "new-conversation",
            "--prompt",
            "hi",
            "--api-key",
            API_KEY,
            "--base-url",
            f"ftp://user:{API_KEY}@host",
            env={},
        ),
        _cli("new-conversation", "--prompt", "hi", env={"OPENHANDS_API_KEY": f"{API_KEY}\n\x01bad"}),
    ]
    everything = "\n".join(outputs)
    assert "Traceback" not in everything
    assert "finished" in outputs[0]
    for canary in CANARIES:
        assert canary not in everything


def test_v1_session_keys_from_the_server_never_leak(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
    debug_logs: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations="v1", api_key=API_KEY)
    collect = Collector()
    with OpenHandsAPI(base_url=server.base_url, api_key=API_KEY, poll_interval=0.05) as api:
        conversation = collect.call(lambda: api.create_conversation("V1 leak check."))
        collect.call(lambda: api.wait(conversation.id, timeout=30))
        collect.call(lambda: api.get_conversation(conversation.id))
        collect.call(lambda: api.v1.get_conversations([conversation.id]))
        collect.call(lambda: list(api.v1.iter_sandboxes()))
        collect.call(lambda: api.v1.get_sandboxes([conversation.sandbox_id]))
        collect.call(lambda: api.list_conversations(limit=5))
        collect.call(lambda: api.result(conversation.id))
        collect.call(lambda: api.send_and_wait(conversation.id, "again", timeout=30))
        session_keys = [s.session_api_key for s in server.state.v1.sandboxes.values()]
        assert session_keys
        assert api.get_conversation(conversation.id).session_api_key.get_secret_value() in session_keys  # type: ignore[union-attr]
    outputs = [
        _cli(
            command,
            conversation.id,
            "--json",
            env={"OPENHANDS_BASE_URL": server.base_url, "OPENHANDS_API_KEY": API_KEY},
        )
        for command in ("get", "result", "wait")
    ]
    collect.texts.extend(outputs)
    collect.texts.append(debug_logs.text)
    everything = "\n".join(collect.texts)
    assert '"id"' in everything  # the outputs really contain the conversation
    for key in (*session_keys, API_KEY):
        assert key not in everything
