"""pytest wiring for the integration tests against the real OpenHands server.

Responsible for: marking every test under ``tests/integration`` with
``@pytest.mark.integration``, deciding whether they may be skipped, and the
fixtures that start real servers through ``realserver/harness.py`` (and stop
them, failing if any process is left behind). Not responsible for installing or
running the servers (the harness) or for what the tests check.

Fixtures (each yields a :class:`realserver.RealServer`: ``base_url``,
``session_api_key``, ``headers``, ``workdir``, ``version`` ("v0"/"v1"),
``openhands_ai`` ("1.6.0"/"1.11.0"), ``server_log``, ``fake_llm_log``, ``client()``
/ ``async_client()`` (httpx, key header and rate-limit throttle included),
``processes()``, ``fake_llm_requests()``, ``log_tail()``):

* ``real_v0`` / ``real_v1`` (session): openhands-ai 1.6.0 / 1.11.0, requiring
  ``X-Session-API-Key: test-session-key`` (``SESSION_API_KEY``); v1 delivers
  webhook events after 1 s of quiet instead of 30 s. Shared by the whole run: use
  your own conversations, delete them when done (V0 keeps at most 3 running
  conversations per user and stops the oldest), and do not change settings.
* ``real_v0_nokey`` / ``real_v1_nokey`` (session, started only when a test asks):
  the same servers without any authentication.
* ``real_server_factory`` (function): ``factory("v0" | "v1", **start_options)``
  starts an extra server just for one test (e.g. to stop it, or with a server-wide
  ``llm_error``); stopped, with the leftover check, when the test ends.

Skipping: in CI (``CI=true``) nothing is ever skipped: a missing Python 3.12, a
failed install or a server that does not start is an error. Elsewhere the tests
are skipped, with the reason, when Python 3.12 (or tmux/git) is missing, or when
``OPENHANDS_API_SKIP_INTEGRATION=1`` is set (opt-out, ignored in CI). To enable
them, install Python 3.12 (``pyenv install 3.12`` or the python3.12 package) or
set ``OPENHANDS_API_REALSERVER_PYTHON=/path/to/python3.12``. The first run
installs both servers into ``~/.cache/openhands-api-realserver`` (~2-3 min,
``OPENHANDS_API_REALSERVER_HOME`` moves it); ``-m "not integration"`` deselects
the tests.

Rate limit: the real server allows 10 requests/s per client IP, shared by every
client on loopback (V1 agent-servers' webhooks included), then delays, then
answers 429. Use ``server.client()`` (4 requests/s, shared per server within the
test process) or keep your own polling at <= 4 requests/s.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .realserver import harness

SESSION_API_KEY = "test-session-key"
# v1 agent-servers send a partial batch of events after this many seconds of quiet
# (upstream: 30 s, which would make every test wait for the last events)
WEBHOOK_FLUSH_DELAY = 1.0
HERE = Path(__file__).resolve().parent


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def skip_reason() -> str | None:
    """Why the integration tests cannot run here, or None. Always None in CI."""
    if in_ci():
        if os.environ.get("OPENHANDS_API_SKIP_INTEGRATION", "").strip() not in ("", "0"):
            warnings.warn(
                "OPENHANDS_API_SKIP_INTEGRATION is ignored in CI: integration tests run",
                stacklevel=1,
            )
        return None
    if os.environ.get("OPENHANDS_API_SKIP_INTEGRATION", "").strip() not in ("", "0"):
        return "integration tests opted out with OPENHANDS_API_SKIP_INTEGRATION (unset it to run)"
    try:
        harness.find_python()
        harness.check_tools()
    except harness.PrerequisiteMissing as e:
        return f"real OpenHands server unavailable: {e}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees the items of the whole run, not only ours: filter by path.
    ours = [item for item in items if HERE in item.path.parents]
    if not ours:
        return
    reason = skip_reason()  # only computed when integration tests were collected
    for item in ours:
        item.add_marker(pytest.mark.integration)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failed test's report carries what its real servers logged last (the request lines
    left out), so that a failure in CI can be understood without the kept workdir."""
    report: pytest.TestReport = yield
    if report.failed and HERE in item.path.parents:
        servers = {
            id(value): value
            for value in getattr(item, "funcargs", {}).values()
            if isinstance(value, harness.RealServer)
        }
        for server in servers.values():
            report.sections.append(
                (f"real {server.version} server log, last lines", server_log_digest(server))
            )
    return report


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def server_log_digest(server: harness.RealServer, lines: int = 60) -> str:
    """The newest log lines other than uvicorn's access lines, each cut to 300 characters."""
    text = ANSI.sub("", harness.tail(server.server_log, 20000, window=2 * 1024 * 1024))
    kept = [line[:300] for line in text.splitlines() if not line.startswith("INFO:     127.0.0.1")]
    return "\n".join(kept[-lines:])


# What the V0 action-server shim logs when it abandons a hung Jupyter start (see
# realserver/launchers/oh_action_server_v0.py); counted per server, shown at the end of
# the run so that CI output tells how often the real server needed it.
JUPYTER_RETRY_MARK = "oh_action_server_v0: Jupyter start attempt"
jupyter_retries: dict[str, tuple[int, int]] = {}  # workdir name: (abandoned, runtime starts)


def count_jupyter_retries(server: harness.RealServer) -> None:
    if server.version != "v0":
        return
    try:
        log = server.server_log.read_text(errors="replace")
    except OSError:
        return
    starts = log.count("Starting server with command")  # LocalRuntime, once per action server
    jupyter_retries[server.workdir.name] = (log.count(JUPYTER_RETRY_MARK), starts)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if jupyter_retries:
        abandoned = sum(a for a, _ in jupyter_retries.values())
        starts = sum(s for _, s in jupyter_retries.values())
        terminalreporter.write_line(
            f"real V0 servers: {abandoned} hung Jupyter start(s) abandoned and retried"
            f" in {starts} action-server starts ({len(jupyter_retries)} servers)"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Safety net behind the fixtures: whatever this process started and did not stop
    # yet (e.g. a fixture's teardown was interrupted) is stopped now.
    for report in harness.stop_started():
        if report.leftover_processes:
            warnings.warn(
                f"processes survived stopping {report.workdir}: {report.leftover_processes}", stacklevel=1
            )


def _start(version: str, **options: Any) -> harness.RealServer:
    """Start a server, turning harness errors into a readable test error (never a skip in CI)."""
    # pytest.fail/skip are called outside the except blocks so that the report shows
    # the harness's message alone, without a chained traceback
    try:
        return harness.start(version, **options)
    except harness.PrerequisiteMissing as e:
        missing: str | None = str(e)
        failure = None
    except harness.HarnessError as e:
        missing, failure = None, str(e)
    if failure is not None:
        pytest.fail(f"could not start the real OpenHands {version} server: {failure}", pytrace=False)
    if in_ci():
        pytest.fail(f"CI must run the integration tests: {missing}", pytrace=False)
    pytest.skip(f"real OpenHands server unavailable: {missing}")


def _stop(server: harness.RealServer, session: pytest.Session) -> None:
    """Stop and check for leftovers; keep the workdir (with the logs) if a test failed."""
    keep = session.testsfailed > 0
    count_jupyter_retries(server)
    report = server.stop(remove=not keep, check=False)
    if report.leftover_processes:
        pytest.fail(str(harness.LeftoverProcessesError(report)), pytrace=False)
    if keep:
        print(f"\nkept the {server.version} server's workdir for inspection: {report.workdir}")


def _session_server(
    request: pytest.FixtureRequest, version: str, **options: Any
) -> Iterator[harness.RealServer]:
    server = _start(version, **options)
    try:
        yield server
    finally:
        _stop(server, request.session)


@pytest.fixture(scope="session")
def real_v0(request: pytest.FixtureRequest) -> Iterator[harness.RealServer]:
    """openhands-ai 1.6.0 (V0 routes), key ``SESSION_API_KEY``, shared by the session."""
    yield from _session_server(request, "v0", session_api_key=SESSION_API_KEY)


@pytest.fixture(scope="session")
def real_v1(request: pytest.FixtureRequest) -> Iterator[harness.RealServer]:
    """openhands-ai 1.11.0 (V1 routes), key ``SESSION_API_KEY``, shared by the session."""
    yield from _session_server(
        request, "v1", session_api_key=SESSION_API_KEY, webhook_flush_delay=WEBHOOK_FLUSH_DELAY
    )


@pytest.fixture(scope="session")
def real_v0_nokey(request: pytest.FixtureRequest) -> Iterator[harness.RealServer]:
    """openhands-ai 1.6.0 without authentication (started on first use)."""
    yield from _session_server(request, "v0")


@pytest.fixture(scope="session")
def real_v1_nokey(request: pytest.FixtureRequest) -> Iterator[harness.RealServer]:
    """openhands-ai 1.11.0 without authentication (started on first use)."""
    yield from _session_server(request, "v1", webhook_flush_delay=WEBHOOK_FLUSH_DELAY)


@pytest.fixture
def real_server_factory(
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., harness.RealServer]]:
    """Start extra servers for one test: ``factory(version, **harness.start options)``.

    Defaults: no session key, ``webhook_flush_delay=1`` for v1. Every server is
    stopped (leftovers fail the test) when the test ends; stopping one earlier in
    the test is fine.
    """
    started: list[harness.RealServer] = []

    def factory(version: str, **options: Any) -> harness.RealServer:
        if version == "v1":
            options.setdefault("webhook_flush_delay", WEBHOOK_FLUSH_DELAY)
        server = _start(version, **options)
        started.append(server)
        return server

    yield factory
    errors = []
    for server in started:
        count_jupyter_retries(server)
        report = server.stop(remove=not request.session.testsfailed, check=False)
        if report.leftover_processes:
            errors.append(str(harness.LeftoverProcessesError(report)))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)
