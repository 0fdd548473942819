"""docs/cli-json.md is the CLI's JSON schema: every command is documented there, with exactly the
fields its --json prints, and what it prints has those fields and no others."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest

from openhands_api.cli.app import cli
from openhands_api.cli.views import CONVERSATION_FIELDS, EVENT_FIELDS, RESULT_FIELDS
from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import invoke

DOC = (Path(__file__).parents[2] / "docs" / "cli-json.md").read_text()
GROUPS = {
    "the conversation's": CONVERSATION_FIELDS,
    "the outcome's": RESULT_FIELDS,
    "the event's": EVENT_FIELDS,
}


def _commands(group: click.Group = cli, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= _commands(command, f"{prefix}{name} ")
        elif command.name == name:  # an alias is the same command under another name
            found[prefix + name] = command
    return found


def _documented() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Each command's (fields, fields on request) as the page lists them."""
    sections = re.split(r"^### `([^`]+)`\n", DOC, flags=re.MULTILINE)[1:]
    documented = {}
    for name, body in zip(sections[::2], sections[1::2], strict=True):
        if "Fields:" not in body:  # api (the server's JSON), completion (a script)
            continue
        fields_line = body.split("Fields:", 1)[1].split(". On request:")[0].split("\n\n")[0]
        fields: tuple[str, ...] = ()
        for group, names in GROUPS.items():
            if group in fields_line:
                fields += tuple(n for n in names if n not in fields)
        if not fields:
            fields = tuple(re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", fields_line)))
        on_request = (
            tuple(re.findall(r"`([a-z_]+)`", body.split("On request:", 1)[1].split("\n")[0]))
            if "On request:" in body
            else ()
        )
        documented[name] = (fields, on_request)
    return documented


def test_every_command_is_documented_with_its_fields() -> None:
    documented = _documented()
    commands = {name: c for name, c in _commands().items() if name != "demo"}
    assert set(commands) - {"api", "completion"} <= set(documented), "commands missing in docs/cli-json.md"
    for name, command in commands.items():
        if name not in documented:
            continue
        fields, on_request = documented[name]
        callback = command.callback
        assert getattr(callback, "__json_defaults__", None) == fields, name
        assert getattr(callback, "__json_fields__", None) == fields + on_request, name


@pytest.mark.parametrize("generations", ["v0", "v1"])
def test_what_is_printed_has_the_documented_fields(fake_openhands_factory, generations: str) -> None:  # type: ignore[no-untyped-def]
    server: FakeOpenHandsServer = fake_openhands_factory(rate_limit=False, speed=5.0, generations=generations)
    url = ("--base-url", server.base_url)
    created = json.loads(
        invoke("new-conversation", "--prompt", "Hi. [fake-llm steps=1]", "--json", *url).stdout
    )
    assert list(created) == list(CONVERSATION_FIELDS)
    cid = created["id"]
    waited = json.loads(invoke("wait", cid, "--json", *url).stdout)
    assert list(waited) == list(RESULT_FIELDS)
    assert "raw" not in waited["conversation"]
    assert list(json.loads(invoke("get", cid, "--json", *url).stdout)) == list(CONVERSATION_FIELDS)
    for line in invoke("events", cid, "--json", *url).stdout.splitlines():
        assert list(json.loads(line)) == list(EVENT_FIELDS)
    assert list(json.loads(invoke("stop", cid, "--json", *url).stdout)) == ["id", "action"]
