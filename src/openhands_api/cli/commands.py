"""The commands that read conversations: get, list, result, and auth (status, login, logout,
profiles). The others have modules of their own: ``create.py`` (new-conversation),
``waiting.py`` (wait), ``events.py``, ``manage.py`` (send, stop, resume, delete, download),
``raw_api.py`` (api) and ``completion.py``.

Each parses its options, calls one library method, and renders: a short human view by default,
JSON with ``--json`` (for scripts). Exit codes follow ``exit_codes.py``: commands that report
an outcome (result, send --wait) exit with the outcome's code.
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
from .app import cli, connection_options, handle_errors, make_client, open_in_browser, output
from .jq import Filter
from .output import Column, json_output
from .prompt import InputProblem
from .views import (
    CONVERSATION_COLUMNS,
    CONVERSATION_FIELDS,
    RAW,
    RESULT_FIELDS,
    conversation_json,
    conversation_lines,
    result_json,
    result_lines,
)
from .when import When

if TYPE_CHECKING:
    from ..models import ConversationResult

# An id, a unique prefix of one, or the conversation's web URL: each command hands it to
# resolve_conversation_id first (a full id costs no request) and then uses the full id.
CONVERSATION_ID = click.argument("conversation_id", metavar="ID")


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
@json_output(("path", "profile", "base_url", "checked"))
@handle_errors
def auth_login(
    profile: str | None,
    base_url: str | None,
    session_key: bool,
    no_check: bool,
    allow_insecure_http: bool,
    json_fields: str | None,
    jq: Filter | None,
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
    out = output(json_fields, jq)
    saved = {"profile": profile, "base_url": url, "checked": not no_check}
    if profile is None:
        path = save_key_file(secret)
        out.done({"path": str(path), **saved}, f"saved the key to {path} (readable by you only)")
        return
    path = save_profile(profile, base_url=url, api_key=api_key, session_api_key=session_api_key)
    out.done(
        {"path": str(path), **saved}, f"saved profile {profile!r} for {url} to {path} (readable by you only)"
    )


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
@json_output(("removed", "profile", "path"))
@handle_errors
def auth_logout(profile: str | None, json_fields: str | None, jq: Filter | None) -> None:
    """Forget a stored key: the Cloud key file, or a profile.

    \b
    Examples:
      openhands-api auth logout
      openhands-api auth logout --profile lab
    """
    from ..config import KEY_FILE, delete_profile

    out = output(json_fields, jq)
    if profile is not None:
        removed = delete_profile(profile)
        out.done(
            {"removed": removed, "profile": profile, "path": None},
            f"removed profile {profile!r}" if removed else f"no profile named {profile!r}; nothing removed",
        )
        return
    path = Path.home() / KEY_FILE
    removed = path.exists()
    if removed:
        path.unlink()
    out.done(
        {"removed": removed, "profile": None, "path": str(path)},
        f"removed {path}" if removed else f"no key file at {path}; nothing removed",
    )
