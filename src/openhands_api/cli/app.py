"""The command tree. Each command parses its options, calls the library, and renders.

Errors become one line on stderr and a documented exit code (see ``exit_codes.py``), worded
for the command line (:func:`error_text`: flags, not library arguments; no HTTP routes or
bodies, which ``--debug`` adds); a traceback is shown only for an unexpected bug, and only
with ``--debug``, which every command takes, before or after its name. A closed output pipe
(``| head -1``) ends a command quietly (:func:`main`).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import logging
import os
import shlex
import sys
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from ..errors import SETTINGS
from . import exit_codes
from .jq import Filter
from .output import Printer, Terminal, printer_for, split_json_value
from .prompt import InputProblem

if TYPE_CHECKING:
    from .._base_client import ApiVersion
    from ..aio import AsyncOpenHandsAPI
    from ..client import OpenHandsAPI
    from ..errors import APIStatusError, OpenHandsError
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
    # NotSupportedError (the server cannot do this; see exit_codes.py), and every other
    # answer or failure of the server.
    return exit_codes.API_ERROR


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Flag:
    """A setting as the command line spells it: ``{api_version:v0}`` is ``--api-version v0``."""

    def __init__(self, name: str) -> None:
        self.flag = "--" + name.replace("_", "-")

    def __format__(self, value: str) -> str:
        return self.flag if value in ("", "True") else f"{self.flag} {value}"


CLI_SPELLING: dict[str, object] = {name: _Flag(name) for name in SETTINGS} | {
    "store_key": "store it with: openhands-api auth login"
}
"""The library's remedies (``errors.OpenHandsError.remedy``) worded with the CLI's flags."""

_STATUS_PROBLEMS: tuple[tuple[str, str], ...] = (
    ("AuthenticationError", "The server refused the credentials"),
    ("PermissionDeniedError", "The key is not allowed to do this"),
    ("NotFoundError", "Not found"),
    ("ConflictError", "The conversation is not in a state that allows this"),
    ("GoneError", "Gone for good"),
    ("UnprocessableEntityError", "The server refused the values sent"),
    ("BadRequestError", "The server refused the request"),
    ("RateLimitError", "The server is limiting requests"),
    ("ServerError", "Server error"),
)
"""What each status error means, in words (the first class that matches)."""


def _status_problem(exc: APIStatusError, conversation_id: str | None) -> str | None:
    """An answer's error in words: what it means and the server's own sentence if it gave one
    (never the route or a dump of the body); None for an error the library worded itself."""
    from .. import errors

    if exc.detail is None:  # made by the library, not read from an answer: already in words
        return None
    meaning = next(
        (text for name, text in _STATUS_PROBLEMS if isinstance(exc, getattr(errors, name))),
        "The server answered with an error",
    )
    said = exc.server_message
    if said is not None and said.casefold() == _reason_phrase(exc.status_code).casefold():
        said = None  # a bare {"detail": "Not Found"} says no more than the status
    if isinstance(exc, errors.NotFoundError) and conversation_id and said is None:
        meaning = f"No conversation {conversation_id} on this server: unknown id, or deleted"
    return f"{meaning} (HTTP {exc.status_code})" + (f": {said}" if said else "")


def _reason_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def error_text(exc: OpenHandsError, conversation_id: str | None = None) -> str:
    """A library error worded for the command line: its flags, the commands that fix it."""
    from .. import errors

    if isinstance(exc, errors.ConflictError) and conversation_id:
        # V1 answers 409 to a conversation whose sandbox is not running (paused, starting),
        # quoting its own resume route: say the command instead.
        return (
            f"The sandbox of conversation {conversation_id} is not running (paused, or still "
            "starting); "
            f"resume it first: openhands-api resume {conversation_id}"
        )
    problem = _status_problem(exc, conversation_id) if isinstance(exc, errors.APIStatusError) else None
    if isinstance(exc, errors.TransportError) and exc.method and exc.problem.startswith(exc.method):
        # "GET /api/… to URL: could not connect …": the route is for --debug; say the server.
        problem = exc.problem.split(" to ", 1)[-1]
    return exc.worded(CLI_SPELLING, problem=problem)


def debug_text(exc: OpenHandsError) -> str:
    """Everything the library knows about an error, for ``--debug``: its class, its whole
    message, and the request and answer it came from (already without keys)."""
    parts = [f"{type(exc).__name__}: {exc.message}"]
    method, path = getattr(exc, "method", ""), getattr(exc, "path", "")
    if method or path:
        parts.append(f"request: {method} {path}")
    body = getattr(exc, "body", None)
    if body is not None:
        parts.append(f"answer: {json.dumps(body, default=str)[:500]}")
    return " | ".join(parts)


_DEBUG = False
"""Set by ``--debug`` (wherever it was given): tracebacks of bugs, the library's full errors."""


def _enable_debug(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    global _DEBUG
    if not value or _DEBUG:
        return
    _DEBUG = True
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("openhands_api").setLevel(logging.DEBUG)


def debug_option() -> click.Option:
    return click.Option(
        ["--debug"],
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_enable_debug,
        help="Log each request and retry to stderr (keys redacted); show errors in full.",
    )


def _set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta["quiet"] = True


def quiet_option() -> click.Option:
    return click.Option(
        ["-q", "--quiet"],
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_quiet,
        help="Print only what a script reads (ids, JSON, results): no confirmations or hints.",
    )


class Command(click.Command):
    """Every command takes ``--debug`` and ``-q`` too, so that they work after the command's
    name; a command with JSON output tells a bare ``--json`` from ``--json FIELDS`` here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params += [quiet_option(), debug_option()]
        self.json_fields: tuple[str, ...] | None = getattr(self.callback, "__json_fields__", None)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if self.json_fields is not None:
            args = split_json_value(args, self.json_fields)
        return super().parse_args(ctx, args)


@dataclass
class Seam:
    """What a command takes from outside, replaceable in tests (as gh's factory): the
    terminal, the client, the browser. ``None`` means the real one."""

    terminal: Terminal | None = None
    client_factory: Callable[..., OpenHandsAPI] | None = None
    open_browser: Callable[[str], bool] | None = None
    async_client_factory: Callable[..., AsyncOpenHandsAPI] | None = None  # batch run


def seam() -> Seam:
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Seam) if ctx is not None else None
    return found if found is not None else Seam()


def terminal() -> Terminal:
    return seam().terminal or Terminal.detect()


def output(json_fields: str | None = None, jq: Filter | None = None) -> Printer:
    """The printer of the running command, from its ``--json``/``--jq`` values and ``-q``."""
    return printer_for(click.get_current_context(), terminal(), json_fields=json_fields, jq=jq)


def open_in_browser(url: str) -> bool:
    """Open ``url`` in the user's browser (``--web``); False when none could be started."""
    opener = seam().open_browser
    if opener is not None:
        return opener(url)
    import webbrowser

    return webbrowser.open(url)


class Group(click.Group):
    """A group whose commands and subgroups take ``--debug`` (see :class:`Command`), and
    whose bare name prints its help and exits 0 (click 8.2+ makes that a usage error, 2)."""

    command_class = Command
    group_class = type  # subgroups are Groups too

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(debug_option())

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with _closed_pipe_is_quiet():  # the help is written while parsing
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with _closed_pipe_is_quiet():
            return super().invoke(ctx)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            click.echo(ctx.get_help())
            ctx.exit(exit_codes.OK)
        return super().parse_args(ctx, args)


def _quiet_closed_pipe() -> None:
    """The reader of our output went away (``| head -1``): what is left goes nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file behind stdout (an embedding's StringIO)
        pass
    finally:
        os.close(devnull)


@contextlib.contextmanager
def _closed_pipe_is_quiet() -> Iterator[None]:
    """A write to a closed stdout (``| head -1``) ends the command with exit 0 and no word
    (click would print nothing but exit 1, the code for "failed")."""
    try:
        yield
    except BrokenPipeError:
        _quiet_closed_pipe()
        raise click.exceptions.Exit(exit_codes.OK) from None


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
            if _DEBUG:
                click.echo(f"debug: {_one_line(debug_text(exc))}", err=True)
            click.echo(f"error: {_one_line(error_text(exc, kwargs.get('conversation_id')))}", err=True)
            sys.exit(exit_code_for(exc))
        except KeyboardInterrupt:
            if _FOLLOWING:
                conversation_ids, again = _FOLLOWING[-1]
                which, goes, it = (
                    (f"conversation {conversation_ids[0]}", "goes", "it")
                    if len(conversation_ids) == 1
                    else (f"conversations {', '.join(conversation_ids)}", "go", "them")
                )
                click.echo(
                    f"interrupted: {which} {goes} on running on the server; to wait for {it} again: {again}",
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

    factory = seam().client_factory or OpenHandsAPI
    with factory(
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


@contextlib.asynccontextmanager
async def make_async_client(
    api_key: str | None,
    base_url: str | None,
    session_api_key: str | None,
    api_version: str,
    allow_insecure_http: bool,
    profile: str | None = None,
) -> AsyncIterator[AsyncOpenHandsAPI]:
    """:func:`make_client` for a command that runs on an event loop (``batch run``): the
    async client, with the same options and the same remembered API version."""
    from ..aio import AsyncOpenHandsAPI
    from . import version_cache

    factory = seam().async_client_factory or AsyncOpenHandsAPI
    async with factory(
        api_key=api_key,
        base_url=base_url,
        session_api_key=session_api_key,
        profile=profile or None,
        allow_insecure_http=allow_insecure_http,
        api_version=cast("ApiVersion", api_version),
    ) as api:
        presumed = version_cache.remembered(api.base_url) if api_version == "auto" else None
        if presumed is not None:
            api._presume(presumed)
        try:
            yield api
        finally:
            if api_version == "auto" and api.api_version not in (None, presumed):
                version_cache.remember(api.base_url, api.api_version)


class StatusLine:
    """One line on stderr, rewritten in place while a command waits and erased at the end
    (the mechanics every waiting command shares; what the line says is each command's)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self._shown = False
        self._lock = threading.Lock()  # the sync client's concurrent waits report from threads

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:.0f}s"

    def show(self, text: str) -> None:
        with self._lock:
            sys.stderr.write("\r\x1b[2K" + text[: max(20, terminal().columns - 1)])
            sys.stderr.flush()
            self._shown = True

    def erase(self) -> None:
        if self._shown:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()


@contextlib.contextmanager
def status_line() -> Iterator[StatusLine | None]:
    """A :class:`StatusLine` on a terminal; None for pipes, logs, CI output and ``-q``."""
    if not terminal().stderr_tty or click.get_current_context().meta.get("quiet"):
        yield None
        return
    line = StatusLine()
    try:
        yield line
    finally:
        line.erase()


@contextlib.contextmanager
def progress_line() -> Iterator[Callable[[ConversationResult], None] | None]:
    """A wait's progress on the status line: the conversation, how long, its runtime and
    agent states (or a V1 start task's status), rewritten after each poll."""
    with status_line() as line:
        if line is None:
            yield None
            return

        def show(snapshot: ConversationResult) -> None:
            conversation = snapshot.conversation
            if conversation.start_task_id is not None and conversation.start_task_id == conversation.id:
                # A V1 start task before its conversation exists: its status says what it is
                # at (WAITING_FOR_SANDBOX …); the web URL is known only once it is READY. The
                # task's id comes last, where a narrow terminal cuts the line.
                parts = [f"starting {line.elapsed()}"]
                if snapshot.detail:
                    parts.append(snapshot.detail.lower().replace("_", " "))
                parts.append(f"start task {conversation.id}")
            elif snapshot.latest_event is not None:
                # A wait over the live stream: what the agent is doing now says more than the
                # states of the last look (it runs, or no event would come).
                from .views import event_brief

                parts = [conversation.id, f"working {line.elapsed()}", event_brief(snapshot.latest_event)]
            else:
                parts = [conversation.id, f"working {line.elapsed()}"]
                if conversation.runtime:
                    parts.append(f"runtime {conversation.runtime.lower()}")
                if conversation.agent_state:
                    parts.append(f"agent {conversation.agent_state.lower()}")
            line.show(" · ".join(parts))

        yield show


def again_command(
    command: str,
    *conversation_ids: str,
    base_url: str | None = None,
    profile: str | None = None,
    api_version: str = "auto",
    **_other_connection_options: Any,
) -> str:
    """The command line that looks at ``conversation_ids`` again (``wait ID``, ``get ID``), with
    the connection flags that were given (never a key), ready to paste."""
    again = ["openhands-api", command, *conversation_ids]
    if profile:
        again += ["--profile", shlex.quote(profile)]
    if base_url:
        again += ["--base-url", shlex.quote(base_url)]
    if api_version != "auto":
        again += ["--api-version", api_version]
    return " ".join(again)


# The conversation a command is waiting for, and the command that picks the wait up again: what
# Ctrl-C says (a stack, innermost last).
_FOLLOWING: list[tuple[tuple[str, ...], str]] = []


@contextlib.contextmanager
def following(
    *conversation_ids: str,
    base_url: str | None = None,
    profile: str | None = None,
    api_version: str = "auto",
    **_other_connection_options: Any,
) -> Iterator[None]:
    """While a command waits for ``conversation_ids`` (one, or several for ``wait A B``): if
    it is interrupted, say that they go on and how to wait for them again (with the
    connection flags that were given; never a key)."""
    again = again_command(
        "wait", *conversation_ids, base_url=base_url, profile=profile, api_version=api_version
    )
    _FOLLOWING.append((conversation_ids, again))
    try:
        yield
    except KeyboardInterrupt:
        raise  # the entry stays for handle_errors, which reports the interruption
    except BaseException:
        _FOLLOWING.pop()
        raise
    _FOLLOWING.pop()


@click.group(
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=exit_codes.EPILOG,
)
@click.version_option(package_name="openhands-api", prog_name="openhands-api")
def cli() -> None:
    """Start and follow OpenHands agent conversations (OpenHands Cloud or self-hosted).

    \b
    Examples:
      export OPENHANDS_BASE_URL=http://localhost:3000   # or OPENHANDS_API_KEY
      openhands-api new-conversation --prompt "Fix the test" --repo me/app --poll
      openhands-api list
      openhands-api wait ID --exit-status && openhands-api result ID
    """
    # Library warnings (e.g. a world-readable key file) as one plain line, like errors.
    warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"


@cli.command(epilog=exit_codes.SEE_EXIT_CODES)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Run the fake agent this many times faster.",
)
@handle_errors
def demo(speed: float) -> None:
    """Run a demo conversation on the built-in fake server.

    No account or server needed: the fake server runs in this process.

    \b
    Example:
      openhands-api demo --speed 5
    """
    from .demo import run_demo

    sys.exit(run_demo(speed=speed))


def main(argv: list[str] | None = None, *, seam: Seam | None = None) -> None:
    """Entry point of the ``openhands-api`` command; ``seam`` replaces what it takes from
    outside (tests run commands in-process through it)."""
    global _DEBUG
    _DEBUG = False
    _FOLLOWING.clear()
    library_log = logging.getLogger("openhands_api")
    level = library_log.level
    try:
        try:
            cli.main(args=argv, prog_name="openhands-api", standalone_mode=True, obj=seam)
        finally:
            library_log.setLevel(level)
            _flush_output()
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so in one line; the traceback only with --debug
        if _DEBUG or "--debug" in (argv if argv is not None else sys.argv[1:]):
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {_one_line(str(exc))} (run with --debug for details)",
            err=True,
        )
        sys.exit(exit_codes.INTERNAL)


def _flush_output() -> None:
    """Write what is still buffered for stdout now, while a closed pipe can be told apart: a
    reader that went away (``| head -1``) after the command finished leaves its exit code as
    it was, and no "Exception ignored" noise at exit."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_closed_pipe()
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        _quiet_closed_pipe()
