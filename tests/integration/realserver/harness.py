#!/usr/bin/env python3
"""Install, start and stop the real OpenHands server on loopback for the integration tests.

Responsible for:

* **install** — one virtual environment per server version, made with uv from Python
  3.12 and pinned by the release's own lock file (``constraints/``), in a cache
  directory (default ``~/.cache/openhands-api-realserver``, or
  ``$OPENHANDS_API_REALSERVER_HOME``). A finished install is recorded in
  ``installed.json``; asking again returns at once (~1 ms). Concurrent installs wait
  for each other (file lock).
* **start** — one server (plus its own scripted fake LLM, ``fake_llm.py``) on
  127.0.0.1, in a private working directory (the *workdir*) that holds everything
  the server and its children write: logs, HOME, TMPDIR, stored conversations,
  workspaces, sandboxes, tmux sockets. The server's environment is built from
  scratch, so the caller's ``LLM_*``/``OH_*``/``SESSION_API_KEY``/proxy variables do
  not leak in. Returns a :class:`RealServer` once ``/alive`` answers and the LLM
  settings are stored.
* **stop** — ends the server's process group and every process that belongs to the
  workdir, then checks that nothing is left and raises
  :class:`LeftoverProcessesError` otherwise. Every process started for a server
  carries ``OPENHANDS_API_REALSERVER_WORKDIR=<workdir>`` in its environment (V0
  action servers, Jupyter kernel gateways and kernels, V1 agent-servers, tmux
  servers all inherit it), so they are found by workdir, never by name: other
  servers from the same install (another developer's test run) are left alone.
* a **client-side throttle** (:class:`Throttle`): the real server rate-limits each
  client IP to 10 requests/s (requests 11-20 in a second are delayed ~1 s, beyond
  that 429). All loopback clients share that budget, V1 agent-server webhooks
  included, so test code should stay at ``CLIENT_REQUESTS_PER_SECOND`` (4/s) per
  server; :meth:`RealServer.client` returns an httpx client that does.

Not responsible for: pytest integration (``../conftest.py``), the fake LLM's
behaviour (``fake_llm.py``), the patches needed to run the servers without Docker
and to keep a hung Jupyter start from leaving a V0 conversation STARTING for good
(``launchers/``).

Versions: ``v0`` = openhands-ai 1.6.0 (the last release with the legacy
``/api/conversations`` routes), ``v1`` = openhands-ai 1.11.0
(``/api/v1/app-conversations``). Both need Python >=3.12,<3.14, looked for in
``$OPENHANDS_API_REALSERVER_PYTHON``, ``$OH_REAL_SERVER_PYTHON``,
``~/.pyenv/versions/3.12*/bin/python3``, ``python3.12``, ``python3``. uv is taken
from ``$OPENHANDS_API_REALSERVER_UV``, else ``uv`` on PATH, else ``uv`` is
pip-installed into ``<cache>/uv-tool``. The servers' agents also need ``tmux`` and
``git`` on PATH.

Command line (standard library only; any Python >= 3.10 runs it)::

    python tests/integration/realserver/harness.py install all|v0|v1
    python tests/integration/realserver/harness.py start v0|v1 [--session-api-key KEY] ...
    python tests/integration/realserver/harness.py stop --workdir DIR [--rm] | --all [--rm]
    python tests/integration/realserver/harness.py list

``stop --all`` stops every server of this harness on the machine (all users of the
same account), which is what CI wants as a final safety net; inside a test run,
:func:`stop_started` stops only the servers that this process started.

Derived from the team's ``oh-real-server`` kit. Measured on a 2-core machine: install
of both versions into an empty cache 2.2-2.5 min; start 10 s (v0) / 6 s (v1) when the
machine is idle, 20-30 s / 11-16 s while other servers run; stop < 2 s; 2.8 GB of
disk for both versions.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import glob
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # httpx is only needed by the test-side helpers, never by the CLI
    import httpx

StrPath = str | os.PathLike[str]

HERE = Path(__file__).resolve().parent
LAUNCHERS = HERE / "launchers"
FAKE_LLM = HERE / "fake_llm.py"
CONSTRAINTS = HERE / "constraints"

VERSIONS = {"v0": "1.6.0", "v1": "1.11.0"}
DEFAULT_CACHE_HOME = ".cache/openhands-api-realserver"  # in the account's home directory
# uv itself, when it is not on PATH; the version the kit was validated with
UV_REQUIREMENT = "uv==0.13.9"
MARKER_ENV = "OPENHANDS_API_REALSERVER_WORKDIR"  # set for every process started for a server
STATE_FILE = "realserver.json"  # inside the workdir: pids, ports, owner
LLM_MODEL = "openai/fake"
LLM_API_KEY = "sk-fake"
DEFAULT_START_TIMEOUT = 180.0
# The server allows 10 requests/s per client IP; V1 agent-servers post webhooks from
# the same loopback address, so tests keep well below that.
SERVER_REQUESTS_PER_SECOND = 10
CLIENT_REQUESTS_PER_SECOND = 4
# tmux socket paths must stay under ~100 bytes (sun_path); longer workdirs get a /tmp dir
TMUX_DIR_MAX_LEN = 70


class HarnessError(Exception):
    """The harness could not do what was asked; the message says why and what to do."""


class PrerequisiteMissing(HarnessError):
    """Something the machine lacks (Python 3.12, tmux, git): a reason to skip locally."""


class LeftoverProcessesError(HarnessError):
    """Processes of a server's workdir survived ``stop``."""

    def __init__(self, report: StopReport) -> None:
        self.report = report
        lines = "\n  ".join(report.leftover_processes)
        super().__init__(
            f"{len(report.leftover_processes)} process(es) of {report.workdir} are still "
            f"running after stop:\n  {lines}"
        )


def say(*args: object) -> None:
    print("realserver:", *args, file=sys.stderr, flush=True)


def tail(path: Path, lines: int = 40, window: int = 64 * 1024) -> str:
    """The last lines of a (possibly large) log file, from at most its last ``window`` bytes."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - window))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return f"(no {path})"
    return "\n".join(data.splitlines()[-lines:])


def account_home() -> Path:
    """The user's real home directory, from the password database.

    Not ``$HOME``: test suites point HOME at a temporary directory for isolation
    (ours does, in tests/conftest.py), and the cache and pyenv must still be found.
    """
    return Path(pwd.getpwuid(os.getuid()).pw_dir)


def cache_home(home: StrPath | None = None) -> Path:
    raw = home or os.environ.get("OPENHANDS_API_REALSERVER_HOME")
    if raw:
        return Path(raw).expanduser().resolve()
    return (account_home() / DEFAULT_CACHE_HOME).resolve()


def install_dir(version: str, home: StrPath | None = None) -> Path:
    return cache_home(home) / f"openhands-ai-{VERSIONS[version]}"


# ------------------------------------------------------------------------- HTTP
# urllib, not httpx: the command line must run on a bare python3. No proxies: the
# servers are on loopback and a caller's HTTP_PROXY must not intercept them.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_json(
    method: str, url: str, body: Any = None, key: str | None = None, timeout: float = 30.0
) -> tuple[int, Any]:
    """Tiny JSON HTTP client for the harness itself. Returns (status, JSON or text).

    Retries a 429 from the server's rate limiter a few times.
    """
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if key:
        headers["X-Session-API-Key"] = key
    status, raw = 0, b""
    for attempt in range(6):
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        if status == 429 and attempt < 5:
            time.sleep(1.1)
            continue
        break
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


# A server binds its port only after its imports (5-30 s). A port from the kernel's
# ephemeral range (32768-60999 on Linux) can be taken meanwhile by any connection's local
# end, as happened to a V0 action server in CI (launchers/v0_ports.py); these lie below it,
# apart from the V0 runtimes' 10000-19999 and the V1 agent-servers' 20000 and up.
SERVER_PORTS = (6000, 9999)


def free_port() -> int:
    """A port on 127.0.0.1 that is free now, drawn at random from ``SERVER_PORTS``."""
    candidates = list(range(SERVER_PORTS[0], SERVER_PORTS[1] + 1))
    random.shuffle(candidates)
    for port in candidates[:200]:
        if port_is_free(port):
            return port
    raise HarnessError(f"no free port in {SERVER_PORTS[0]}-{SERVER_PORTS[1]} on 127.0.0.1")


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# ---------------------------------------------------------------------- throttle
class Throttle:
    """Spaces out requests to one server so that a test run stays under its rate limit.

    Each call to :meth:`wait` (or :meth:`await_turn` in async code) reserves the next
    free slot, ``1/rate`` seconds after the previous one, and sleeps until it. Thread
    safe; shared per server through :func:`throttle_for`.
    """

    def __init__(self, rate: float = CLIENT_REQUESTS_PER_SECOND) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
            return slot - now

    def wait(self) -> None:
        delay = self._reserve()
        if delay > 0:
            time.sleep(delay)

    async def await_turn(self) -> None:
        import asyncio  # here: importing it costs the command line ~0.1 s

        delay = self._reserve()
        if delay > 0:
            await asyncio.sleep(delay)


_THROTTLES: dict[str, Throttle] = {}
_THROTTLES_LOCK = threading.Lock()


def throttle_for(base_url: str) -> Throttle:
    """The one throttle that every helper client of this process uses for ``base_url``."""
    with _THROTTLES_LOCK:
        return _THROTTLES.setdefault(base_url, Throttle())


# ----------------------------------------------------------------------- install
def find_python() -> str:
    """A Python 3.12 interpreter for the servers (openhands-ai needs >=3.12,<3.14)."""
    explicit = os.environ.get("OPENHANDS_API_REALSERVER_PYTHON") or os.environ.get("OH_REAL_SERVER_PYTHON")
    candidates = [explicit] if explicit else []
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or account_home() / ".pyenv")
    found = glob.glob(str(pyenv_root / "versions" / "3.12*" / "bin" / "python3"))

    def version_key(p: str) -> list[int]:
        return [int(x) if x.isdigit() else 0 for x in Path(p).parents[1].name.split(".")]

    candidates += sorted(found, key=version_key, reverse=True)  # newest 3.12.x first
    for name in ("python3.12", "python3"):
        if on_path := shutil.which(name):
            candidates.append(on_path)
    tried: list[str] = []
    for candidate in candidates:
        if candidate in tried:
            continue
        tried.append(candidate)
        try:
            r = subprocess.run(
                [candidate, "-c", 'import sys; print("%d.%d" % sys.version_info[:2]); print(sys.executable)'],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode != 0:
            continue
        version, executable = ([*r.stdout.split("\n"), "", ""])[:2]
        # 3.13 is allowed by openhands-ai but untested here: only when asked for explicitly
        if version == "3.12" or (candidate == explicit and version == "3.13"):
            return executable or candidate
    raise PrerequisiteMissing(
        "no Python 3.12 found for the real OpenHands server (looked at: "
        + (", ".join(tried) or "nothing")
        + "). Install Python 3.12 (e.g. `pyenv install 3.12` or the python3.12 package) or "
        "set OPENHANDS_API_REALSERVER_PYTHON=/path/to/python3.12."
    )


def check_tools() -> None:
    """The agents' shells need tmux, and git for their workspaces."""
    missing = [tool for tool in ("tmux", "git") if not shutil.which(tool)]
    if missing:
        raise PrerequisiteMissing(
            f"{' and '.join(missing)} not found on PATH; the real OpenHands server's agents "
            f"need it (e.g. `apt-get install {' '.join(missing)}`)."
        )


def find_uv(home: Path, python: str) -> str:
    if explicit := os.environ.get("OPENHANDS_API_REALSERVER_UV"):
        return explicit
    if on_path := shutil.which("uv"):
        return on_path
    tool = home / "uv-tool"
    uv = tool / "bin" / "uv"
    if uv.exists() and subprocess.run([str(uv), "--version"], capture_output=True).returncode == 0:
        return str(uv)
    say(f"installing {UV_REQUIREMENT} into {tool}")
    shutil.rmtree(tool, ignore_errors=True)
    for cmd in (
        [python, "-m", "venv", str(tool)],
        [
            str(tool / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-cache-dir",
            "--disable-pip-version-check",
            UV_REQUIREMENT,
        ],
    ):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise HarnessError(
                f"could not install uv ({' '.join(cmd)}):\n{r.stdout}{r.stderr}\n"
                "Install uv yourself (pip install uv) or set OPENHANDS_API_REALSERVER_UV."
            )
    return str(uv)


def installed_record(version: str, home: StrPath | None = None) -> dict[str, Any] | None:
    """The install record if the cache holds a complete install of ``version``, else None.

    Cheap on purpose (no subprocess): every ``start`` calls it.
    """
    d = install_dir(version, home)
    try:
        record: dict[str, Any] = json.loads((d / "installed.json").read_text())
    except (OSError, ValueError):
        return None
    want = VERSIONS[version]
    if record.get("openhands_ai") != want:
        return None
    if not (d / "venv" / "bin" / "python").exists():  # also catches a removed base Python
        return None
    dist_info = d / "venv" / "lib" / "python3*" / "site-packages" / f"openhands_ai-{want}.dist-info"
    if not glob.glob(str(dist_info)):
        return None
    return record


def install(version: str, home: StrPath | None = None, use_lock: bool = True) -> Path:
    """Create (or reuse) the venv for ``version``; returns the venv's python."""
    d = install_dir(version, home)
    python_in_venv = d / "venv" / "bin" / "python"
    if installed_record(version, home):
        return python_in_venv
    root = cache_home(home)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".install.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # a concurrent install of the same cache waits
        if installed_record(version, home):
            return python_in_venv
        started = time.monotonic()
        want = VERSIONS[version]
        python = find_python()
        uv = find_uv(root, python)
        venv = d / "venv"
        shutil.rmtree(d, ignore_errors=True)  # a half-finished install is redone from scratch
        d.mkdir(parents=True)
        log_path = d / "install.log"
        env = dict(os.environ)  # proxies and index settings of the caller are needed here
        env.setdefault("UV_CACHE_DIR", str(root / "uv-cache"))
        env["UV_PYTHON_DOWNLOADS"] = "never"  # use the Python 3.12 found above, nothing else
        env["UV_NO_PROGRESS"] = "1"
        env["TMPDIR"] = str(root / "tmp")  # uv's temporary files stay in the cache dir
        (root / "tmp").mkdir(exist_ok=True)
        env.pop("VIRTUAL_ENV", None)  # the test venv must not be mistaken for the target
        constraints = CONSTRAINTS / f"openhands-ai-{want}.txt"
        cmds = [
            [uv, "venv", "--python", python, str(venv)],
            [
                uv,
                "pip",
                "install",
                "--python",
                str(python_in_venv),
                "--compile-bytecode",
                f"openhands-ai=={want}",
            ],
        ]
        # Without the release's lock, resolution picks newer dependencies that upstream
        # never tested (and plain pip backtracks for minutes on boto3).
        if use_lock:
            cmds[1] += ["--constraint", str(constraints)]
        say(f"installing openhands-ai=={want} ({version}) into {venv} with {python}")
        with open(log_path, "w") as log_file:
            for cmd in cmds:
                log_file.write("$ " + " ".join(cmd) + "\n")
                log_file.flush()
                step = subprocess.run(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env)
                if step.returncode != 0:
                    raise HarnessError(
                        f"install failed ({' '.join(cmd[:3])} ...), log {log_path}:\n" + tail(log_path, 30)
                    )
        check = subprocess.run(
            [
                str(python_in_venv),
                "-c",
                'import importlib.metadata as m, openhands; print(m.version("openhands-ai"))',
            ],
            capture_output=True,
            text=True,
        )
        if check.returncode != 0 or check.stdout.strip() != want:
            raise HarnessError(
                f"installed venv does not import openhands {want}: {check.stdout}{check.stderr}"
            )
        seconds = round(time.monotonic() - started, 1)
        record = {
            "openhands_ai": want,
            "version": version,
            "python": python,
            "uv": uv,
            "constraints": str(constraints) if use_lock else None,
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": seconds,
        }
        (d / "installed.json").write_text(json.dumps(record, indent=1) + "\n")
        say(f"installed openhands-ai=={want} in {seconds} s")
        return python_in_venv


# --------------------------------------------------------------------- processes
def _read_state(workdir: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads((workdir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return state


def _write_state(workdir: Path, state: dict[str, Any]) -> None:
    tmp = workdir / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=1) + "\n")
    os.replace(tmp, workdir / STATE_FILE)


def _proc_stat(pid: int | str) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state, ppid, pgrp, ...)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def pid_alive(pid: int | None) -> bool:
    """True for a live process; a zombie (dead, not yet reaped) counts as gone."""
    if not pid:
        return False
    fields = _proc_stat(pid)
    return fields is not None and fields[0] != "Z"


def _own_lineage() -> set[int]:
    """This process and its ancestors: never "leftovers", whatever their command line says."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        fields = _proc_stat(pid)
        if fields is None:
            break
        pid = int(fields[1])
    return pids


def _scan_processes() -> Iterator[tuple[int, str, str | None, str]]:
    """Yield (pid, state, marker value or None, command line) for every readable process."""
    prefix = (MARKER_ENV + "=").encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        fields = _proc_stat(pid)
        if fields is None:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue  # gone meanwhile, or another user's process
        values = [kv[len(prefix) :] for kv in environ if kv.startswith(prefix)]
        marker = values[0].decode("utf-8", "replace") if values else None
        yield pid, fields[0], marker, cmdline


def workdir_processes(workdir: StrPath) -> list[tuple[int, str]]:
    """Live processes that belong to ``workdir``: (pid, command line).

    A process belongs to it if it carries the marker variable with that value, or
    names a path inside the workdir on its command line (a belt to the marker's
    braces, for a process started with a cleaned environment).
    """
    w = str(Path(workdir).resolve())
    mine = _own_lineage()
    return [
        (pid, cmdline)
        for pid, state, marker, cmdline in _scan_processes()
        if state != "Z" and pid not in mine and (marker == w or (w + "/") in cmdline)
    ]


def _has_marker(pid: int, workdir: Path) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read().split(b"\0")
    except OSError:
        return False
    return f"{MARKER_ENV}={workdir}".encode() in environ


def _harness_workdirs() -> list[str]:
    """Workdirs of every server of this harness that still has a live process."""
    mine = _own_lineage()
    return sorted(
        {marker for pid, state, marker, _ in _scan_processes() if marker and state != "Z" and pid not in mine}
    )


def _signal_group(pgid: int | None, sig: signal.Signals) -> None:
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def _signal(pids: set[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _group_alive(pgid: int | None) -> bool:
    if not pgid:
        return False
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _proc_stat(entry)
            if fields is not None and fields[0] != "Z" and int(fields[2]) == pgid:
                return True
    return False


def _wait_gone(pids: set[int], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.1)


@dataclass
class StopReport:
    workdir: str
    processes_signalled: int
    leftover_processes: list[str]
    seconds: float
    removed: bool


def stop_workdir(workdir: StrPath, *, remove: bool = False, check: bool = True) -> StopReport:
    """Stop everything that belongs to ``workdir``, then verify that nothing is left.

    Order matters: the server's children first (a V1 agent-server hangs in its own
    shutdown when the app server is already gone), then the server's and the fake
    LLM's process groups, then tmux servers (daemons outside every group), then
    SIGKILL for whatever is left. Raises :class:`LeftoverProcessesError` if processes
    survive and ``check`` is true. ``remove`` deletes the workdir when nothing is
    left. Safe to call twice.
    """
    started = time.monotonic()
    w = Path(workdir).resolve()
    state = _read_state(w)
    # Each of these leads its own process group. Signalled as a group only while the
    # leader still carries our marker: after a reboot or a long time, a pid from an
    # old state file may belong to a stranger.
    leaders = (state.get("server_pid"), state.get("fake_llm_pid"))
    groups = {int(g) for g in leaders if g and _has_marker(int(g), w)}
    live_groups = {g for g in groups if _group_alive(g)}  # only for the report

    # 1. children: Jupyter, action servers, agent-servers, shells
    children = {pid for pid, _ in workdir_processes(w)} - groups
    _signal(children, signal.SIGTERM)
    _wait_gone(children, 2)
    _signal({p for p in children if pid_alive(p)}, signal.SIGKILL)

    # 2. the server and the fake LLM (each leads its own process group), and the rest
    for g in groups:
        _signal_group(g, signal.SIGTERM)
    rest = {pid for pid, _ in workdir_processes(w)}
    _signal(rest, signal.SIGTERM)
    t2, sent_sigint = time.monotonic(), False
    while time.monotonic() < t2 + 3:
        if not any(_group_alive(g) for g in groups) and not workdir_processes(w):
            break
        if not sent_sigint and time.monotonic() > t2 + 1:
            # uvicorn waits for background tasks after SIGTERM (V1: title polling,
            # ~10 s); a second signal makes it skip them
            sent_sigint = True
            for g in groups:
                _signal_group(g, signal.SIGINT)
        time.sleep(0.1)

    # 3. tmux servers daemonize (own session): ask them to quit through their sockets
    tmux_dirs = {str(w / "tmux")} | ({state["tmux_dir"]} if state.get("tmux_dir") else set())
    for tmux_dir in tmux_dirs:
        for sock in glob.glob(os.path.join(tmux_dir, "tmux-*", "*")):
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True, timeout=10)

    # 4. whatever ignored the polite signals
    for g in groups:
        _signal_group(g, signal.SIGKILL)
    left = workdir_processes(w)
    _signal({pid for pid, _ in left}, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = workdir_processes(w)

    # 5. reap our own children (server, fake LLM) so that they do not linger as zombies
    for proc in _POPENS.pop(str(w), []):
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    _STARTED.pop(str(w), None)

    signalled = len(children | rest | live_groups | {pid for pid, _ in left})
    for tmux_dir in tmux_dirs:
        if not tmux_dir.startswith(str(w) + "/"):
            shutil.rmtree(tmux_dir, ignore_errors=True)
    if state and w.exists():
        state["stopped"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with contextlib.suppress(OSError):
            _write_state(w, state)
    removed = False
    if remove and not left:
        shutil.rmtree(w, ignore_errors=True)
        removed = True
    report = StopReport(
        workdir=str(w),
        processes_signalled=signalled,
        leftover_processes=[f"{pid} {cmdline[:160]}" for pid, cmdline in left],
        seconds=round(time.monotonic() - started, 1),
        removed=removed,
    )
    if check and left:
        raise LeftoverProcessesError(report)
    return report


# ----------------------------------------------------------------------- servers
@dataclass
class RealServer:
    """A running real OpenHands server, as returned by :func:`start`."""

    version: str  # "v0" or "v1"
    openhands_ai: str  # "1.6.0" or "1.11.0"
    base_url: str  # http://127.0.0.1:PORT
    port: int
    session_api_key: str | None  # None: the server has no auth at all
    workdir: Path
    server_log: Path
    fake_llm_url: str
    fake_llm_log: Path  # one JSON line per LLM request
    pid: int
    startup_s: float
    throttle: Throttle = field(repr=False, compare=False, default_factory=Throttle)

    @property
    def headers(self) -> dict[str, str]:
        """The auth header for /api routes (empty when the server has no key)."""
        return {"X-Session-API-Key": self.session_api_key} if self.session_api_key else {}

    def client(self, *, with_key: bool = True, timeout: float = 30.0, **kwargs: Any) -> httpx.Client:
        """An httpx client for this server: base URL, key header, shared throttle, no proxies."""
        import httpx  # here, not at the top: the command line runs without httpx

        throttle = self.throttle
        return httpx.Client(
            base_url=self.base_url,
            headers=self.headers if with_key else {},
            timeout=timeout,
            trust_env=False,
            event_hooks={"request": [lambda _request: throttle.wait()]},
            **kwargs,
        )

    def async_client(
        self, *, with_key: bool = True, timeout: float = 30.0, **kwargs: Any
    ) -> httpx.AsyncClient:
        """Like :meth:`client`, for async tests."""
        import httpx

        throttle = self.throttle

        async def hook(_request: httpx.Request) -> None:
            await throttle.await_turn()

        return httpx.AsyncClient(
            base_url=self.base_url,
            headers=self.headers if with_key else {},
            timeout=timeout,
            trust_env=False,
            event_hooks={"request": [hook]},
            **kwargs,
        )

    def processes(self) -> list[tuple[int, str]]:
        """Live processes of this server's workdir (server, fake LLM, children)."""
        return workdir_processes(self.workdir)

    def fake_llm_requests(self) -> list[dict[str, Any]]:
        """What the fake LLM was asked so far (mode, chosen action, knobs per request)."""
        try:
            lines = self.fake_llm_log.read_text().splitlines()
        except OSError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.server_log, lines)

    def stop(self, *, remove: bool = False, check: bool = True) -> StopReport:
        return stop_workdir(self.workdir, remove=remove, check=check)


# Servers started by this process, for the safety net: workdir -> server / Popen handles
_STARTED: dict[str, RealServer] = {}
_POPENS: dict[str, list[subprocess.Popen[bytes]]] = {}


def base_env(workdir: Path, tmux_dir: str) -> dict[str, str]:
    """A clean environment: nothing of the caller's OpenHands/LLM/proxy settings leaks in,
    and HOME, TMPDIR and the XDG dirs point into the workdir so nothing is written outside."""
    keep = (
        "PATH",
        "LANG",
        "LANGUAGE",
        "TERM",
        "TZ",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    )
    env = {k: v for k, v in os.environ.items() if k in keep or k.startswith("LC_")}
    # USER must be the real user: V0 otherwise tries `useradd` and edits /etc/sudoers
    user = pwd.getpwuid(os.getuid()).pw_name
    home = workdir / "home"
    env.update(
        {
            MARKER_ENV: str(workdir),
            "HOME": str(home),
            "USER": user,
            "LOGNAME": user,
            "TMPDIR": str(workdir / "tmp"),
            "TMUX_TMPDIR": tmux_dir,
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            # no __pycache__ next to the launchers (they live in the source tree)
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            # litellm would otherwise download its model price list at import time
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "OPENHANDS_SUPPRESS_BANNER": "1",
        }
    )
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    return env


def server_env(
    version: str,
    workdir: Path,
    tmux_dir: str,
    port: int,
    key: str | None,
    webhook_flush_delay: float | None,
) -> dict[str, str]:
    env = base_env(workdir, tmux_dir)
    store = str(workdir / "store")
    if version == "v0":
        env.update(
            {
                "RUNTIME": "local",  # LocalRuntime: the action server is a local process, no Docker
                "SU_TO_USER": "false",  # else bash runs `su USER -` (writes ~/.gitconfig)
                "DISABLE_VSCODE_PLUGIN": "true",  # else plugin init needs sudo and times out
                "ENABLE_BROWSER": "false",
                "AGENT_ENABLE_BROWSING": "false",  # no Chromium
                "SERVE_FRONTEND": "false",  # the wheel has no frontend build
                "FILE_STORE": "local",
                "FILE_STORE_PATH": store,
                "OH_PERSISTENCE_DIR": store,
                "CACHE_DIR": str(workdir / "cache"),  # upstream default: /tmp/cache
                "LOCAL_WORKSPACE_BASE": str(workdir / "workspace"),
                "PYTHONPATH": str(LAUNCHERS),  # action servers import oh_action_server_v0
                # an LLM error ends the run at once (upstream: 5 retries with 8-64 s waits)
                "LLM_NUM_RETRIES": "0",
                # the agent's MCP client connects to the server's own /mcp (default localhost:3000)
                "MCP_HOST": f"127.0.0.1:{port}",
                # 1.6.0 also hosts the V1 app server: keep its process sandboxes in the workdir
                # (upstream default: a hard-coded /tmp/openhands-sandboxes)
                "OH_SANDBOX_KIND": "ProcessSandboxServiceInjector",
                "OH_SANDBOX_BASE_WORKING_DIR": str(workdir / "sandboxes"),
            }
        )
    else:
        agent_server_env = {
            "TMUX_TMPDIR": tmux_dir,  # upstream default: /tmp/openhands-tmux
            # agent-servers post events and state back to the app server here
            "OH_WEBHOOKS_0_BASE_URL": f"http://127.0.0.1:{port}/api/v1/webhooks",
        }
        if webhook_flush_delay:
            # events go out in batches of 5; a partial batch after this many seconds of
            # quiet (upstream: 30 s, so the app server's event list lags by up to 30 s)
            agent_server_env["OH_WEBHOOKS_0_FLUSH_DELAY"] = str(webhook_flush_delay)
        env.update(
            {
                "RUNTIME": "process",  # ProcessSandboxService: agent-servers as local processes
                "OH_PERSISTENCE_DIR": store,
                "FILE_STORE_PATH": store,
                "PYTHONPATH": str(LAUNCHERS),  # agent-servers import oh_as_loopback
                "OPENHANDS_API_REALSERVER_SANDBOX_DIR": str(workdir / "sandboxes"),
                # a random base per server: two servers must not hand out the same ports
                "OPENHANDS_API_REALSERVER_SANDBOX_BASE_PORT": str(random.randrange(20000, 29000, 10)),
                "OH_AGENT_SERVER_ENV": json.dumps(agent_server_env),
            }
        )
    if key:
        env["SESSION_API_KEY"] = key
    return env


def settings_request(version: str, llm_url: str) -> tuple[str, dict[str, Any]]:
    """The route and body that point the server's LLM at the fake LLM."""
    if version == "v0":
        return "/api/settings", {
            "llm_model": LLM_MODEL,
            "llm_base_url": llm_url,
            "llm_api_key": LLM_API_KEY,
            "agent": "CodeActAgent",
        }
    llm = {"model": LLM_MODEL, "base_url": llm_url, "api_key": LLM_API_KEY, "num_retries": 0}
    return "/api/v1/settings", {"agent_settings_diff": {"llm": llm}}


def start(
    version: str,
    *,
    session_api_key: str | None = None,
    port: int = 0,
    workdir: StrPath | None = None,
    llm_steps: int = 0,
    llm_error: int | None = None,
    llm_ask: bool = False,
    llm_delay: float = 0.0,
    webhook_flush_delay: float | None = None,
    timeout: float = DEFAULT_START_TIMEOUT,
    home: StrPath | None = None,
) -> RealServer:
    """Install if needed, start the fake LLM and the server, store the LLM settings.

    ``llm_*`` set the fake LLM's server-wide behaviour (directives in messages win).
    ``webhook_flush_delay`` (v1 only): see ``server_env``; tests want 1. On failure
    everything started is stopped and :class:`HarnessError` carries the log's tail
    (the workdir is kept for inspection).
    """
    if version not in VERSIONS:
        raise HarnessError(f"unknown version {version!r}; use one of {sorted(VERSIONS)}")
    t0 = time.monotonic()
    check_tools()
    python = install(version, home)
    if port and not port_is_free(port):
        raise HarnessError(f"port {port} on 127.0.0.1 is in use")
    port = port or free_port()
    if workdir:
        w = Path(workdir).expanduser().resolve()
        old = _read_state(w)
        if pid_alive(old.get("server_pid")) and not old.get("stopped"):
            raise HarnessError(f"a server from {w} is still running (pid {old['server_pid']}); stop it first")
        w.mkdir(parents=True, exist_ok=True)
    else:
        w = Path(tempfile.mkdtemp(prefix=f"openhands-api-real-{version}-")).resolve()
    for sub in ("home", "tmp", "cwd", "store", "cache", "workspace", "sandboxes"):
        (w / sub).mkdir(exist_ok=True)
    tmux_dir = str(w / "tmux")
    if len(tmux_dir) > TMUX_DIR_MAX_LEN:
        tmux_dir = tempfile.mkdtemp(prefix="openhands-api-tmux-", dir="/tmp")
    else:
        os.makedirs(tmux_dir, exist_ok=True)
    base_url = f"http://127.0.0.1:{port}"
    state: dict[str, Any] = {
        "version": version,
        "openhands_ai": VERSIONS[version],
        "workdir": str(w),
        "port": port,
        "base_url": base_url,
        "tmux_dir": tmux_dir,
        "python": str(python),
        "owner_pid": os.getpid(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write_state(w, state)
    port_file = w / "fake_llm.port"
    port_file.unlink(missing_ok=True)
    popens = _POPENS.setdefault(str(w), [])
    try:
        llm_cmd = [
            sys.executable,
            str(FAKE_LLM),
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--log",
            str(w / "fake_llm.jsonl"),
        ]
        if llm_steps:
            llm_cmd += ["--steps", str(llm_steps)]
        if llm_delay:
            llm_cmd += ["--delay", str(llm_delay)]
        if llm_error:
            llm_cmd += ["--error", str(llm_error)]
        if llm_ask:
            llm_cmd += ["--ask"]
        llm_env = base_env(w, tmux_dir)
        # the caller's FAKE_LLM_* settings (e.g. FAKE_LLM_LOG_BODIES=1) are meant for it
        llm_env.update({k: v for k, v in os.environ.items() if k.startswith("FAKE_LLM_")})
        with open(w / "fake_llm.log", "ab") as log_file:
            llm = subprocess.Popen(
                llm_cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                env=llm_env,
                cwd=str(w),
                start_new_session=True,
            )
        popens.append(llm)
        state["fake_llm_pid"] = llm.pid
        _write_state(w, state)
        deadline = time.monotonic() + 15
        while not port_file.exists():
            if llm.poll() is not None or time.monotonic() > deadline:
                raise HarnessError("the fake LLM did not start:\n" + tail(w / "fake_llm.log"))
            time.sleep(0.05)
        llm_url = f"http://127.0.0.1:{port_file.read_text().strip()}/v1"

        launcher = "run_server_v0.py" if version == "v0" else "run_app_server_v1.py"
        cmd = [str(python), str(LAUNCHERS / launcher), "--host", "127.0.0.1", "--port", str(port)]
        env = server_env(version, w, tmux_dir, port, session_api_key, webhook_flush_delay)
        log_path = w / "server.log"
        with open(log_path, "ab") as log_file:
            # own session/process group: stop() can signal the server and everything in
            # its group at once, and a Ctrl-C in the test terminal does not reach it
            srv = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                env=env,
                cwd=str(w / "cwd"),
                start_new_session=True,
            )
        popens.append(srv)
        state["server_pid"] = srv.pid
        _write_state(w, state)
        deadline = time.monotonic() + timeout
        while True:
            if srv.poll() is not None:
                raise HarnessError(
                    f"the {version} server exited with status {srv.returncode} "
                    f"before /alive answered; tail of {log_path}:\n" + tail(log_path)
                )
            with contextlib.suppress(OSError, ValueError):  # not listening yet
                if http_json("GET", base_url + "/alive", timeout=2)[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"the {version} server did not answer /alive within "
                    f"{timeout:.0f} s; tail of {log_path}:\n" + tail(log_path)
                )
            time.sleep(0.25)
        path, body = settings_request(version, llm_url)
        status, answer = http_json("POST", base_url + path, body, key=session_api_key)
        if status != 200:
            raise HarnessError(f"POST {path} -> {status} {answer}; tail of {log_path}:\n" + tail(log_path))
    except BaseException:
        stop_workdir(w, check=False)
        raise
    server = RealServer(
        version=version,
        openhands_ai=VERSIONS[version],
        base_url=base_url,
        port=port,
        session_api_key=session_api_key,
        workdir=w,
        server_log=log_path,
        fake_llm_url=llm_url,
        fake_llm_log=w / "fake_llm.jsonl",
        pid=srv.pid,
        startup_s=round(time.monotonic() - t0, 1),
        throttle=throttle_for(base_url),
    )
    _STARTED[str(w)] = server
    _stop_servers_on_sigterm()
    return server


def stop_started() -> list[StopReport]:
    """Safety net: stop every server that this process started and has not stopped yet.

    Leftovers are reported (in the returned reports), not raised: this runs at the
    end of a session or at exit, after the fixtures' own checks.
    """
    return [stop_workdir(w, check=False) for w in list(_STARTED)]


def stop_all(*, remove: bool = False) -> list[StopReport]:
    """Stop every server of this harness on the machine (CI's final clean-up)."""
    return [stop_workdir(w, remove=remove, check=False) for w in _harness_workdirs()]


def _stop_started_at_exit() -> None:
    for report in stop_started():
        if report.leftover_processes:
            say(f"at exit: {len(report.leftover_processes)} process(es) of {report.workdir} survived stop")


atexit.register(_stop_started_at_exit)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _stop_servers_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl-C, so that fixtures and atexit stop the servers.

    By default SIGTERM kills the process at once, and the servers (in sessions of
    their own) would outlive it. KeyboardInterrupt, not SystemExit: pytest reports a
    SystemExit as one failed test and carries on, but ends the session on Ctrl-C
    after tearing the fixtures down. Only replaces the default handler.
    """
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, _interrupt)


# -------------------------------------------------------------------- command line
def _cmd_install(a: argparse.Namespace) -> int:
    for version in ["v0", "v1"] if a.version == "all" else [a.version]:
        t0 = time.monotonic()
        python = install(version, a.dir, use_lock=not a.no_lock)
        say(f"{version}: {python.parent.parent} ready ({time.monotonic() - t0:.1f} s)")
        print(python.parent.parent)
    try:
        check_tools()
    except PrerequisiteMissing as e:  # only a warning: installing does not need them
        say(f"warning: {e}")
    return 0


def _cmd_start(a: argparse.Namespace) -> int:
    server = start(
        a.version,
        session_api_key=a.session_api_key,
        port=a.port,
        workdir=a.workdir,
        llm_steps=a.llm_steps,
        llm_error=a.llm_error,
        llm_ask=a.llm_ask,
        llm_delay=a.llm_delay,
        webhook_flush_delay=a.webhook_flush_delay,
        timeout=a.timeout,
        home=a.dir,
    )
    # a server started from the command line outlives this process on purpose
    _STARTED.pop(str(server.workdir), None)
    _POPENS.pop(str(server.workdir), None)
    say(
        f"{server.version} (openhands-ai {server.openhands_ai}) up at {server.base_url} after "
        f"{server.startup_s} s; workdir {server.workdir}; stop it with: "
        f"{sys.argv[0]} stop --workdir {server.workdir}"
    )
    info = {k: str(v) if isinstance(v, Path) else v for k, v in vars(server).items() if k != "throttle"}
    print(json.dumps(info), flush=True)
    return 0


def _cmd_stop(a: argparse.Namespace) -> int:
    if a.all:
        workdirs = _harness_workdirs()
    elif a.workdir:
        workdirs = [str(Path(a.workdir).expanduser().resolve())]
    else:
        raise HarnessError("stop needs --workdir DIR or --all")
    rc = 0
    for w in workdirs:
        report = stop_workdir(w, remove=a.rm, check=False)
        say(
            f"stopped {w}: {report.processes_signalled} processes signalled, "
            f"{len(report.leftover_processes)} left ({report.seconds} s)"
        )
        for line in report.leftover_processes:
            say("  still running: " + line)
        print(json.dumps(vars(report)))
        rc |= 1 if report.leftover_processes else 0
    if not workdirs:
        say("no server of this harness is running")
    return rc


def _cmd_list(a: argparse.Namespace) -> int:
    for w in _harness_workdirs():
        state = _read_state(Path(w))
        print(
            json.dumps(
                {
                    "workdir": w,
                    "version": state.get("version"),
                    "base_url": state.get("base_url"),
                    "pid": state.get("server_pid"),
                    "running": pid_alive(state.get("server_pid")),
                    "owner_pid": state.get("owner_pid"),
                    "processes": len(workdir_processes(w)),
                }
            )
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="harness.py",
        description=(__doc__ or "").split("\n")[0],
        epilog="See the module docstring and ../README.md.",
    )
    sub = p.add_subparsers(dest="cmd", required=True)

    sp = sub.add_parser("install", help="create or reuse the venv of v0, v1 or both")
    sp.add_argument("version", choices=("v0", "v1", "all"))
    sp.add_argument(
        "--dir",
        help="cache dir (default $OPENHANDS_API_REALSERVER_HOME or ~/.cache/openhands-api-realserver)",
    )
    sp.add_argument(
        "--no-lock",
        action="store_true",
        help="let uv pick the newest compatible dependencies (new installs only)",
    )
    sp.set_defaults(fn=_cmd_install)

    sp = sub.add_parser("start", help="start a server and leave it running; prints one JSON line")
    sp.add_argument("version", choices=tuple(VERSIONS))
    sp.add_argument("--dir", help="cache dir")
    sp.add_argument("--port", type=int, default=0, help="default: a free port")
    sp.add_argument("--workdir", help="default: a new temporary directory")
    sp.add_argument("--session-api-key", help="require X-Session-API-Key on /api routes")
    sp.add_argument("--llm-steps", type=int, default=0, help="think N times before finishing")
    sp.add_argument(
        "--llm-error",
        nargs="?",
        type=int,
        const=500,
        default=None,
        metavar="STATUS",
        help="answer agent steps with this HTTP error",
    )
    sp.add_argument(
        "--llm-ask", action="store_true", help="end each turn with a plain text message instead of finish"
    )
    sp.add_argument("--llm-delay", type=float, default=0.0, help="seconds before each agent step")
    sp.add_argument(
        "--webhook-flush-delay",
        type=float,
        default=None,
        metavar="SEC",
        help="v1: deliver partial event batches after SEC s (upstream 30)",
    )
    sp.add_argument("--timeout", type=float, default=DEFAULT_START_TIMEOUT)
    sp.set_defaults(fn=_cmd_start)

    sp = sub.add_parser("stop", help="stop a server and everything it started")
    sp.add_argument("--workdir")
    sp.add_argument("--all", action="store_true", help="every server of this harness")
    sp.add_argument("--rm", action="store_true", help="then delete the workdir")
    sp.set_defaults(fn=_cmd_stop)

    sp = sub.add_parser("list", help="servers of this harness that still have processes")
    sp.set_defaults(fn=_cmd_list)

    a = p.parse_args(argv)
    try:
        return int(a.fn(a))
    except HarnessError as e:
        say(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
