"""``python -m openhands_api.testing serve``: run the fake OpenHands server from a shell.

Responsible for: parsing the command line (fault rules as JSON, chaos, a manual clock), starting
``FakeOpenHandsServer``, printing one
line with the base URL (stdout, flushed — scripts wait for it), and serving until Ctrl-C or
SIGTERM, then shutting down cleanly. Exit status 0 after a clean stop, 1 when the address
is taken, 2 on usage errors.

Not responsible for: server behaviour (see the package docstring). ``testing/__main__.py`` is
the entry point and only calls ``main``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.config import FakeServerConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m openhands_api.testing",
        description=(
            "Fake OpenHands server for testing automations: V0 routes of openhands-ai 1.6.0, "
            "V1 routes of 1.11.0, or both as 1.6.0 serves them."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the fake server until interrupted")
    serve.add_argument("--port", type=int, default=0, help="port to listen on (0: pick a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
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
    serve.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    return parser


def config_from_args(args: argparse.Namespace) -> FakeServerConfig:
    """The server configuration the parsed command line asks for; ``ValueError`` if invalid."""
    from ..core.clock import ManualClock, SystemClock
    from ..core.config import FakeServerConfig
    from ..faults.rules import Chaos, FaultRule

    faults = []
    for text in args.fault:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--fault is not JSON: {exc}") from None
        faults.append(FaultRule.from_json(data))
    if args.chaos_seed is not None and args.chaos is None:
        raise ValueError("--chaos-seed needs --chaos")
    chaos = None if args.chaos is None else Chaos(args.chaos, seed=args.chaos_seed)
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
    )
    if args.startup_delay is not None:
        config = config.with_overrides(startup_delay=args.startup_delay)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .server import FakeOpenHandsServer

    try:
        config = config_from_args(args)
    except (TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    server = FakeOpenHandsServer(config, host=args.host, port=args.port, log_level=args.log_level)
    try:
        server.start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(server.base_url, flush=True)
    try:
        while not stop.wait(0.1):
            pass
    finally:
        server.stop()
    return 0
