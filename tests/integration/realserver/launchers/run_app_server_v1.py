"""Launch the real OpenHands V1 app server (openhands-ai 1.11.0) without Docker.

Runs inside the server's own Python 3.12 venv, never inside the test process.

With ``RUNTIME=process`` the app server runs each sandbox as a local
``python -m openhands.agent_server`` process (ProcessSandboxService). Out of the
box that does not work on a plain Linux host; this launcher applies six patches
to the imported modules, then runs uvicorn:

1. ``is_running_in_docker()`` -> False. Containers that have /.dockerenv (CI
   images, dev containers) make the server rewrite every ``http://localhost:PORT``
   of a process sandbox to ``host.docker.internal``, which does not resolve; the
   start task then fails after 30 s with "Agent Server Failed to start properly".
2. ``ProcessSandboxService._get_process_status`` maps only psutil "running" to
   RUNNING; an idle agent-server is "sleeping", reported as STARTING, so the start
   task would wait for the sandbox forever. Patched: running / sleeping /
   disk-sleep / idle -> RUNNING, stopped -> PAUSED, zombie or gone -> MISSING.
3. The app server hard-codes ``enable_browser=True`` for the agent's tools; the
   agent-server then refuses to start a conversation without Chromium (HTTP 500
   "Chromium is required for browser operations"). Patched to False.
4. The sandbox config: the agent-server module becomes ``oh_as_loopback`` (binds
   127.0.0.1 instead of 0.0.0.0), sandboxes live in
   ``$OPENHANDS_API_REALSERVER_SANDBOX_DIR`` (upstream: /tmp/openhands-sandboxes),
   and agent-server ports are searched from
   ``$OPENHANDS_API_REALSERVER_SANDBOX_BASE_PORT`` (upstream: always 8000, which
   collides between servers).
5. Upstream ``ProcessSandboxService._find_unused_port`` only checks that a port
   can be bound right now; the agent-server binds it a second or more later, so
   conversations created in quick succession all got the same port: one
   agent-server wins, the others exit, and their conversations fail with 401s from
   the winner. Patched: a port handed out is not handed out again until its
   sandbox is deleted.
6. An agent-server must answer ``/alive`` within 30 s of being started, or the
   start task fails with "Agent Server Failed to start properly". Its start-up is
   CPU-bound (imports): ~5 s on an idle 2-core machine, but over 30 s while other
   servers and agent-servers start (seen in this project's test runs). Patched to
   120 s; a healthy start is not slowed down.

These patch private names of 1.11.0: keep that version pinned, and re-check this
file when upgrading.

Usage: python run_app_server_v1.py --port PORT [--host 127.0.0.1]
(this directory must be on PYTHONPATH so that agent-servers can import
oh_as_loopback).
"""

import argparse
import os
import socket

# --- 1. not "in Docker": patched before anything imports the function by name ---
import openhands.app_server.utils.environment as _environment

_environment.is_running_in_docker = lambda: False
import openhands.app_server.utils.docker_utils as _docker_utils  # noqa: E402

_docker_utils.is_running_in_docker = lambda: False

# --- 2. process status of an idle agent-server -----------------------------------
import psutil  # noqa: E402
from openhands.app_server.sandbox import process_sandbox_service as _pss  # noqa: E402
from openhands.app_server.sandbox.sandbox_models import SandboxStatus  # noqa: E402

_ALIVE = {
    psutil.STATUS_RUNNING,
    psutil.STATUS_SLEEPING,
    psutil.STATUS_DISK_SLEEP,
    getattr(psutil, "STATUS_IDLE", "idle"),
}


def _get_process_status(self, process_info):
    try:
        proc = psutil.Process(process_info.pid)
        if not proc.is_running():
            return SandboxStatus.MISSING
        status = proc.status()
        if status == psutil.STATUS_STOPPED:
            return SandboxStatus.PAUSED
        if status in _ALIVE:
            return SandboxStatus.RUNNING
        if status == psutil.STATUS_ZOMBIE:
            return SandboxStatus.MISSING
        return SandboxStatus.STARTING
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return SandboxStatus.MISSING


_pss.ProcessSandboxService._get_process_status = _get_process_status

# --- 3. no browser tool ------------------------------------------------------------
from openhands.app_server.app_conversation import (  # noqa: E402
    live_status_app_conversation_service as _live_status,
)

_orig_get_default_tools = _live_status.get_default_tools
_orig_register_builtins_agents = _live_status.register_builtins_agents


def _get_default_tools(*args, enable_browser=True, **kwargs):
    return _orig_get_default_tools(*args, enable_browser=False, **kwargs)


def _register_builtins_agents(*args, enable_browser=True, **kwargs):
    return _orig_register_builtins_agents(*args, enable_browser=False, **kwargs)


_live_status.get_default_tools = _get_default_tools
_live_status.register_builtins_agents = _register_builtins_agents

# --- 4. sandbox config -------------------------------------------------------------
from openhands.app_server import config as _config  # noqa: E402

_sandbox = _config.get_global_config().sandbox
if not isinstance(_sandbox, _pss.ProcessSandboxServiceInjector):
    raise SystemExit(f"expected the process sandbox (RUNTIME=process), got {type(_sandbox)}")
_sandbox.agent_server_module = "oh_as_loopback"
if os.environ.get("OPENHANDS_API_REALSERVER_SANDBOX_DIR"):
    _sandbox.base_working_dir = os.environ["OPENHANDS_API_REALSERVER_SANDBOX_DIR"]
if os.environ.get("OPENHANDS_API_REALSERVER_SANDBOX_BASE_PORT"):
    _sandbox.base_port = int(os.environ["OPENHANDS_API_REALSERVER_SANDBOX_BASE_PORT"])

# --- 5. race-free agent-server ports -----------------------------------------------
_ports_in_use: set[int] = set()


def _find_unused_port(self):
    port = self.base_port
    while port < self.base_port + 10000:
        if port not in _ports_in_use:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("", port))
                except OSError:
                    port += 1
                    continue
            _ports_in_use.add(port)
            return port
        port += 1
    raise _pss.SandboxError("No available ports found")


_orig_delete_sandbox = _pss.ProcessSandboxService.delete_sandbox


async def _delete_sandbox(self, sandbox_id):
    info = _pss._processes.get(sandbox_id)
    try:
        return await _orig_delete_sandbox(self, sandbox_id)
    finally:
        if info is not None and sandbox_id not in _pss._processes:
            _ports_in_use.discard(info.port)


_pss.ProcessSandboxService._find_unused_port = _find_unused_port
_pss.ProcessSandboxService.delete_sandbox = _delete_sandbox

# --- 6. patience with a slow agent-server start ------------------------------------
AGENT_SERVER_START_TIMEOUT = 120
_orig_wait_for_server_ready = _pss.ProcessSandboxService._wait_for_server_ready


async def _wait_for_server_ready(self, port, timeout=30):
    return await _orig_wait_for_server_ready(self, port, timeout=max(timeout, AGENT_SERVER_START_TIMEOUT))


_pss.ProcessSandboxService._wait_for_server_ready = _wait_for_server_ready


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn  # imported late: only after the patches above are in place

    uvicorn.run("openhands.app_server.app:app", host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
