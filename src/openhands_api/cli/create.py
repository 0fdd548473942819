"""``new-conversation`` (alias ``create``): start a conversation, optionally follow it.

The command gathers its input (the prompt and its ``--var`` values, the instructions, the
repository, ``--repo .`` from git), hands it to ``create_conversation``, and prints the web URL
first; ``--poll``/``--wait`` then waits and exits by the outcome. The parsing of templates and
repository URLs is the library's (``templates.fill_template``,
``protocol.repositories.parse_repository``); only asking git for the current directory's
remote is done here, since it is about the user's machine, not the API.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import click

from ..protocol.validation import GIT_PROVIDERS
from . import exit_codes
from .app import (
    Failure,
    again_command,
    cli,
    connection_options,
    following,
    handle_errors,
    make_client,
    open_in_browser,
    output,
    progress_line,
    terminal,
)
from .jq import Filter
from .output import Printer, json_output
from .prompt import InputProblem, read_text_file, resolve_prompt
from .views import CONVERSATION_FIELDS, RAW, RESULT_FIELDS, conversation_json, result_json, result_lines

if TYPE_CHECKING:
    from ..errors import WaitTimeoutError
    from ..models import Conversation, ConversationResult
    from ..protocol.repositories import RepositoryRef

NEW_CONVERSATION_FIELDS = tuple(dict.fromkeys(CONVERSATION_FIELDS + RESULT_FIELDS))
"""The conversation's fields, and with --poll the outcome's (a field the JSON lacks is null)."""

CURRENT_DIRECTORY = "."
"""``--repo .``: the repository of the current directory (its ``origin`` remote)."""

GIT_TIMEOUT_S = 10.0


def parse_vars(values: tuple[str, ...]) -> dict[str, str]:
    """``--var KEY=VALUE`` options as a mapping; a value may itself contain ``=``."""
    variables: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputProblem(f"--var {value!r}: give it as KEY=VALUE (e.g. --var ISSUE=42)")
        if key in variables:
            raise InputProblem(f"--var {key} is given twice")
        variables[key] = text
    return variables


def origin_remote() -> str:
    """The URL of the current directory's git remote ``origin`` (``--repo .``)."""
    try:
        done = subprocess.run(
            ["git", "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise InputProblem("--repo .: git is not installed; give --repo OWNER/REPO") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputProblem(f"--repo .: git could not be run ({exc}); give --repo OWNER/REPO") from None
    if done.returncode != 0:
        said = done.stderr.casefold()
        if "not a git repository" in said:
            raise InputProblem("--repo .: the current directory is not in a git repository")
        if "no such remote" in said:
            raise InputProblem(
                "--repo .: this git repository has no remote named origin; "
                "add one (git remote add origin URL) or give --repo OWNER/REPO"
            )
        raise InputProblem(
            f"--repo .: git remote get-url origin failed: {' '.join(done.stderr.split())[:200]}"
        )
    return done.stdout.strip()


def resolve_repository(repo: str) -> RepositoryRef:
    """``--repo`` as the API wants it: ``owner/repo`` and, from a known host, the provider."""
    from ..errors import InvalidInputError
    from ..protocol.repositories import parse_repository

    text = origin_remote() if repo == CURRENT_DIRECTORY else repo
    try:
        return parse_repository(text)
    except InvalidInputError as exc:
        where = " (the origin remote of the current directory)" if repo == CURRENT_DIRECTORY else ""
        raise InputProblem(f"--repo{where}: {exc.message}") from None


def resolve_instructions(text: str | None, path: str | None, prompt_file: str | None) -> str | None:
    """``--instructions`` or the text of ``--instructions-file`` (not both)."""
    if text is not None and path is not None:
        raise InputProblem("Give either --instructions or --instructions-file, not both")
    if path is not None:
        if path == "-" and prompt_file == "-":
            raise InputProblem("Only one of --prompt-file and --instructions-file can read stdin ('-')")
        text = read_text_file(path, "instructions file")
    if text is not None and not text.strip():
        raise InputProblem("The instructions are empty; leave the option out instead")
    return text


def _in_progress(conversation: Conversation) -> ConversationResult:
    """What is known of a conversation a wait saw nothing of: still going, nothing more."""
    from ..models import ConversationResult, Outcome

    return ConversationResult(
        conversation_id=conversation.id,
        outcome=Outcome.IN_PROGRESS,
        web_url=conversation.web_url,
        conversation=conversation,
    )


def _start_timed_out(exc: WaitTimeoutError, out: Printer, connection: dict[str, Any]) -> Failure:
    """A V1 start that did not become READY in time: its last state for --json, and an error
    that names the start task and how to look at it again."""
    task_id = exc.conversation_id
    last = exc.last
    if out.as_json and last is not None:
        out.record(result_json(last), [])
    status = f" is still {last.detail}" if last is not None and last.detail else " has not finished"
    return Failure(
        f"The conversation did not start within {exc.timeout:g}s: start task {task_id}{status} "
        f"and may still start; look again with: {again_command('get', task_id, **connection)}",
        exit_codes.TIMED_OUT,
    )


@cli.command("new-conversation", epilog=exit_codes.SEE_EXIT_CODES)
@connection_options
@click.option("--prompt", "prompt", metavar="TEXT", help="The task for the agent.")
@click.option("--prompt-file", metavar="PATH", help="Read the task from a file ('-' for stdin).")
@click.option("--append-file", metavar="PATH", help="Append this file's text to the prompt.")
@click.option(
    "--var",
    "variables",
    metavar="KEY=VALUE",
    multiple=True,
    help="Fill {{KEY}} in the prompt with VALUE (repeatable). Every {{KEY}} needs a --var and "
    "every --var a {{KEY}}; write \\{{KEY}} for a literal one.",
)
@click.option("--instructions", metavar="TEXT", help="Extra instructions for the agent, besides the task.")
@click.option(
    "--instructions-file", metavar="PATH", help="Read the extra instructions from a file ('-' for stdin)."
)
@click.option(
    "--repo",
    metavar="REPO",
    help="Repository to work on: OWNER/REPO, its URL (https or ssh), or '.' for the current "
    "directory's git remote origin.",
)
@click.option("--branch", help="Git branch to start from (needs --repo).")
@click.option(
    "--git-provider",
    type=click.Choice(GIT_PROVIDERS, case_sensitive=False),
    metavar="PROVIDER",
    help="Where --repo is hosted, when neither its URL's host nor the server can tell: "
    + ", ".join(GIT_PROVIDERS)
    + ".",
)
@click.option("--title", help="Title for the conversation.")
@click.option(
    "--poll",
    "--wait",
    "poll",
    is_flag=True,
    help="Wait for the outcome, print a summary (the final state with --json), exit by it.",
)
@click.option(
    "--timeout-s",
    type=click.FloatRange(min=0, min_open=True),
    default=20 * 60.0,
    show_default=True,
    help="With --poll: give up waiting after this many seconds (exit 5).",
)
@click.option(
    "--poll-interval-s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="With --poll: seconds between polls (default: 1 s growing to 5 s; Cloud 3 s to 15 s).",
)
@click.option(
    "--start-timeout",
    "start_timeout",
    metavar="SECONDS",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="V1: give up after this many seconds if the server has not started the conversation "
    "(exit 5; the start may go on) [default: 300].",
)
@click.option("--web", is_flag=True, help="Open the conversation in the browser once it is created.")
@json_output(NEW_CONVERSATION_FIELDS, on_request=RAW)
@handle_errors
def new_conversation(
    prompt: str | None,
    prompt_file: str | None,
    append_file: str | None,
    variables: tuple[str, ...],
    instructions: str | None,
    instructions_file: str | None,
    repo: str | None,
    branch: str | None,
    git_provider: str | None,
    title: str | None,
    poll: bool,
    timeout_s: float,
    poll_interval_s: float | None,
    start_timeout: float | None,
    web: bool,
    json_fields: str | None,
    jq: Filter | None,
    **connection: Any,
) -> None:
    """Start a conversation and print its web URL.

    The web URL is the first line; with --poll (or --wait) the command waits, a summary
    follows (the final state with --json) and the exit code tells the outcome. On V1 the
    server starts the conversation first; a terminal shows how far it got.

    \b
    Examples:
      openhands-api new-conversation --prompt "Fix the test" --repo me/app --poll
      cat task.md | openhands-api new-conversation --prompt-file -
      openhands-api create --prompt-file fix.md --var ISSUE=42 --repo . --wait
    """
    from ..errors import WaitTimeoutError
    from ..templates import fill_template

    if branch is not None and repo is None:
        raise InputProblem("--branch needs --repo (the repository the branch belongs to)")
    values = parse_vars(variables)
    message = fill_template(resolve_prompt(prompt, prompt_file, append_file), values)
    extra_instructions = resolve_instructions(instructions, instructions_file, prompt_file)
    repository: str | None = None
    if repo is not None:
        found = resolve_repository(repo)
        repository = found.path
        git_provider = git_provider or found.provider
    with make_client(**connection, poll_interval=poll_interval_s, max_poll_interval=poll_interval_s) as api:
        out = output(json_fields, jq)
        start_tasks: list[str] = []  # the V1 start task, once a look at it was reported

        try:
            with progress_line() as show:

                def on_start(snapshot: ConversationResult) -> None:
                    start_tasks.append(snapshot.conversation_id)
                    if show is not None:
                        show(snapshot)

                conversation = api.create_conversation(
                    message,
                    repository=repository,
                    branch=branch,
                    git_provider=git_provider,
                    title=title,
                    conversation_instructions=extra_instructions,
                    start_timeout=start_timeout,
                    on_progress=on_start,
                )
        except WaitTimeoutError as exc:  # only a V1 start waits in a create
            raise _start_timed_out(exc, out, connection) from None
        except KeyboardInterrupt:
            if start_tasks:
                # The server goes on starting it: Ctrl-C says so, and that `wait` takes the
                # start task's id (handle_errors reports the innermost entry of `following`).
                with following(start_tasks[-1], **connection):
                    raise
            raise
        if not out.as_json:
            click.echo(conversation.web_url)
        elif not poll:
            out.record(conversation_json(conversation), [])
        if web:
            _open(conversation.web_url, out)
        if not poll:
            return
        with following(conversation.id, **connection), progress_line() as on_progress:
            try:
                result = api.wait(conversation.id, timeout=timeout_s, on_progress=on_progress)
            except WaitTimeoutError as exc:
                if out.as_json:  # a script still gets the state, with exit 5
                    out.record(result_json(exc.last or _in_progress(conversation)), [])
                raise
        if out.as_json or terminal().stdout_tty:
            out.record(result_json(result), result_lines(result, with_url=False))  # the URL came first
        else:
            # Piped without --json: the final state as JSON after the URL line, as the seed's
            # CLI printed it, so that scripts written for it go on working.
            click.echo(json.dumps(result_json(result), indent=2, default=str))
        sys.exit(exit_codes.BY_OUTCOME[result.outcome.value])


def _open(url: str, out: Printer) -> None:
    """``--web``: a browser that cannot start is worth a note, not a failed command (the
    conversation exists and runs)."""
    try:
        opened = open_in_browser(url)
    except Exception:  # webbrowser raises its own errors, OSError, …
        opened = False
    if not opened:
        out.note(f"note: could not open a browser; the conversation is at {url}")


# ``create``: the same command under gh's verb; listed with its own one-line summary.
create_alias = copy.copy(new_conversation)
create_alias.name = "create"
create_alias.short_help = "Same as new-conversation: start a conversation."
cli.add_command(create_alias)
