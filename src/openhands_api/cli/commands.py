"""The commands that follow and manage existing conversations: get, list, wait, result, send,
events, stop, resume, delete, download, and auth status.

Each parses its options, calls one library method, and renders: a short human view by default,
JSON with ``--json`` (for scripts). Exit codes follow ``exit_codes.py``: commands that report
an outcome (wait, result, send --wait) exit with the outcome's code.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import exit_codes
from .app import (
    cli,
    connection_options,
    following,
    handle_errors,
    make_client,
    open_in_browser,
    output,
    progress_line,
)
from .jq import Filter
from .output import Column, json_output
from .prompt import InputProblem, read_text_file
from .views import (
    CONVERSATION_COLUMNS,
    CONVERSATION_FIELDS,
    EVENT_FIELDS,
    RAW,
    RESULT_FIELDS,
    conversation_json,
    conversation_lines,
    event_json,
    event_line,
    result_json,
    result_lines,
)
from .when import When

if TYPE_CHECKING:
    from ..models import ConversationResult

# An id, a unique prefix of one, or the conversation's web URL: each command hands it to
# resolve_conversation_id first (a full id costs no request) and then uses the full id.
CONVERSATION_ID = click.argument("conversation_id", metavar="ID")
ACTION_FIELDS = ("id", "action")


def _render_result(result: ConversationResult, json_fields: str | None, jq: Filter | None) -> None:
    output(json_fields, jq).record(result_json(result), result_lines(result))


def _exit_for(result: ConversationResult) -> None:
    sys.exit(exit_codes.BY_OUTCOME[result.outcome.value])


@cli.command("get", epilog=exit_codes.SEE_EXIT_CODES)
@CONVERSATION_ID
@click.option("--web", is_flag=True, help="Also open the conversation's page in your browser.")
@json_output(CONVERSATION_FIELDS, on_request=RAW)
@connection_options
@handle_errors
def get_command(
    conversation_id: str, web: bool, json_fields: str | None, jq: Filter | None, **connection: Any
) -> None:
    """Show a conversation and its outcome now.

    Title, outcome, state, repository and branch, PRs, cost, times and the web page. A V1
    start-task id works too.

    \b
    Examples:
      openhands-api get 48c8a1e2
      openhands-api get 48c8a1e2 --json id,outcome,pr_numbers
      openhands-api get 48c8a1e2 --jq .outcome
      openhands-api get 48c8a1e2 --web
    """
    with make_client(**connection) as api:
        conversation_id = api.resolve_conversation_id(conversation_id)
        conversation = api.get_conversation(conversation_id)
    out = output(json_fields, jq)
    out.record(conversation_json(conversation), conversation_lines(conversation))
    if web and not open_in_browser(conversation.web_url):
        out.note(f"could not start a browser; open {conversation.web_url}")


@cli.command("list", epilog=exit_codes.SEE_EXIT_CODES)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Show at most this many conversations (of those the filters keep).",
)
@click.option("--all", "show_all", is_flag=True, help="Show every conversation (no --limit).")
@click.option("--repo", metavar="OWNER/REPO", help="Only conversations on this repository.")
@click.option("--search", metavar="TEXT", help="Only conversations whose title contains TEXT (any case).")
@click.option(
    "--created-since", metavar="WHEN", type=When(), help="Only those created since WHEN (7d, 2026-11-30)."
)
@click.option(
    "--updated-since",
    metavar="WHEN",
    type=When(),
    help="Only those active since WHEN (2h, 2026-11-30T14:00).",
)
@click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    type=click.Choice(list(exit_codes.BY_OUTCOME)),
    help="Only conversations with this outcome (repeatable).",
)
@json_output(CONVERSATION_FIELDS, on_request=RAW)
@connection_options
@handle_errors
def list_command(
    limit: int,
    show_all: bool,
    repo: str | None,
    search: str | None,
    created_since: datetime | None,
    updated_since: datetime | None,
    outcomes: tuple[str, ...],
    json_fields: str | None,
    jq: Filter | None,
    **connection: Any,
) -> None:
    """List conversations, newest first, with their outcome.

    WHEN is a duration back from now (30m, 2h, 7d, 2w) or an ISO date or time (local unless
    it names a zone). Each row's outcome is decided as get decides it: a request or two
    per row shown (the filters other than --outcome are applied first, at no cost).

    \b
    Examples:
      openhands-api list --limit 5
      openhands-api list --repo acme/api --outcome failed --updated-since 7d
      openhands-api list --search "flaky test" --json id,outcome
      openhands-api list --all --jq '.[] | select(.outcome == "failed") | .id'
    """
    # One row past the limit tells whether more conversations match than are shown.
    wanted = None if show_all else limit + 1
    with make_client(**connection) as api:
        conversations = api.list_conversations(
            limit=wanted,
            repository=repo,
            search=search,
            created_since=created_since,
            updated_since=updated_since,
            outcomes=outcomes,
            with_outcome=True,
        )
    more = None
    if wanted is not None and len(conversations) > limit:
        conversations = conversations[:limit]
        more = f"showing {limit} of more; use --limit N or --all"
    output(json_fields, jq).table(
        [conversation_json(c) for c in conversations],
        CONVERSATION_COLUMNS,
        empty="no conversations"
        if not (repo or search or created_since or updated_since or outcomes)
        else "no conversations match",
        more=more,
    )


@cli.command("wait", epilog=exit_codes.SEE_EXIT_CODES)
@CONVERSATION_ID
@click.option(
    "--timeout-s",
    type=click.FloatRange(min=0, min_open=True),
    default=30 * 60.0,
    show_default=True,
    help="Give up waiting after this many seconds (exit 5; the conversation goes on).",
)
@json_output(RESULT_FIELDS)
@connection_options
@handle_errors
def wait_command(
    conversation_id: str, timeout_s: float, json_fields: str | None, jq: Filter | None, **connection: Any
) -> None:
    """Wait for the agent's turn to end; exit by its outcome.

    \b
    Example:
      openhands-api wait ID --timeout-s 600 && echo "the agent finished"
    """
    with make_client(**connection) as api:
        conversation_id = api.resolve_conversation_id(conversation_id)
        with following(conversation_id, **connection), progress_line() as on_progress:
            result = api.wait(conversation_id, timeout=timeout_s, on_progress=on_progress)
    _render_result(result, json_fields, jq)
    _exit_for(result)


@cli.command("result", epilog=exit_codes.SEE_EXIT_CODES)
@CONVERSATION_ID
@json_output(RESULT_FIELDS)
@connection_options
@handle_errors
def result_command(
    conversation_id: str, json_fields: str | None, jq: Filter | None, **connection: Any
) -> None:
    """Print the outcome now, the final message and PRs.

    No waiting: a conversation still running exits 8.

    \b
    Example:
      openhands-api result ID --json | jq -r .final_message
    """
    with make_client(**connection) as api:
        conversation_id = api.resolve_conversation_id(conversation_id)
        result = api.result(conversation_id)
    _render_result(result, json_fields, jq)
    _exit_for(result)


@cli.command("send", epilog=exit_codes.SEE_EXIT_CODES)
@CONVERSATION_ID
@click.option("--message", metavar="TEXT", help="The follow-up message.")
@click.option("--message-file", metavar="PATH", help="Read the message from a file ('-' for stdin).")
@click.option("--wait", "wait_for_answer", is_flag=True, help="Wait for the agent's answer; exit by outcome.")
@click.option(
    "--timeout-s",
    type=click.FloatRange(min=0, min_open=True),
    default=30 * 60.0,
    show_default=True,
    help="With --wait: give up waiting after this many seconds.",
)
@click.option("--no-resume", is_flag=True, help="V1: fail instead of resuming a paused sandbox.")
@json_output(RESULT_FIELDS)
@connection_options
@handle_errors
def send_command(
    conversation_id: str,
    message: str | None,
    message_file: str | None,
    wait_for_answer: bool,
    timeout_s: float,
    no_resume: bool,
    json_fields: str | None,
    jq: Filter | None,
    **connection: Any,
) -> None:
    """Send a follow-up message to a conversation.

    A stopped conversation is restarted (V0) or its paused sandbox resumed (V1) first.

    \b
    Examples:
      openhands-api send ID --message "Now add tests" --wait
      openhands-api send ID --message-file review.md
    """
    if (message is None) == (message_file is None):
        raise InputProblem("Give the message with --message TEXT or --message-file PATH (- for stdin)")
    text = message if message is not None else read_text_file(str(message_file), "message file")
    if not text.strip():
        raise InputProblem("The message is empty")
    with make_client(**connection) as api:
        conversation_id = api.resolve_conversation_id(conversation_id)
        sent = api.send_message(conversation_id, text, resume=not no_resume)
        if not wait_for_answer:
            output(json_fields, jq).done(
                {
                    "id": conversation_id,
                    "outcome": None,
                    "status": "sent",
                    "conversation_id": conversation_id,
                },
                f"sent to {conversation_id}; to wait for the answer: openhands-api wait {conversation_id}",
            )
            return
        with following(conversation_id, **connection), progress_line() as on_progress:
            result = api.wait(conversation_id, timeout=timeout_s, after=sent, on_progress=on_progress)
    _render_result(result, json_fields, jq)
    _exit_for(result)


@cli.command("events", epilog=exit_codes.SEE_EXIT_CODES)
@CONVERSATION_ID
@click.option("--reverse", is_flag=True, help="Newest first.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many events.")
@json_output(EVENT_FIELDS, on_request=RAW)
@connection_options
@handle_errors
def events_command(
    conversation_id: str,
    reverse: bool,
    limit: int | None,
    json_fields: str | None,
    jq: Filter | None,
    **connection: Any,
) -> None:
    """Print a conversation's events, oldest first.

    One line each, or one JSON object a line with --json.

    \b
    Examples:
      openhands-api events ID --reverse --limit 20
      openhands-api events ID --json | jq -r .kind
    """
    out = output(json_fields, jq)
    with make_client(**connection) as api:
        conversation_id = api.resolve_conversation_id(conversation_id)
        for count, event in enumerate(api.iter_events(conversation_id, reverse=reverse), start=1):
            out.line(event_json(event), event_line(event))
            if limit is not None and count >= limit:
                break


@cli.command("stop", epilog=exit_codes.SEE_EXIT_CODES)
@CONVERSATION_ID
@json_output(ACTION_FIELDS)
@connection_options
@handle_errors
def stop_command(conversation_id: str, json_fields: str | None, jq: Filter | None, **connection: Any) -> None:
    """Stop a conversation's compute (V1: pause its sandbox).

    \b
    Example:
      openhands-api stop ID
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

    \b
    Example:
      openhands-api resume ID
    """
    with make_client(**connection) as api:
        conversation_id = api.resolve_conversation_id(conversation_id)
        api.resume(conversation_id)
    output(json_fields, jq).done({"id": conversation_id, "action": "resumed"}, f"resumed {conversation_id}")


@cli.command("delete", epilog=exit_codes.SEE_EXIT_CODES)
@CONVERSATION_ID
@json_output(ACTION_FIELDS)
@connection_options
@handle_errors
def delete_command(
    conversation_id: str, json_fields: str | None, jq: Filter | None, **connection: Any
) -> None:
    """Delete a conversation and its compute.

    Exits 4 if there was no such conversation.

    \b
    Example:
      openhands-api delete ID
    """
    with make_client(**connection) as api:
        conversation_id = api.resolve_conversation_id(conversation_id)
        deleted = api.delete_conversation(conversation_id)
    if not deleted:
        click.echo(f"error: no conversation {conversation_id}", err=True)
        sys.exit(exit_codes.STOPPED)
    output(json_fields, jq).done({"id": conversation_id, "action": "deleted"}, f"deleted {conversation_id}")


@cli.command("download", epilog=exit_codes.SEE_EXIT_CODES)
@CONVERSATION_ID
@click.argument("destination", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@json_output(("id", "path", "bytes"))
@connection_options
@handle_errors
def download_command(
    conversation_id: str, destination: Path, json_fields: str | None, jq: Filter | None, **connection: Any
) -> None:
    """Save a conversation's full history to a file.

    V1 servers give a zip; V0 servers the trajectory as JSON.

    \b
    Example:
      openhands-api download ID history.json
    """
    if not destination.parent.is_dir():
        raise InputProblem(f"The directory {destination.parent} does not exist")
    with make_client(**connection) as api:
        conversation_id = api.resolve_conversation_id(conversation_id)
        path = api.download_history(conversation_id, destination)
    size = path.stat().st_size
    output(json_fields, jq).done(
        {"id": conversation_id, "path": str(path), "bytes": size}, f"saved {path} ({size} bytes)"
    )


@contextlib.contextmanager
def _only_the_given_secret() -> Iterator[None]:
    """Hide the environment's keys while a login is checked, so that checking a session key
    for a self-hosted server cannot also send it the Cloud key from OPENHANDS_API_KEY."""
    names = ("OPENHANDS_API_KEY", "OPENHANDS_CLOUD_API_KEY", "OPENHANDS_SESSION_API_KEY")
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


PROFILE_FIELDS = ("name", "base_url", "api_key", "session_api_key")


@cli.group("auth")
def auth_group() -> None:
    """Store, list and check credentials.

    The Cloud key file, or named profiles (a server and its key).

    \b
    Examples:
      openhands-api auth login < cloud-key.txt
      openhands-api auth status
    """


@auth_group.command("status", epilog=exit_codes.SEE_EXIT_CODES)
@json_output(("base_url", "api_version", "profile", "api_key", "session_api_key", "authenticated"))
@connection_options
@handle_errors
def auth_status(json_fields: str | None, jq: Filter | None, **connection: Any) -> None:
    """Check the server, its API generation and the key.

    \b
    Example:
      openhands-api auth status --base-url http://localhost:3000
    """
    with make_client(**connection) as api:
        api.list_conversations(limit=1)  # any authenticated read proves the key
        info = {
            "base_url": api.base_url,
            "api_version": api.api_version,
            "profile": connection["profile"],
            "api_key": api.key_source or "none",
            "session_api_key": "set" if api.has_session_key else "none",
            "authenticated": True,
        }
    output(json_fields, jq).record(
        info,
        [
            f"{info['base_url']}: OK ({info['api_version']} API; API key from {info['api_key']}, "
            f"session key {info['session_api_key']})"
        ],
    )


@auth_group.command("login", epilog=exit_codes.SEE_EXIT_CODES)
@click.option(
    "--profile", metavar="NAME", help="Store a named profile (server + key) instead of the Cloud key file."
)
@click.option(
    "--base-url", help="The server (default: OpenHands Cloud). The key is checked against it first."
)
@click.option(
    "--session-key",
    is_flag=True,
    help="The secret is a self-hosted server's session key (X-Session-API-Key).",
)
@click.option("--no-check", is_flag=True, help="Store the secret without checking it.")
@click.option(
    "--allow-insecure-http", is_flag=True, help="Allow a plain http:// server that is not loopback."
)
@handle_errors
def auth_login(
    profile: str | None, base_url: str | None, session_key: bool, no_check: bool, allow_insecure_http: bool
) -> None:
    """Check a key with the server and store it owner-only.

    The key is asked for on a terminal, else read from stdin; the file is readable by you
    only (0600).

    Without --profile: an OpenHands Cloud API key, kept in ~/.openhands/cloud/api_key.txt
    (the file the OpenHands CLI writes; used for Cloud when no key is set).

    With --profile NAME: a server and its key, kept in ~/.config/openhands-api/profiles.json;
    use it with --profile NAME or OPENHANDS_PROFILE=NAME. The profile named 'default' is
    used when no profile, URL or key is given.

    \b
    Examples:
      openhands-api auth login < cloud-key.txt
      openhands-api auth login --profile lab --base-url https://oh.lab.example \\
          --session-key < key.txt
    """
    from ..config import CLOUD_BASE_URL, is_cloud, normalize_base_url, save_key_file, save_profile

    url = normalize_base_url(base_url or CLOUD_BASE_URL)
    if profile is None and (session_key or not is_cloud(url)):
        raise InputProblem(
            "The key file is only for OpenHands Cloud's API key; "
            f"to keep a key for {url}, name a profile: --profile NAME "
            "(the profile 'default' is used when no other settings are given)"
        )
    if sys.stdin.isatty():  # typed by a person: ask, without echoing it
        label = "Session key" if session_key else "API key"
        secret = click.prompt(label, hide_input=True, default="", show_default=False, err=True).strip()
    else:
        secret = sys.stdin.readline().strip()
    if not secret:
        raise InputProblem("No key on standard input: pipe it in, e.g. openhands-api auth login < key.txt")
    api_key, session_api_key = (None, secret) if session_key else (secret, None)
    if not no_check:
        with (
            _only_the_given_secret(),
            make_client(api_key, url, session_api_key, "auto", allow_insecure_http) as api,
        ):
            api.list_conversations(limit=1)
    if profile is None:
        path = save_key_file(secret)
        click.echo(f"saved the key to {path} (readable by you only)")
        return
    path = save_profile(profile, base_url=url, api_key=api_key, session_api_key=session_api_key)
    click.echo(f"saved profile {profile!r} for {url} to {path} (readable by you only)")


@auth_group.command("profiles", epilog=exit_codes.SEE_EXIT_CODES)
@json_output(PROFILE_FIELDS)
@handle_errors
def auth_profiles(json_fields: str | None, jq: Filter | None) -> None:
    """List the stored profiles and which keys they hold.

    Name, server, and whether each key is set (never the keys).

    \b
    Example:
      openhands-api auth profiles --json
    """
    from ..config import load_profiles

    rows = [
        {
            "name": p.name,
            "base_url": p.base_url,
            "api_key": "set" if p.api_key else "none",
            "session_api_key": "set" if p.session_api_key else "none",
        }
        for p in sorted(load_profiles().values(), key=lambda p: p.name)
    ]
    output(json_fields, jq).table(
        rows,
        [Column(name.replace("_", " "), name) for name in PROFILE_FIELDS],
        empty="no profiles (create one: openhands-api auth login --profile NAME --base-url URL)",
    )


@auth_group.command("logout", epilog=exit_codes.SEE_EXIT_CODES)
@click.option("--profile", metavar="NAME", help="Remove this profile instead of the Cloud key file.")
@handle_errors
def auth_logout(profile: str | None) -> None:
    """Forget a stored key: the Cloud key file, or a profile.

    \b
    Examples:
      openhands-api auth logout
      openhands-api auth logout --profile lab
    """
    from ..config import KEY_FILE, delete_profile

    if profile is not None:
        removed = delete_profile(profile)
        click.echo(
            f"removed profile {profile!r}" if removed else f"no profile named {profile!r}; nothing removed"
        )
        return
    path = Path.home() / KEY_FILE
    if path.exists():
        path.unlink()
        click.echo(f"removed {path}")
    else:
        click.echo(f"no key file at {path}; nothing removed")
