"""Help, the exit-code table and the top-level behaviour, through the real ``openhands-api``.

The help must serve a person at an 80-column terminal: one-line summaries that fit the
command list, help on every option, an example in each command's help, the exit codes once
(at the top level), and the same table in the README and in ``exit_codes.py``.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import click
import pytest

from openhands_api.cli import exit_codes
from openhands_api.cli.app import cli
from tests.cli.conftest import run_cli

README = Path(__file__).resolve().parents[2] / "README.md"
NARROW = {"COLUMNS": "80"}


def _commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command and subgroup under ``group``, with the words that name it."""
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in sorted(group.commands.items()):
        found.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
    return found


ALL_COMMANDS = _commands(cli)
COMMAND_WORDS = [words for words, _ in ALL_COMMANDS]


def _epilog_codes(help_text: str) -> dict[int, str]:
    """The exit-code table of a help text: code -> meaning."""
    _, _, table = help_text.partition("Exit codes:\n")
    rows = re.findall(r"^\s+(\d+)  (\S.*)$", table, flags=re.MULTILINE)
    return {int(code): meaning.strip() for code, meaning in rows}


def test_the_bare_command_prints_the_help_and_exits_0() -> None:
    done = run_cli()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: openhands-api")
    assert "Commands:" in done.stdout
    assert done.stderr == ""


def test_a_bare_group_prints_its_help_and_exits_0() -> None:
    done = run_cli("auth")
    assert done.returncode == 0, done.stderr
    assert "login" in done.stdout


def test_version_prints_the_version() -> None:
    from openhands_api import __version__

    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"openhands-api, version {__version__}"


@pytest.mark.parametrize("group", [(), ("auth",)])
def test_every_summary_fits_the_command_list_at_80_columns(group: tuple[str, ...]) -> None:
    done = run_cli(*group, "--help", env=NARROW)
    assert done.returncode == 0
    listing = done.stdout.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in listing.splitlines() if line.strip()]
    assert rows, done.stdout
    for row in rows:
        assert not row.rstrip().endswith("..."), row
        assert len(row) <= 80, row


def test_every_option_has_help_and_every_command_an_example() -> None:
    for words, command in ALL_COMMANDS:
        for param in command.params:
            if isinstance(param, click.Option) and param.name not in ("help",):
                assert param.help, f"{' '.join(words)} {param.opts[0]} has no help"
        text = inspect.cleandoc(command.help or "")
        assert re.search(r"^Examples?:\n", text, flags=re.MULTILINE), f"{' '.join(words)} has no example"
        assert "\b\nExample" in text, f"{' '.join(words)}: examples need a \\b block"


@pytest.mark.parametrize("words", COMMAND_WORDS, ids=[" ".join(w) for w in COMMAND_WORDS])
def test_each_command_help_points_to_the_exit_codes_instead_of_repeating_them(words: tuple[str, ...]) -> None:
    done = run_cli(*words, "--help", env=NARROW)
    assert done.returncode == 0, done.stderr
    assert "Exit codes:\n" not in done.stdout
    assert _epilog_codes(done.stdout) == {}
    assert "Example" in done.stdout
    assert all(len(line) <= 80 for line in done.stdout.splitlines()), done.stdout
    command = dict(ALL_COMMANDS)[words]
    if not isinstance(command, click.Group):
        assert exit_codes.SEE_EXIT_CODES in done.stdout


def test_the_exit_codes_agree_in_the_help_the_readme_and_exit_codes_py() -> None:
    module = {
        value
        for name, value in vars(exit_codes).items()
        if name.isupper() and isinstance(value, int) and not isinstance(value, bool)
    }
    table = {row.code: row.meaning for row in exit_codes.TABLE}
    assert set(table) == module
    assert {exit_codes.IN_PROGRESS, exit_codes.INTERRUPTED} <= set(table)
    assert set(exit_codes.BY_OUTCOME.values()) <= set(table)

    done = run_cli("--help", env=NARROW)
    assert _epilog_codes(done.stdout) == table

    readme = README.read_text(encoding="utf-8")
    section = readme.split("| code | meaning |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", section, flags=re.MULTILINE)
    assert {int(code): meaning for code, meaning in rows} == table


def test_the_readme_shows_every_command_with_an_example() -> None:
    from openhands_api.cli.app import cli

    readme = README.read_text(encoding="utf-8")
    table = readme.split("## The command line", 1)[1].split("### Ids", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    for name in cli.commands:
        example = f"openhands-api {name} "
        if name == "new-conversation":
            assert any(row.startswith("| `new-conversation` (`create`)") for row in rows)
            continue
        assert any(example in row for row in rows), f"no example of {name} in the README's command table"
    for sub in ("status", "login", "logout", "profiles"):
        assert sub in table  # the auth subcommands are named
