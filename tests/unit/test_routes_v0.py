"""V0 routes beyond their shared vectors (tests/vectors/v0_routes.json, run by test_vectors.py)."""

from __future__ import annotations

from typing import Any

import pytest

from openhands_api import errors
from openhands_api.protocol import v0
from openhands_api.protocol.http import Response


def test_unknown_fields_survive_parsing() -> None:
    call = v0.get_conversation("a" * 32)
    body = b'{"conversation_id":"' + b"a" * 32 + b'","status":"HIBERNATING","brand_new":{"x":1}}'
    info = call.parse(Response(200, {"content-type": "application/json"}, body))
    assert info is not None
    assert info.status == "HIBERNATING"
    assert info["brand_new"] == {"x": 1}


def test_session_key_is_not_in_repr() -> None:
    body = b'{"conversation_id":"' + b"a" * 32 + b'","session_api_key":"sk-secret-value"}'
    info = v0.get_conversation("a" * 32).parse(Response(200, {"content-type": "application/json"}, body))
    assert info is not None
    assert "sk-secret-value" not in repr(info)
    assert "sk-secret-value" not in str(v0.to_conversation(info, base_url="http://x").model_dump())


@pytest.mark.parametrize(
    "bad_id", ["", "../etc", "a/b", "a\\b", "a\x00b", "a\nb", "x" * 101, "a b", "%2e%2e"]
)
def test_ids_with_path_characters_are_refused_before_sending(bad_id: str) -> None:
    with pytest.raises(errors.InvalidInputError):
        v0.get_conversation(bad_id)


@pytest.mark.parametrize("limit", [-1, 101, 1.5, True])
def test_event_limit_out_of_range_is_refused(limit: Any) -> None:
    with pytest.raises(errors.InvalidInputError):
        v0.get_events("a" * 32, limit=limit)


def test_event_limit_zero_and_hundred_are_allowed() -> None:
    assert dict(v0.get_events("a" * 32, limit=0).request.params)["limit"] == "0"
    assert dict(v0.get_events("a" * 32, limit=100).request.params)["limit"] == "100"


@pytest.mark.parametrize("repo", ["owner", "owner/", "/repo", "own er/repo", "owner/../x", ""])
def test_malformed_repository_is_refused(repo: str) -> None:
    with pytest.raises(errors.InvalidInputError, match="owner/repo"):
        v0.create_body("hi", repository=repo)


def test_create_body_has_only_given_fields() -> None:
    body = v0.create_body(
        "hi",
        repository="OpenHands/OpenHands",
        selected_branch="main",
        git_provider="github",
        image_urls=["https://x/y.png"],
        conversation_instructions="be brief",
    )
    assert body == {
        "initial_user_msg": "hi",
        "repository": "OpenHands/OpenHands",
        "selected_branch": "main",
        "git_provider": "github",
        "image_urls": ["https://x/y.png"],
        "conversation_instructions": "be brief",
    }


@pytest.mark.parametrize("prompt", ["", "   \n", "a\x00b"])
def test_empty_or_binary_prompt_is_refused(prompt: str) -> None:
    with pytest.raises(errors.InvalidInputError):
        v0.create_body(prompt)


def test_unknown_create_option_is_refused_locally() -> None:
    with pytest.raises(errors.InvalidInputError, match="Unknown V0 create option"):
        v0.create_body("hi", branch="main")


def test_final_message_prefers_final_thought() -> None:
    events = [
        v0.V0Event(
            id=7,
            source="agent",
            action="finish",
            message="All done! What's next on the agenda?",
            args={"final_thought": "Task complete."},
        ),
        v0.V0Event(id=5, source="agent", action="message", args={"content": "earlier"}),
    ]
    assert v0.final_message(events) == "Task complete."


def test_final_message_falls_back_to_the_agents_last_message() -> None:
    events = [
        v0.V0Event(id=5, source="user", action="message", args={"content": "question"}),
        v0.V0Event(id=7, source="agent", action="message", args={"content": "Which file?"}),
    ]
    assert v0.final_message(events) == "Which file?"


def test_cost_comes_from_the_newest_metrics() -> None:
    events = [
        v0.V0Event(id=3, llm_metrics={"accumulated_cost": 0.1}),
        v0.V0Event(
            id=7, llm_metrics={"accumulated_cost": 0.25, "accumulated_token_usage": {"prompt_tokens": 9}}
        ),
    ]
    assert v0.accumulated_cost(events) == (0.25, {"prompt_tokens": 9})
