"""Secrets are masked whole, in pieces, and where a cut went through them; previews redact first."""

from __future__ import annotations

import logging

import pytest

from openhands_api._redaction import guard_logs, preview, redact, scrub

KEY = "sk-oh-0123456789abcdefghijklmnopqrstuvwx"


def test_a_whole_key_is_masked() -> None:
    assert redact(f"key={KEY} and {KEY}", [KEY]) == "key=*** and ***"


def test_any_twelve_character_piece_is_masked() -> None:
    assert redact(f"echo: {KEY[5:20]}!", [KEY]) == "echo: ***!"


def test_a_key_cut_off_at_the_end_or_start_of_a_text_is_masked() -> None:
    assert redact(f"Bearer {KEY[:9]}", [KEY]) == "Bearer ***"
    assert redact(f"{KEY[-7:]} was the tail", [KEY]) == "*** was the tail"


def test_short_or_unrelated_text_is_left_alone() -> None:
    assert redact("sk-o is not enough in the middle; nothing else", [KEY]) == (
        "sk-o is not enough in the middle; nothing else"
    )
    assert redact("anything", []) == "anything"


def test_a_preview_is_redacted_before_it_is_cut() -> None:
    body = ("x" * 290 + KEY).encode()
    text = preview(body, [KEY], 300)
    assert len(text) <= 300
    assert KEY[:10] not in text
    assert text.endswith("***")


def test_scrub_reaches_every_string_inside() -> None:
    value = {"detail": f"bad {KEY}", "items": [KEY, 1, (KEY,)], KEY: "k"}
    assert scrub(value, [KEY]) == {"detail": "bad ***", "items": ["***", 1, ("***",)], "***": "k"}


@pytest.mark.parametrize("logger_name", ["openhands_api", "httpx", "httpcore.http11"])
def test_guarded_loggers_never_record_a_key(logger_name: str, caplog: pytest.LogCaptureFixture) -> None:
    guard_logs([KEY])
    caplog.set_level(logging.DEBUG, logger=logger_name)
    logging.getLogger(logger_name).debug("headers %s", [(b"X-Echo", f"Bearer {KEY}".encode())])
    assert KEY[:12] not in caplog.text
    assert "***" in caplog.text
