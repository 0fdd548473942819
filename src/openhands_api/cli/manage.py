"""The commands that act on an existing conversation: send, stop, resume, delete, download.

Each parses its options, calls the library, and confirms through a Printer: one line for a
person (none with ``-q``), or a small documented JSON object with ``--json``:

- ``send`` without ``--wait``: :data:`SENT_FIELDS`; with ``--wait`` the outcome
  (``RESULT_FIELDS``, as ``wait`` prints it) and the exit code of the outcome.
- ``stop``, ``resume``, ``delete``: :data:`ACTION_FIELDS`.
- ``download``: :data:`DOWNLOAD_FIELDS` (none with ``-o -``: stdout holds the file).

What is refused before any request is sent exits 2: a message given twice or not at all, a
destination that exists (without ``--force``), a file named ``.zip`` for JSON, binary for a
terminal, a delete that nobody confirmed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import exit_codes
from .app import (
    cli,
    connection_options,
    following,
    handle_errors,
    make_client,
    output,
    progress_line,
    terminal,
)
from .commands import CONVERSATION_ID
from .jq import Filter
from .output import json_output
from .prompt import InputProblem, read_text_file
from .views import RESULT_FIELDS, result_json, result_lines

ACTION_FIELDS = ("id", "action")
"""stop, resume, delete: ``id`` (the full id) and ``action`` ("stopped", "resumed", "deleted")."""

SENT_FIELDS = ("id", "action", "outcome", "status", "conversation_id")
"""send without --wait: ``id`` and ``conversation_id`` (the full id), ``action`` "sent",
``status`` "sent", ``outcome`` null (nothing waited for; ``wait ID`` gives it). The names
``id``, ``outcome``, ``status``, ``conversation_id`` mean what they mean with --wait."""

DOWNLOAD_FIELDS = ("id", "path", "bytes", "kind")
"""download: ``id``, ``path`` (the file written), ``bytes`` (its size), ``kind`` "history"
or "workspace"."""


# ---------------------------------------------------------------------------------- send


def _message_text(positional: str | None, message: str | None, message_file: str | None) -> str:
    given = [value for value in (positional, message, message_file) if value is not None]
    if len(given) != 1:
        raise InputProblem(
            "Give the message once: as MESSAGE, with --message TEXT, or with --message-file PATH "
            "(- for stdin)"
        )
    text = read_text_file(message_file, "message file") if message_file is not None else given[0]
    if not text.strip():
        raise InputProblem("The message is empty")
    return text


@cli.command("send", epilog=exit_codes.SEE_EXIT_CODES)
@CONVERSATION_ID
@click.argument("message_argument", metavar="[MESSAGE]", required=False)
@click.option("--message", metavar="TEXT", help="The follow-up message (instead of MESSAGE).")
@click.option("--message-file", metavar="PATH", help="Read the message from a file ('-' for stdin).")
@click.option(
    "--wait", "wait_for_answer", is_flag=True, help="Wait for the agent's answer; exit by its outcome."
)
@click.option(
    "--timeout-s",
    type=click.FloatRange(min=0, min_open=True),
    default=30 * 60.0,
    show_default=True,
    help="With --wait: give up waiting after this many seconds (exit 5; the conversation goes on).",
)
@click.option(
    "--resume/--no-resume",
    default=True,
    show_default=True,
    help="Bring stopped compute back first: restart a stopped V0 runtime, resume a paused V1 "
    "sandbox. --no-resume fails instead (exit 7), sending nothing.",
)
@json_output(RESULT_FIELDS, on_request=("action",))
@connection_options
@handle_errors
def send_command(
    conversation_id: str,
    message_argument: str | None,
    message: str | None,
    message_file: str | None,
    wait_for_answer: bool,
    timeout_s: float,
    resume: bool,
    json_fields: str | None,
    jq: Filter | None,
    **connection: Any,
) -> None:
    """Send a follow-up message to a conversation.

    A stopped conversation is restarted (V0) or its paused sandbox resumed (V1) first,
    unless --no-resume. Without --wait it confirms and returns; with --wait it prints the
    outcome and exits by it, as wait does.

    \b
    Examples:
      openhands-api send ID "Now add tests" --wait
      openhands-api send ID --message-file review.md --json
      git diff | openhands-api send ID --message-file -
    """
    text = _message_text(message_argument, message, message_file)
    with make_client(**connection) as api:
        conversation_id = api.resolve_conversation_id(conversation_id)
        sent = api.send_message(conversation_id, text, resume=resume)
        if not wait_for_answer:
            output(json_fields, jq).done(
                {
                    "id": conversation_id,
                    "action": "sent",
                    "outcome": None,
                    "status": "sent",
                    "conversation_id": conversation_id,
                },
                f"sent to {conversation_id}; to wait for the answer: openhands-api wait {conversation_id}",
                fields=SENT_FIELDS,  # a bare --json: the receipt's own fields
            )
            return
        with following(conversation_id, **connection), progress_line() as on_progress:
            result = api.wait(conversation_id, timeout=timeout_s, after=sent, on_progress=on_progress)
    output(json_fields, jq).record(result_json(result), result_lines(result))
    sys.exit(exit_codes.BY_OUTCOME[result.outcome.value])


# ------------------------------------------------------------------------- stop, resume


@cli.command("stop", epilog=exit_codes.SEE_EXIT_CODES)
@CONVERSATION_ID
@json_output(ACTION_FIELDS)
@connection_options
@handle_errors
def stop_command(conversation_id: str, json_fields: str | None, jq: Filter | None, **connection: Any) -> None:
    """Stop a conversation's compute (V1: pause its sandbox).

    V0 stops its runtime. The conversation and its history stay; resume (or send) starts it again.

    \b
    Examples:
      openhands-api stop ID
      openhands-api stop ID --json    # {"id": "…", "action": "stopped"}
    """
    with make_client(**connection) as api:
        conversation_id = api.resolve_conversation_id(conversation_id)
        api.stop(conversation_id)
    output(json_fields, jq).done({"id": conversation_id, "action": "stopped"}, f"stopped {conversation_id}")


@cli.command("resume", epilog=exit_codes.SEE_EXIT_CODES)
@CONVERSATION_ID
@json_output(ACTION_FIELDS)
@connection_options
@handle_errors
def resume_command(
    conversation_id: str, json_fields: str | None, jq: Filter | None, **connection: Any
) -> None:
    """Start a stopped conversation's compute again.

    V0 starts its runtime, V1 resumes its sandbox.

    \b
    Examples:
      openhands-api resume ID
      openhands-api resume ID -q && openhands-api send ID "Go on"
    """
    with make_client(**connection) as api:
        conversation_id = api.resolve_conversation_id(conversation_id)
        api.resume(conversation_id)
    output(json_fields, jq).done({"id": conversation_id, "action": "resumed"}, f"resumed {conversation_id}")


# ------------------------------------------------------------------------------- delete

CONFIRMING_ANSWERS = ("y", "yes")


@cli.command("delete", epilog=exit_codes.SEE_EXIT_CODES)
@CONVERSATION_ID
@click.option("-y", "--yes", is_flag=True, help="Delete without asking (required when not on a terminal).")
@json_output(ACTION_FIELDS)
@connection_options
@handle_errors
def delete_command(
    conversation_id: str, yes: bool, json_fields: str | None, jq: Filter | None, **connection: Any
) -> None:
    """Delete a conversation and its compute, for good.

    On a terminal it asks first (y/N); anything but y or yes cancels it, and the command
    exits 0 having deleted nothing. Elsewhere (a script, CI) it needs --yes, or it exits 2
    before anything is sent. Exits 4 if there was no such conversation.

    \b
    Examples:
      openhands-api delete ID
      openhands-api delete ID --yes --json    # {"id": "…", "action": "deleted"}
    """
    if not yes:
        seen = terminal()
        if not (seen.stdin_tty and seen.stderr_tty):
            raise InputProblem("refusing to delete without --yes when not on a terminal")
    with make_client(**connection) as api:
        conversation_id = api.resolve_conversation_id(conversation_id)
        if not yes:
            title = api.get_conversation(conversation_id).title  # unknown id: exit 4 here
            named = f"{conversation_id} ({title})" if title else conversation_id
            click.echo(f"Delete conversation {named}? [y/N] ", nl=False, err=True)
            answer = sys.stdin.readline()
            if not answer.endswith("\n"):
                click.echo(err=True)  # Ctrl-D: the terminal did not end the prompt's line
            if answer.strip().casefold() not in CONFIRMING_ANSWERS:
                click.echo("cancelled; nothing deleted", err=True)
                return
        deleted = api.delete_conversation(conversation_id)
    if not deleted:
        click.echo(f"error: no conversation {conversation_id}", err=True)
        sys.exit(exit_codes.STOPPED)
    output(json_fields, jq).done({"id": conversation_id, "action": "deleted"}, f"deleted {conversation_id}")


# ----------------------------------------------------------------------------- download

TO_STDOUT = "-"
_SUFFIXES = {"zip": ".zip", "json": ".json"}


def _check_destination(path: Path, force: bool) -> None:
    """A file we may write: its directory exists, and it does not unless ``--force``."""
    if not path.parent.is_dir():
        raise InputProblem(f"The directory {path.parent} does not exist")
    if path.is_dir():
        raise InputProblem(f"{path} is a directory; name a file, e.g. -o {path / 'conversation.zip'}")
    if path.exists() and not force:
        raise InputProblem(f"{path} already exists; to overwrite it, add --force")


def _check_suffix(path: Path, content: str, what: str) -> None:
    """Refuse a name that promises the other format (a ``.zip`` holding JSON: a reported bug)."""
    wrong = {suffix for name, suffix in _SUFFIXES.items() if name != content}
    if path.suffix.lower() in wrong:
        raise InputProblem(
            f"{what} comes as {content.upper()}, not {path.suffix.lstrip('.').upper()}: "
            f"name the file {path.with_suffix(_SUFFIXES[content]).name}, or leave -o out"
        )


@cli.command("download", epilog=exit_codes.SEE_EXIT_CODES)
@CONVERSATION_ID
@click.argument("legacy_destination", metavar="[FILE]", required=False)
@click.option(
    "-o",
    "--output",
    "output_file",
    metavar="FILE",
    help="Write to FILE ('-' for stdout). Default: conversation-ID.zip (V1) or .json (V0); "
    "with --workspace, workspace-ID.zip. FILE as the second argument means the same.",
)
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@click.option(
    "--workspace",
    is_flag=True,
    help="The agent's workspace files as a zip instead of the history (V0 servers; V1 has "
    "no such download: exit 7).",
)
@json_output(DOWNLOAD_FIELDS)
@connection_options
@handle_errors
def download_command(
    conversation_id: str,
    legacy_destination: str | None,
    output_file: str | None,
    force: bool,
    workspace: bool,
    json_fields: str | None,
    jq: Filter | None,
    **connection: Any,
) -> None:
    """Save a conversation's history or workspace to a file.

    The history as the server gives it: V1 a zip (meta.json and every event), V0 its
    trajectory as JSON; the default name says which. An existing file is kept unless
    --force. With -o - the bytes go to stdout (not a zip to a terminal).

    \b
    Examples:
      openhands-api download ID       # conversation-ID.zip (V1) or .json (V0)
      openhands-api download ID -o history.zip --force
      openhands-api download ID -o - | unzip -l /dev/stdin
      openhands-api download ID --workspace -o work.zip
    """
    if output_file is not None and legacy_destination is not None:
        raise InputProblem("Name the file once: -o FILE (FILE as an argument is the older spelling)")
    target = output_file if output_file is not None else legacy_destination
    to_stdout = target == TO_STDOUT
    out = output(json_fields, jq)
    if to_stdout and out.as_json:
        raise InputProblem("-o - writes the file to stdout: --json and --jq cannot go there too")
    stdout_is_terminal = terminal().stdout_tty
    kind = "workspace" if workspace else "history"
    path = None if target is None or to_stdout else Path(target)
    if path is not None:
        _check_destination(path, force)  # before any request
    if workspace and to_stdout and stdout_is_terminal:
        raise InputProblem("would write binary to the terminal; use -o FILE")
    if workspace and path is not None:
        _check_suffix(path, "zip", "The workspace")
    with make_client(**connection) as api:
        conversation_id = api.resolve_conversation_id(conversation_id)
        content = "zip" if workspace else api.history_format()
        if not workspace:
            what = f"A {str(api.api_version).upper()} server's history"
            if path is not None:
                _check_suffix(path, content, what)
            if to_stdout and stdout_is_terminal and content == "zip":
                raise InputProblem("would write binary to the terminal; use -o FILE")
        if path is None and not to_stdout:
            stem = "workspace" if workspace else "conversation"
            path = Path(f"{stem}-{conversation_id}{_SUFFIXES[content]}")
            _check_destination(path, force)
        save: Callable[[str, Path], Path] = api.download_workspace if workspace else api.download_history
        if to_stdout:
            _copy_to_stdout(lambda destination: save(conversation_id, destination))
            return
        assert path is not None
        written = save(conversation_id, path)
    size = written.stat().st_size
    out.done(
        {"id": conversation_id, "path": str(written), "bytes": size, "kind": kind},
        f"saved {written} ({size} bytes, {kind})",
    )


def _copy_to_stdout(save: Callable[[Path], Path]) -> None:
    """Download into a private temporary directory (the library writes only whole files),
    then copy the bytes to stdout unchanged."""
    with tempfile.TemporaryDirectory(prefix="openhands-api-") as scratch:
        written: Path = save(Path(scratch) / "download")
        sys.stdout.flush()  # anything already written as text goes first
        stream = sys.stdout.buffer
        with written.open("rb") as source:
            shutil.copyfileobj(source, stream)
        stream.flush()
