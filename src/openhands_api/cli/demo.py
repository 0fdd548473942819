"""``openhands-api demo``: the main job, end to end, against the embedded fake server.

A newcomer sees what the library does with no account and no OpenHands install: start a
conversation, follow it until the agent is really done, read what happened, send a follow-up,
wait again, and clean up. Everything goes over HTTP on loopback, exactly as it would against
OpenHands Cloud or a self-hosted server.
"""

from __future__ import annotations

import click

from . import exit_codes

PROMPT = "Write hello.py that prints 'hello, world', then run it. [fake-llm steps=2]"
FOLLOW_UP = "Now add a test for it."

NEXT_STEPS = (
    "Done. Now from the shell, still without an account: serve the fake in one terminal,",
    "  python -m openhands_api.testing serve --port 8000",
    "and in another:",
    "  export OPENHANDS_BASE_URL=http://127.0.0.1:8000",
    "  openhands-api new-conversation --prompt 'Write hello.py [fake-llm steps=2]' --poll",
    "On OpenHands Cloud: create a key at https://app.all-hands.dev/settings/api-keys,",
    "export OPENHANDS_API_KEY=<your key>, unset OPENHANDS_BASE_URL, and run the same command",
    "with a real prompt (and --repo owner/repo).",
)
"""What to try next: first what works at once, then Cloud (tests/cli run these commands)."""


def run_demo(*, speed: float) -> int:
    try:
        from ..testing import FakeOpenHandsServer
    except ImportError:
        click.echo(
            "error: the demo needs the fake server's extra: pip install 'openhands-api[testing]'",
            err=True,
        )
        return exit_codes.USAGE
    from ..client import OpenHandsAPI

    say = click.echo
    with FakeOpenHandsServer(speed=speed) as server:
        say(f"Fake OpenHands server (V0 API, scripted agent) at {server.base_url}\n")
        say("The library, in Python (the same calls work on OpenHands Cloud or a self-hosted server):\n")
        say(">>> from openhands_api import OpenHandsAPI")
        say(f">>> api = OpenHandsAPI(base_url={server.base_url!r})")
        with OpenHandsAPI(base_url=server.base_url, poll_interval=0.2, max_poll_interval=1.0) as api:
            say(f">>> conversation = api.create_conversation({PROMPT!r})")
            conversation = api.create_conversation(PROMPT)
            say(f"    id {conversation.id}  ({api.api_version} API)\n    web page: {conversation.web_url}\n")

            say(">>> result = api.wait(conversation.id)   # polls until the agent's turn has an outcome")
            result = api.wait(conversation.id, timeout=120)
            say(f"    outcome: {result.outcome.value}")
            say(f"    final message: {result.final_message}\n")

            say(">>> for event in api.iter_events(conversation.id): ...")
            for event in api.iter_events(conversation.id):
                text = (event.text or "").replace("\n", " ")
                say(f"    {event.id:>3}  {event.source or '':<11} {event.kind:<34} {text[:50]}")
            say("")

            say(f">>> follow_up = api.send_and_wait(conversation.id, {FOLLOW_UP!r})")
            follow_up = api.send_and_wait(conversation.id, FOLLOW_UP, timeout=120)
            say(f"    outcome: {follow_up.outcome.value}")
            say(f"    final message: {follow_up.final_message}\n")

            say(">>> api.delete_conversation(conversation.id)")
            say(f"    deleted: {api.delete_conversation(conversation.id)}\n")
    for line in NEXT_STEPS:
        say(line)
    return exit_codes.OK if result.outcome.succeeded and follow_up.outcome.succeeded else exit_codes.FAILED
