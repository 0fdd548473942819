"""The same user script for every server: create → wait → result → send a message → wait →
download. It must pass unchanged against a V0 and a V1 server (fake or real): that is what
"one interface over both generations" means for a user."""

from __future__ import annotations

from pathlib import Path

from openhands_api import OpenHandsAPI, Outcome


def run_user_script(api: OpenHandsAPI, workdir: Path, *, timeout: float = 240) -> dict[str, object]:
    conversation = api.create_conversation("Write hello.py. [fake-llm steps=1]", title="user script")
    try:
        first = api.wait(conversation.id, timeout=timeout)
        assert first.outcome is Outcome.FINISHED, first
        result = api.result(conversation.id)
        assert result.outcome is Outcome.FINISHED
        assert result.final_message
        second = api.send_and_wait(conversation.id, "Now add a test.", timeout=timeout)
        assert second.outcome is Outcome.FINISHED, second
        history = api.download_history(conversation.id, workdir / "history")
        assert history.stat().st_size > 0
        events = list(api.iter_events(conversation.id))
        assert events
        return {
            "api_version": api.api_version,
            "web_url": conversation.web_url,
            "final_message": result.final_message,
            "events": len(events),
        }
    finally:
        api.delete_conversation(conversation.id)
