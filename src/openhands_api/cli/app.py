"""The command tree. Each command parses its options, calls the library, and renders.

Errors become one line on stderr and a documented exit code (see ``exit_codes.py``); a
traceback is shown only for an unexpected bug, and only with ``--debug``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shlex
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from . import exit_codes
from .prompt import InputProblem, resolve_prompt

if TYPE_CHECKING:
    from .._base_client import ApiVersion
    from ..client import OpenHandsAPI
    from ..models import ConversationResult

F = TypeVar("F", bound=Callable[..., Any])


class Failure(Exception):
    """An error already rendered for the user: message and exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code for a library error."""
    from .. import errors

    if isinstance(exc, (errors.MissingAPIKeyError, errors.AuthenticationError, errors.PermissionDeniedError)):
        return exit_codes.AUTH
    if isinstance(exc, (errors.InvalidInputError, errors.ConfigurationError)):
        return exit_codes.USAGE
    if isinstance(exc, errors.WaitTimeoutError):
        return exit_codes.TIMED_OUT
    if isinstance(exc, errors.ConversationStartError):
        return exit_codes.FAILED
    if isinstance(exc, (errors.NotFoundError, errors.GoneError)):
        return exit_codes.STOPPED
    return exit_codes.API_ERROR


def _one_line(text: str) -> str:
    return " ".join(text.split())


def handle_errors(func: F) -> F:
    """Turn library errors into one stderr line and an exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .. import errors

        try:
            return func(*args, **kwargs)
        except Failure as failure:
            click.echo(f"error: {_one_line(failure.message)}", err=True)
            sys.exit(failure.code)
        except InputProblem as problem:
            click.echo(f"error: {_one_line(str(problem))}", err=True)
            sys.exit(exit_codes.USAGE)
        except errors.OpenHandsError as exc:
            click.echo(f"error: {_one_line(str(exc))}", err=True)
            sys.exit(exit_code_for(exc))
        except KeyboardInterrupt:
            if _FOLLOWING:
                conversation_id, again = _FOLLOWING[-1]
                click.echo(
                    f"interrupted: conversation {conversation_id} goes on running on the server; "
                    f"to wait for it again: {again}",
                    err=True,
                )
            else:
                click.echo("interrupted", err=True)
            sys.exit(exit_codes.INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def connection_options(func: F) -> F:
    """--profile, --api-key, --base-url, --session-api-key, --api-version, --allow-insecure-http.

    The key and URL options read no environment variables through click: the library does,
    and it ignores them when a profile is chosen (a profile is a whole connection).
    """
    options = [
        click.option(
            "--profile",
            envvar="OPENHANDS_PROFILE",
            show_envvar=True,
            help="Use a stored connection (see 'auth login --profile'); "
            "its server and keys replace the OPENHANDS_* variables.",
        ),
        click.option(
            "--api-key",
            help="OpenHands API key (Cloud). Prefer the OPENHANDS_API_KEY variable over the flag.",
        ),
        click.option(
            "--base-url",
            help="Server URL, e.g. http://localhost:3000 [env: OPENHANDS_BASE_URL; "
            "default: https://app.all-hands.dev]",
        ),
        click.option(
            "--session-api-key",
            help="X-Session-API-Key for a self-hosted server started with SESSION_API_KEY "
            "[env: OPENHANDS_SESSION_API_KEY]",
        ),
        click.option(
            "--api-version",
            type=click.Choice(["auto", "v0", "v1"]),
            default="auto",
            envvar="OPENHANDS_API_VERSION",
            show_default=True,
            help="API generation; auto detects it (Cloud and openhands-ai >= 1.7 speak v1).",
        ),
        click.option(
            "--allow-insecure-http",
            is_flag=True,
            help="Allow sending a key over plain http:// to a non-loopback host.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@contextlib.contextmanager
def make_client(
    api_key: str | None,
    base_url: str | None,
    session_api_key: str | None,
    api_version: str,
    allow_insecure_http: bool,
    profile: str | None = None,
    **extra: Any,
) -> Iterator[OpenHandsAPI]:
    """The client for one command, closed at the end. Under ``--api-version auto`` it starts
    from the version remembered for the server (``version_cache``) and, when it had to
    detect one, remembers that for the next command."""
    from ..client import OpenHandsAPI
    from . import version_cache

    with OpenHandsAPI(
        api_key=api_key,
        base_url=base_url,
        session_api_key=session_api_key,
        profile=profile or None,
        allow_insecure_http=allow_insecure_http,
        api_version=cast("ApiVersion", api_version),  # click.Choice allows only valid values
        **extra,
    ) as api:
        presumed = version_cache.remembered(api.base_url) if api_version == "auto" else None
        if presumed is not None:
            api._presume(presumed)
        try:
            yield api
        finally:
            if api_version == "auto" and api.api_version not in (None, presumed):
                version_cache.remember(api.base_url, api.api_version)


@contextlib.contextmanager
def progress_line() -> Iterator[Callable[[ConversationResult], None] | None]:
    """A one-line status on stderr while a wait runs, rewritten after each poll and erased at
    the end; only on a terminal, so pipes, logs and CI output stay clean."""
    stream = sys.stderr
    if not stream.isatty() or os.environ.get("TERM") == "dumb":
        yield None
        return
    started = time.monotonic()
    shown = False

    def show(snapshot: ConversationResult) -> None:
        nonlocal shown
        conversation = snapshot.conversation
        parts = [conversation.id, f"working {time.monotonic() - started:.0f}s"]
        if conversation.runtime:
            parts.append(f"runtime {conversation.runtime.lower()}")
        if conversation.agent_state:
            parts.append(f"agent {conversation.agent_state.lower()}")
        width = max(20, shutil.get_terminal_size().columns - 1)
        stream.write("\r\x1b[2K" + " · ".join(parts)[:width])
        stream.flush()
        shown = True

    try:
        yield show
    finally:
        if shown:
            stream.write("\r\x1b[2K")
            stream.flush()


# The conversation a command is waiting for, and the command that picks the wait up again: what
# Ctrl-C says (a stack, innermost last).
_FOLLOWING: list[tuple[str, str]] = []


@contextlib.contextmanager
def following(
    conversation_id: str,
    *,
    base_url: str | None = None,
    profile: str | None = None,
    api_version: str = "auto",
    **_other_connection_options: Any,
) -> Iterator[None]:
    """While a command waits for ``conversation_id``: if it is interrupted, say that the
    conversation goes on and how to wait for it again (with the connection flags that were
    given; never a key)."""
    again = ["openhands-api", "wait", conversation_id]
    if profile:
        again += ["--profile", shlex.quote(profile)]
    if base_url:
        again += ["--base-url", shlex.quote(base_url)]
    if api_version != "auto":
        again += ["--api-version", api_version]
    _FOLLOWING.append((conversation_id, " ".join(again)))
    try:
        yield
    except KeyboardInterrupt:
        raise  # the entry stays for handle_errors, which reports the interruption
    except BaseException:
        _FOLLOWING.pop()
        raise
    _FOLLOWING.pop()


def result_json(result: ConversationResult) -> dict[str, Any]:
    """The final state as printed by ``--poll``: the outcome first, then what happened.

    ``status`` repeats the outcome and ``url`` is the web page, as the seed client printed;
    ``id`` is the conversation's id, as in every other JSON of a conversation.
    """
    data = result.model_dump(mode="json")
    return {"status": result.outcome.value, "url": result.web_url, "id": result.conversation_id, **data}


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=exit_codes.EPILOG,
)
@click.version_option(package_name="openhands-api", prog_name="openhands-api")
@click.option("--debug", is_flag=True, help="Log each request and retry to stderr (keys redacted).")
def cli(debug: bool) -> None:
    """Start and follow OpenHands agent conversations (OpenHands Cloud or self-hosted)."""
    # Library warnings (e.g. a world-readable key file) as one plain line, like errors.
    warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"
    if debug:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("openhands_api").setLevel(logging.DEBUG)


@cli.command("new-conversation", epilog=exit_codes.EPILOG)
@connection_options
@click.option("--prompt", "prompt", metavar="TEXT", help="The task for the agent.")
@click.option("--prompt-file", metavar="PATH", help="Read the task from a file ('-' for stdin).")
@click.option("--append-file", metavar="PATH", help="Append this file's text to the prompt.")
@click.option("--repo", metavar="OWNER/REPO", help="Repository to work on.")
@click.option("--branch", help="Git branch to start from.")
@click.option("--git-provider", help="github, gitlab, bitbucket, … (when the server cannot tell).")
@click.option("--title", help="Title for the conversation.")
@click.option("--poll", is_flag=True, help="Wait for the outcome and print the final state as JSON.")
@click.option(
    "--timeout-s",
    type=click.FloatRange(min=0, min_open=True),
    default=20 * 60.0,
    show_default=True,
    help="With --poll: give up waiting after this many seconds.",
)
@click.option(
    "--poll-interval-s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="With --poll: seconds between polls (default: 1 s growing to 5 s; Cloud 3 s to 15 s).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print only JSON (no URL line): the conversation, with "id" and "web_url"; '
    'with --poll the result, with "id", "status" (the outcome) and "url".',
)
@handle_errors
def new_conversation(
    profile: str | None,
    api_key: str | None,
    base_url: str | None,
    session_api_key: str | None,
    api_version: str,
    allow_insecure_http: bool,
    prompt: str | None,
    prompt_file: str | None,
    append_file: str | None,
    repo: str | None,
    branch: str | None,
    git_provider: str | None,
    title: str | None,
    poll: bool,
    timeout_s: float,
    poll_interval_s: float | None,
    as_json: bool,
) -> None:
    """Start a conversation; print its web URL (first line), then with --poll its outcome.

    \b
    Examples:
      openhands-api new-conversation --prompt "Fix the failing test" --repo me/app --poll
      cat task.md | openhands-api new-conversation --prompt-file - --base-url http://localhost:3000
    """
    from ..protocol.validation import validate_repository

    message = resolve_prompt(prompt, prompt_file, append_file)
    if repo is not None:
        try:
            validate_repository(repo)
        except ValueError as exc:
            raise InputProblem(f"--repo: {exc}") from None
    with make_client(
        api_key,
        base_url,
        session_api_key,
        api_version,
        allow_insecure_http,
        profile,
        poll_interval=poll_interval_s,
        max_poll_interval=poll_interval_s,
    ) as api:
        conversation = api.create_conversation(
            message, repository=repo, branch=branch, git_provider=git_provider, title=title
        )
        if not as_json:
            click.echo(conversation.web_url)
        elif not poll:
            click.echo(json.dumps(conversation.model_dump(mode="json"), indent=2, default=str))
        if not poll:
            return
        with (
            following(conversation.id, base_url=base_url, profile=profile, api_version=api_version),
            progress_line() as on_progress,
        ):
            result = api.wait(conversation.id, timeout=timeout_s, on_progress=on_progress)
        click.echo(json.dumps(result_json(result), indent=2, default=str))
        sys.exit(exit_codes.BY_OUTCOME[result.outcome.value])


@cli.command(epilog=exit_codes.EPILOG)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Run the fake agent this many times faster.",
)
@handle_errors
def demo(speed: float) -> None:
    """Run a whole conversation against the embedded fake server (no account needed)."""
    from .demo import run_demo

    sys.exit(run_demo(speed=speed))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``openhands-api`` command."""
    try:
        cli.main(args=argv, prog_name="openhands-api", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so in one line; the traceback only with --debug
        if "--debug" in (argv if argv is not None else sys.argv[1:]):
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {_one_line(str(exc))} (run with --debug for details)",
            err=True,
        )
        sys.exit(exit_codes.INTERNAL)
