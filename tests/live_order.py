"""What "every event once, in order" means for a followed V1 stream, against the app server's list.

The agent server pushes events in the order it keeps them; the app server lists them by
timestamp. The two differ in one place (observed on openhands-ai 1.11.0, reproduced by the
fake): a step's ``stats`` state update is stamped when the LLM answered, before the step's
action, but kept and pushed once the step is over. So the stream and the list hold the same
events, each once, in the same order except where the stats updates sit.

A followed stream takes the agent server's whole log at every connect (first, and after a
drop) and emits each id once; after the outcome it reads the app server's list once more, for
what the agent server publishes without keeping (the whole-state updates) and a drop hid.
"""

from __future__ import annotations

from collections.abc import Sequence

from openhands_api import Event


def is_stats_update(event: Event) -> bool:
    return event.kind == "ConversationStateUpdateEvent" and event.raw.get("key") == "stats"


def is_state_update(event: Event) -> bool:
    return event.kind == "ConversationStateUpdateEvent" and event.raw.get("key") in ("stats", "full_state")


def assert_same_events_in_stream_order(followed: Sequence[str], listed: Sequence[Event]) -> None:
    """``followed`` (ids, as streamed) has exactly the events of ``listed`` (the app server's
    list), each once, in its order but for the stats updates (see the module docstring)."""
    assert len(followed) == len(set(followed)), "an event came twice"
    listed_ids = [event.id for event in listed]
    assert sorted(followed) == sorted(listed_ids), (
        f"missing {sorted(set(listed_ids) - set(followed))}, extra {sorted(set(followed) - set(listed_ids))}"
    )
    stats = {event.id for event in listed if is_stats_update(event)}
    assert [i for i in followed if i not in stats] == [i for i in listed_ids if i not in stats]
