"""Secrets in events never reach a unified ``Event``, and events that cannot hold one are not
walked for them (the unified iterator costs little more than the wire one).

Socket-free: the operations run through the scripted servers (``tests/unit/scripted.py``),
so each page is parsed from the bytes a server would send.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from openhands_api.models import (
    SECRET_KEYS,
    SECRET_MASK,
    Event,
    V0Event,
    V1Event,
    mask_secrets,
    may_hold_secrets,
)
from openhands_api.protocol import v0, v1
from openhands_api.protocol.v0_ops import V0Generation
from openhands_api.protocol.v1_ops import V1Generation
from tests.unit.opdriver import Driver
from tests.unit.scripted import V0_CID, V1_CID, V0Server, V1Server, context, user_message, v0_run, v1_event

SECRET = "sk-live-0123456789abcdef"


def _llm(**secrets: str) -> dict[str, Any]:
    return {"model": "openai/gpt", "base_url": None, "usage_id": "agent", **secrets}


def full_state_with_secrets(n: int) -> dict[str, Any]:
    """A ``full_state`` update as 1.11.0 would send it if it exposed the LLM's secret fields
    (``LLM_SECRET_FIELDS``), with a key in a list too."""
    value = {
        "execution_status": "finished",
        "agent": {
            "llm": _llm(api_key=SECRET, aws_access_key_id=SECRET, aws_secret_access_key=SECRET),
            "condenser": {
                "llm": _llm(api_key=SECRET, aws_session_token=SECRET),
                "kind": "LLMSummarizingCondenser",
            },
            "tools": [{"name": "terminal", "params": {}}, {"name": "search", "params": {"api_key": SECRET}}],
            "kind": "Agent",
        },
        "stats": {"usage_to_metrics": {}},
    }
    return v1_event(n, "ConversationStateUpdateEvent", "environment", key="full_state", value=value)


def v0_event_with_secrets(event_id: int) -> dict[str, Any]:
    return {
        "id": event_id,
        "source": "environment",
        "observation": "recall",
        "content": "",
        "extras": {
            "session_api_key": SECRET,
            "runtime_hosts": [{"host": "h", "llm_api_key": SECRET}],
            "mcp": {"servers": [{"url": "https://mcp", "api_key": SECRET}]},
        },
    }


def _leaks(event: Event) -> bool:
    return SECRET in repr(event) + str(event) + str(event.raw) + event.model_dump_json()


# ---------------------------------------------------------------------------- mask_secrets


def test_every_secret_key_is_masked_nested_and_in_lists() -> None:
    value = {
        "a": {key: SECRET for key in SECRET_KEYS},
        "b": [[{"api_key": SECRET}], {"x": [{"session_api_key": SECRET}]}],
        "api_key": "",  # an empty secret is no secret: kept as sent
        "llm_api_key": None,
    }
    masked = mask_secrets(value)
    assert SECRET not in json.dumps(masked)
    assert masked["a"] == dict.fromkeys(SECRET_KEYS, SECRET_MASK)
    assert masked["b"][0][0]["api_key"] == SECRET_MASK
    assert (masked["api_key"], masked["llm_api_key"]) == ("", None)
    assert SECRET in json.dumps(value)  # the original is left alone


def test_only_the_path_to_a_secret_is_copied() -> None:
    clean = {"args": {"command": "ls", "nested": [{"deep": [1, 2]}]}, "content": "x"}
    assert mask_secrets(clean) is clean
    value = {"clean": {"big": list(range(10))}, "path": {"to": [{"api_key": SECRET}, {"other": 1}]}}
    masked = mask_secrets(value)
    assert masked is not value
    assert masked["clean"] is value["clean"]  # shared: nothing to mask there
    assert masked["path"]["to"][1] is value["path"]["to"][1]
    assert masked["path"]["to"][0] == {"api_key": SECRET_MASK}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"items": [{"kind": "MessageEvent", "text": "api_key is a word"}]}', False),
        (b'{"value": {"llm": {"api_key": "x"}}}', True),
        (b'{"session_api_key":"x"}', True),
        (b'{"aws_session_token": "x"}', True),
        # an escape could spell a key name in disguise: then the events are walked
        (b'{"api\\u005fkey": "x"}', True),
        (b'{"text": "caf\\u00e9"}', True),
    ],
)
def test_an_answer_may_hold_secrets_only_if_its_bytes_say_so(body: bytes, expected: bool) -> None:
    assert may_hold_secrets(body) is expected


# ---------------------------------------------------------------------------- unified events


def test_v1_unified_events_mask_the_llm_secrets_of_full_state() -> None:
    server = V1Server("RUNNING", "finished", [user_message(1), full_state_with_secrets(2)])
    driver = Driver(server.answer)
    driver.run(V1Generation(context()).iter_events(V1_CID, reverse=True, page_size=100))
    state = driver.emitted[0]
    assert state.raw["key"] == "full_state"
    assert not any(_leaks(event) for event in driver.emitted)
    agent = state.raw["value"]["agent"]
    assert agent["llm"]["api_key"] == agent["llm"]["aws_secret_access_key"] == SECRET_MASK
    assert agent["condenser"]["llm"]["aws_session_token"] == SECRET_MASK
    assert agent["tools"][1]["params"]["api_key"] == SECRET_MASK
    assert agent["tools"][0] == {"name": "terminal", "params": {}}


def test_v0_unified_events_mask_secrets_in_args_and_extras() -> None:
    server = V0Server("RUNNING", [v0_run(0), v0_event_with_secrets(1)])
    driver = Driver(server.answer)
    driver.run(V0Generation(context()).iter_events(V0_CID, reverse=False, page_size=20))
    assert [e.seq for e in driver.emitted] == [0, 1]
    assert not any(_leaks(event) for event in driver.emitted)
    extras = driver.emitted[1].raw["extras"]
    assert extras["session_api_key"] == SECRET_MASK
    assert extras["runtime_hosts"][0]["llm_api_key"] == SECRET_MASK
    assert extras["mcp"]["servers"][0] == {"url": "https://mcp", "api_key": SECRET_MASK}


def test_a_converted_event_without_its_page_is_masked() -> None:
    """``to_event`` alone (no page told it otherwise) assumes a secret may be there."""
    unified = v0.to_event(V0Event.model_validate(v0_event_with_secrets(1)))
    assert not _leaks(unified)
    assert not _leaks(v1.to_event(V1Event.model_validate(full_state_with_secrets(1))))


def test_raw_is_the_wire_event_as_model_dump_gives_it() -> None:
    """``raw`` is built without re-dumping the model; it must still be what a dump gives."""
    wire0 = V0Event.model_validate({**v0_run(3), "cause": None, "extra_field": {"a": [1]}})
    assert v0.to_event(wire0).raw == wire0.model_dump(mode="json", exclude_none=True)
    wire1 = V1Event.model_validate({**user_message(2), "parent_id": None, "sender": None})
    assert v1.to_event(wire1).raw == wire1.model_dump(mode="json")


# ------------------------------------------------------------ walked only where a secret can be


class CountingMask:
    """Counts the walks of events for secrets (top-level calls of ``mask_secrets``)."""

    def __init__(self) -> None:
        self.walked: list[Any] = []

    def __call__(self, value: Any) -> Any:
        self.walked.append(value)
        return mask_secrets(value)


@pytest.fixture
def counting_mask(monkeypatch: pytest.MonkeyPatch) -> CountingMask:
    counter = CountingMask()
    monkeypatch.setattr(v0, "mask_secrets", counter)
    monkeypatch.setattr(v1, "mask_secrets", counter)
    return counter


def test_v1_events_of_pages_without_secret_keys_are_not_walked(counting_mask: CountingMask) -> None:
    # Page 1 (newest first): the full_state with secrets and one clean event; page 2: clean only.
    events = [user_message(n) for n in range(1, 6)] + [full_state_with_secrets(6)]
    driver = Driver(V1Server("RUNNING", "finished", events).answer)
    driver.run(V1Generation(context()).iter_events(V1_CID, reverse=True, page_size=2))
    assert len(driver.emitted) == 6
    assert len(counting_mask.walked) == 2  # the two events of the page that held a secret key
    assert not any(_leaks(event) for event in driver.emitted)


def test_v0_events_of_pages_without_secret_keys_are_not_walked(counting_mask: CountingMask) -> None:
    events = [v0_run(i) for i in range(5)] + [v0_event_with_secrets(5)]
    driver = Driver(V0Server("RUNNING", events).answer)
    driver.run(V0Generation(context()).iter_events(V0_CID, reverse=False, page_size=2))
    assert [e.seq for e in driver.emitted] == list(range(6))
    assert len(counting_mask.walked) == 2  # the two events of page 3, which held a secret key
    assert not any(_leaks(event) for event in driver.emitted)


@pytest.mark.parametrize(
    "unified",
    [
        lambda: v0.to_event(
            V0Event.model_validate(
                {
                    "id": 7,
                    "timestamp": "2026-12-01T10:00:00.5",
                    "source": "agent",
                    "action": "run",
                    "args": {"command": "ls", "api_key": SECRET},
                    "message": "Running ls",
                }
            )
        ),
        lambda: v1.to_event(
            V1Event.model_validate(
                {
                    "id": "e1",
                    "kind": "ActionEvent",
                    "timestamp": "2026-12-01T10:00:00.5",
                    "source": "agent",
                    "action": {"kind": "FinishAction", "message": "Done."},
                }
            )
        ),
    ],
    ids=["v0", "v1"],
)
def test_a_unified_event_is_what_validating_its_fields_would_make(unified: Any) -> None:
    # to_event skips validation (its fields are built from a validated wire event): the types
    # must be exactly those Event declares, so validating the event again changes nothing.
    event = unified()
    assert Event.model_validate(event.model_dump()) == event
    assert SECRET not in repr(event)
