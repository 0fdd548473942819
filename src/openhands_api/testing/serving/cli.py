"""``python -m openhands_api.testing serve``: run the fake OpenHands server from a shell.

Responsible for: parsing the command line (fault rules as JSON, chaos, a manual clock), starting
``FakeOpenHandsServer``, printing the base URL as the first and only line on stdout (flushed —
scripts wait for it and read it whole), then hints for a person on stderr (the ``export`` lines
for the library and ``openhands-api``, "Ctrl-C to stop"; ``--quiet`` drops them), and serving
until Ctrl-C or SIGTERM, then shutting down cleanly. Exit status 0 after a clean stop, 1 when
the server cannot listen (the address is taken, no permission), 2 on usage errors: one line on
stderr, never a traceback, invalid configurations worded with the flags
(``--flavor cloud needs --generations v1``, from ``ConfigError``'s knobs).

Not responsible for: server behaviour (see the package docstring). ``testing/__main__.py`` is
the entry point and only calls ``main``.
"""

from __future__ import annotations

import argparse
import errno
import json
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from ..core.config import FakeServerConfig, Knob
    from .server import FakeOpenHandsServer

USAGE = 2
"""Exit status of a usage error (as argparse's own)."""
CANNOT_LISTEN = 1

FLAGS = {
    "generations": "--generations",
    "flavor": "--flavor",
    "session_api_key": "--session-api-key",
    "api_key": "--api-key",
    "rate_limit": "--no-rate-limit",
    "speed": "--speed",
    "concurrency_limit": "--concurrency-limit",
    "webhook_flush_delay": "--webhook-flush-delay",
    "faults": "--fault",
    "fault_seed": "--fault-seed",
    "chaos": "--chaos",
    "clock": "--manual-clock",
    "startup_delay": "--startup-delay",
    "cors_origin": "--cors",
    "static_dir": "--static",
}
"""The flag that sets each ``FakeServerConfig`` knob ``config_from_args`` fills in."""

_VALUELESS = frozenset({"--no-rate-limit", "--manual-clock"})


class UsageError(Exception):
    """A command line that cannot work; the message is one line, worded for a shell user."""


class _Parser(argparse.ArgumentParser):
    """argparse, except that a usage error is one line on stderr (the usage itself, many
    lines for ``serve``, is what ``--help`` is for)."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: error: {_one_line(message)} (see --help)\n")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def knob_as_flag(knob: Knob) -> str:
    """A knob as the command line sets it: ``--speed``, ``--flavor cloud``; a knob no flag
    sets keeps its Python name."""
    flag = FLAGS.get(knob.name)
    if flag is None:
        return knob.as_python()
    if not knob.has_value or flag in _VALUELESS:
        return flag
    return f"{flag} {knob.value}"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port: use 0-65535 (0 picks a free one)")
    return port


def _host(text: str) -> str:
    """An address this machine can resolve; binding it is ``serve``'s business."""
    if not text.strip():
        raise argparse.ArgumentTypeError("needs an address, e.g. 127.0.0.1")
    try:
        socket.getaddrinfo(text, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise argparse.ArgumentTypeError(f"{text} is not an address ({reason})") from None
    return text


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m openhands_api.testing",
        description=(
            "Fake OpenHands server for testing automations: V0 routes of openhands-ai 1.6.0, "
            "V1 routes of 1.11.0, or both as 1.6.0 serves them."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the fake server until interrupted")
    serve.add_argument("--port", type=_port, default=0, help="port to listen on (0: pick a free one)")
    serve.add_argument("--host", type=_host, default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    auth = serve.add_mutually_exclusive_group()
    auth.add_argument("--session-api-key", metavar="KEY", help="require X-Session-API-Key: KEY on /api/*")
    auth.add_argument(
        "--api-key", metavar="KEY", help="require Authorization: Bearer KEY on /api/* (Cloud style)"
    )
    serve.add_argument(
        "--generations",
        choices=("v0", "v1", "both"),
        default="v0",
        help="API generations: v0 (1.6.0's V0 routes, default), v1 (1.11.0), both (1.6.0)",
    )
    serve.add_argument(
        "--flavor",
        choices=("selfhosted", "cloud"),
        default="selfhosted",
        help="cloud: web-app HTML for unknown GETs, Cloud's rate limiter (needs --generations v1)",
    )
    serve.add_argument(
        "--concurrency-limit",
        type=int,
        default=None,
        metavar="N",
        help="V1 create answers 429 CONCURRENCY_LIMIT_REACHED while N sandboxes run (Cloud)",
    )
    serve.add_argument(
        "--webhook-flush-delay",
        type=float,
        default=None,
        metavar="S",
        help="V1 event list lags like the real one: batches of 5, a partial batch after S seconds",
    )
    serve.add_argument("--no-rate-limit", action="store_true", help="disable the 10 requests/s limiter")
    serve.add_argument("--speed", type=float, default=1.0, help="divide every simulated delay by this")
    serve.add_argument(
        "--manual-clock",
        action="store_true",
        help="simulated time stands still until POST /_fake/clock/advance moves it (long "
        "conversations in an exact state, without waiting)",
    )
    serve.add_argument(
        "--startup-delay",
        type=float,
        default=None,
        metavar="S",
        help="seconds from create to RUNNING (default 0.5)",
    )
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="RULE_JSON",
        help='a fault rule, e.g. \'{"fault": "status", "status": 503, "path": "/api/*", "times": 2}\' '
        "(repeatable; more at run time through POST /_fake/faults)",
    )
    serve.add_argument(
        "--fault-seed", type=int, default=0, metavar="N", help="seed for rules with probability < 1"
    )
    serve.add_argument(
        "--chaos",
        type=float,
        default=None,
        metavar="PROBABILITY",
        help="hit this share of requests with a random transient fault (resets, 5xx, HTML, truncation, 429)",
    )
    serve.add_argument(
        "--chaos-seed", type=int, default=None, metavar="N", help="seed for --chaos (default: --fault-seed)"
    )
    serve.add_argument(
        "--cors",
        metavar="ORIGIN|*",
        default=None,
        help="answer CORS preflights and allow this origin (http://127.0.0.1:5173) or * on every "
        "answer, for a page served elsewhere (off by default)",
    )
    serve.add_argument(
        "--static",
        metavar="DIR",
        default=None,
        help="serve DIR at /_fake/static/ (a test page on the fake's own origin needs no CORS)",
    )
    serve.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug", "trace"),
        default="warning",
        help="uvicorn log level (default warning)",
    )
    serve.add_argument("-q", "--quiet", action="store_true", help="print only the URL (no hints on stderr)")
    return parser


def config_from_args(args: argparse.Namespace) -> FakeServerConfig:
    """The server configuration the parsed command line asks for; ``UsageError`` (in flag
    terms) if it is invalid."""
    from ..core.config import ConfigError

    try:
        return _config(args)
    except ConfigError as exc:
        raise UsageError(exc.render(knob_as_flag)) from None


def _config(args: argparse.Namespace) -> FakeServerConfig:
    from ..core.clock import ManualClock, SystemClock
    from ..core.config import FakeServerConfig
    from ..faults.rules import Chaos, FaultRule

    faults = []
    for text in args.fault:
        try:
            faults.append(FaultRule.from_json(json.loads(text)))
        except json.JSONDecodeError as exc:
            raise UsageError(f"--fault {_one_line(text)}: not JSON ({exc})") from None
        except (TypeError, ValueError) as exc:
            raise UsageError(f"--fault {_one_line(text)}: {exc}") from None
    if args.chaos_seed is not None and args.chaos is None:
        raise UsageError("--chaos-seed needs --chaos")
    try:
        chaos = None if args.chaos is None else Chaos(args.chaos, seed=args.chaos_seed)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"--chaos {args.chaos}: {exc}") from None
    config = FakeServerConfig(
        generations=args.generations,
        flavor=args.flavor,
        session_api_key=args.session_api_key,
        api_key=args.api_key,
        rate_limit=not args.no_rate_limit,
        speed=args.speed,
        concurrency_limit=args.concurrency_limit,
        webhook_flush_delay=args.webhook_flush_delay,
        faults=faults,
        fault_seed=args.fault_seed,
        chaos=chaos,
        clock=ManualClock() if args.manual_clock else SystemClock(),
        cors_origin=args.cors,
        static_dir=args.static,
    )
    if args.startup_delay is not None:
        config = config.with_overrides(startup_delay=args.startup_delay)
    return config


def hints(server: FakeOpenHandsServer, args: argparse.Namespace) -> list[str]:
    """What a person needs next, for stderr: which server this is, the ``export`` lines for
    the library and ``openhands-api``, a first command, how to stop. A key is named by its
    variable, never printed: stderr ends up in logs."""
    config = server.config
    routes = {
        "v0": "the V0 routes of openhands-ai 1.6.0",
        "v1": "the V1 routes of openhands-ai 1.11.0",
        "both": "the V0 and V1 routes of openhands-ai 1.6.0",
    }[config.generations]
    if config.flavor == "cloud":
        routes += " as OpenHands Cloud answers them"
    lines = [
        f"Fake OpenHands server ({routes}; a scripted agent, no LLM) at {server.base_url}",
        "Point the library and openhands-api at it:",
        f"  export OPENHANDS_BASE_URL={server.base_url}",
    ]
    if config.session_api_key is not None:
        lines.append("  export OPENHANDS_SESSION_API_KEY=<the key given to --session-api-key>")
    if config.api_key is not None:
        lines.append("  export OPENHANDS_API_KEY=<the key given to --api-key>")
    if args.manual_clock:
        lines.append(
            f"Simulated time stands still: curl -X POST {server.base_url}/_fake/clock/advance "
            """-H 'Content-Type: application/json' -d '{"seconds": 5}' moves it."""
        )
    else:
        lines.append("  openhands-api new-conversation --prompt 'Write hello.py [fake-llm steps=2]' --poll")
    if config.static_dir is not None:
        lines.append(f"Files of {config.static_dir} at {server.base_url}/_fake/static/")
    if config.cors_origin is not None:
        lines.append(f"CORS: answers allow the origin {config.cors_origin}")
    lines.append("Ctrl-C to stop.")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .server import FakeOpenHandsServer

    try:
        config = config_from_args(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    server = FakeOpenHandsServer(config, host=args.host, port=args.port, log_level=args.log_level)
    try:
        server.start()
    except OSError as exc:
        if exc.errno == errno.EADDRNOTAVAIL:
            print(f"error: --host {args.host} is not an address of this machine", file=sys.stderr)
            return USAGE
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return CANNOT_LISTEN
    except (RuntimeError, TimeoutError) as exc:  # uvicorn gave up; its log said why
        print(f"error: {exc}", file=sys.stderr)
        return CANNOT_LISTEN
    # The URL alone on stdout, first: scripts read this line and use it as it is.
    print(server.base_url, flush=True)
    if not args.quiet:
        print("\n".join(hints(server, args)), file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.1):
            pass
    finally:
        server.stop()
    return 0
