"""The V0 lost-create lookup on a crowded server (issue 11, item 7): the server made the
conversation and the answer was lost; 100 other recent conversations (another client's, same
fields, other prompts) exist. The lookup finds it with a few requests and reads none of the
others' events: the server's clock (the Date of its list answers) shows them older than the
create.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from openhands_api import OpenHandsAPI
from openhands_api.protocol.generation import CLOCK_MARGIN, LOOKUP_WINDOW
from openhands_api.testing import FakeOpenHandsServer, FaultRule, ManualClock

PROMPT = "Ours, the one whose answer is lost."


def test_a_lost_create_among_100_recent_conversations_reads_none_of_their_events(
    fake_openhands_factory: Callable[..., FakeOpenHandsServer],
) -> None:
    clock = ManualClock()
    server = fake_openhands_factory(rate_limit=False, clock=clock, max_concurrent_conversations=200)
    with httpx.Client(base_url=server.base_url, timeout=30) as other_client:
        others = [
            other_client.post("/api/conversations", json={"initial_user_msg": f"Another task {n}."}).json()[
                "conversation_id"
            ]
            for n in range(100)
        ]
    clock.advance(1.0)  # their runtimes come up and record their first messages
    # Recent by any client-clock window, yet older than the create by more than the margin.
    clock.advance(CLOCK_MARGIN + 60.0)
    assert CLOCK_MARGIN + 61.0 < LOOKUP_WINDOW

    server.state.faults.add(FaultRule("reset_after", method="POST", path="/api/conversations"))
    made = threading.Event()

    def runtime_comes_up() -> None:
        # Once the server made ours, its runtime comes up (the clock moves on a second).
        while len(server.state.conversations) <= 100 and not made.wait(0.01):
            pass
        clock.advance(1.0)

    helper = threading.Thread(target=runtime_comes_up, daemon=True)
    helper.start()
    before = len(server.state.requests)
    try:
        with OpenHandsAPI(
            base_url=server.base_url,
            api_version="v0",
            throttle=False,
            poll_interval=0.05,
            max_poll_interval=0.05,
        ) as api:
            conversation = api.create_conversation(PROMPT)
    finally:
        made.set()
        helper.join(5)

    assert len(server.state.conversations) == 101  # exactly one made, and found
    assert conversation.id not in others
    lookup = [r for r in server.state.requests[before:] if r.method == "GET"]
    read = {r.path.split("/")[3] for r in lookup if "/events" in r.path}
    assert read == {conversation.id}  # not one of the 100 others
    # A list and our events per look; ours may need a look or two more to show its message.
    assert len(lookup) <= 8, [r.path for r in lookup]
