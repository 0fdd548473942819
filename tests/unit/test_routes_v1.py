"""V1 routes beyond their shared vectors (tests/vectors/v1_routes.json, run by test_vectors.py)."""

from __future__ import annotations

from typing import Any

import pytest

from openhands_api import errors
from openhands_api.protocol import v0, v1
from openhands_api.protocol.http import Response


def test_batch_get_refuses_more_than_99_ids() -> None:
    ids = [f"{i:032x}" for i in range(100)]
    with pytest.raises(errors.InvalidInputError, match="99"):
        v1.get_conversations(ids)
    assert len(v1.get_conversations(ids[:99]).request.params) == 99


def test_batch_answer_of_the_wrong_length_is_a_protocol_error() -> None:
    call = v1.get_conversations(["a" * 32, "b" * 32])
    with pytest.raises(errors.ProtocolError):
        call.parse(Response(200, {"content-type": "application/json"}, b"[null]"))


@pytest.mark.parametrize("bad", ["not-a-uuid", "../x", "a" * 31, "g" * 32])
def test_non_uuid_conversation_ids_are_refused(bad: str) -> None:
    with pytest.raises(errors.InvalidInputError):
        v1.get_conversations([bad])


def test_create_body_maps_the_unified_names() -> None:
    body = v1.create_body(
        "Fix it",
        title="t",
        repository="OpenHands/OpenHands",
        branch="main",
        git_provider="github",
        image_urls=["https://x/y.png"],
        conversation_instructions="be brief",
        llm_model="anthropic/claude",
    )
    assert body == {
        "initial_message": {
            "role": "user",
            "content": [
                {"type": "text", "text": "Fix it"},
                {"type": "image", "image_urls": ["https://x/y.png"]},
            ],
            "run": True,
        },
        "title": "t",
        "selected_repository": "OpenHands/OpenHands",
        "selected_branch": "main",
        "git_provider": "github",
        "system_message_suffix": "be brief",
        "llm_model": "anthropic/claude",
    }


def test_unknown_v1_create_option_is_refused() -> None:
    with pytest.raises(errors.InvalidInputError, match="Unknown V1 create option"):
        v1.create_body("x", selected_branch="main")


def test_final_message_prefers_the_finish_action() -> None:
    events = [
        v1.V1Event.model_validate(
            {
                "id": "a",
                "kind": "ActionEvent",
                "timestamp": "2026-11-30T02:27:27.1",
                "source": "agent",
                "action": {"kind": "FinishAction", "message": "All done."},
            }
        ),
        v1.V1Event.model_validate(
            {
                "id": "b",
                "kind": "MessageEvent",
                "timestamp": "2026-11-30T02:27:26.0",
                "source": "agent",
                "llm_message": {"role": "assistant", "content": [{"type": "text", "text": "earlier"}]},
            }
        ),
    ]
    assert v1.final_message(events) == "All done."


def test_secrets_are_masked_in_the_unified_view() -> None:
    conversation = v1.AppConversation.model_validate(
        {"id": "a" * 32, "sandbox_status": "RUNNING", "session_api_key": "sess-secret-123"}
    )
    unified = v1.to_conversation(conversation, base_url="https://app.all-hands.dev")
    assert "sess-secret-123" not in repr(unified) + str(unified.model_dump()) + str(unified.raw)
    assert unified.session_api_key is not None
    assert unified.session_api_key.get_secret_value() == "sess-secret-123"
    assert unified.web_url == f"https://app.all-hands.dev/conversations/{'a' * 32}"


def _event(eid: str, kind: str, source: str, ts: str, **fields: object) -> v1.V1Event:
    return v1.V1Event.model_validate({"id": eid, "kind": kind, "source": source, "timestamp": ts, **fields})


def test_final_answer_ignores_answers_from_earlier_turns() -> None:
    text = {"role": "assistant", "content": [{"type": "text", "text": "Which file?"}]}
    finish = {"kind": "FinishAction", "message": "Done."}
    turn1 = [_event("a", "ActionEvent", "agent", "2026-01-01T00:00:01", action=finish)]
    user2 = [_event("b", "MessageEvent", "user", "2026-01-01T00:00:02", llm_message={"content": []})]
    answer2 = [_event("c", "MessageEvent", "agent", "2026-01-01T00:00:03", llm_message=text)]
    assert v1.final_answer(turn1) == ("Done.", "finish")
    assert v1.final_answer(turn1 + user2) == (None, None)
    assert v1.final_answer(turn1 + user2 + answer2) == ("Which file?", "message")


@pytest.mark.parametrize("probe", [v1.probe, v0.probe])
def test_version_probes_tell_absent_from_unknown(probe: Any) -> None:
    call = probe()
    html = {"content-type": "text/html"}
    assert call.parse(Response(404, {"content-type": "application/json"}, b'{"detail":"Not Found"}')) is False
    assert (
        call.parse(Response(405, {"content-type": "application/json"}, b'{"detail":"Method Not Allowed"}'))
        is False
    )
    assert call.parse(Response(200, html, b"<html>web app</html>")) is False
    with pytest.raises(errors.ServerError):  # a broken server is not evidence of a missing API
        call.parse(Response(500, html, b"<html>System Maintenance</html>"))
    with pytest.raises(errors.AuthenticationError):
        call.parse(Response(401, {"content-type": "application/json"}, b'{"detail":"Unauthorized"}'))
