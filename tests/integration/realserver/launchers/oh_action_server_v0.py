"""Run the V0 action server with four local fixes, then the real module.

Started by LocalRuntime (one per V0 conversation) when the server was launched by
``run_server_v0.py``. The differences from upstream's
``openhands.runtime.action_execution_server``:

* It writes the URL of its file viewer to the hard-coded ``/tmp/oh-server-url``,
  which would leak a file out of the server's private working directory (and
  collide between servers); here that one path goes to $TMPDIR.
* When a conversation is stopped or deleted, LocalRuntime terminates the action
  server, but the Jupyter kernel gateway and kernel it started keep running
  (reparented to init): ~0.4 GB per closed V0 conversation until the whole server
  stops, which adds up on a server shared by a test session. Here the action
  server ends its own descendants when it exits.
* Now and then the Jupyter plugin's start hangs: the kernel gateway has started the
  kernel (its IPython session is in the history database), but the plugin gets no
  answer. It ended 2 of the 7 CI runs of this suite so far (2-core machine, ~17 V0
  runtime starts per run); 155 starts of the plugin alone on the same machine never
  hung. Upstream then waits out ``INIT_PLUGIN_TIMEOUT`` (120 s) and the action server
  exits; LocalRuntime's own 120 s wait has expired by then, and the conversation
  stays STARTING for good, so a test that needs it fails whatever the code under
  test does. Here a Jupyter start that takes over ``JUPYTER_START_TIMEOUT_S`` is
  abandoned (gateway and kernel ended) and made once more, and what the abandoned
  one had reached goes to the server log. A normal start takes 4-15 s. Through the
  REST API this shows only as a slower start.
* The Jupyter plugin draws the kernel gateway's port from 40000-49999, inside the
  kernel's ephemeral range, and the gateway binds it seconds later; here it is
  drawn from ``v0_ports.JUPYTER_GATEWAY``, below that range (``v0_ports.py`` says
  why).
"""

from __future__ import annotations

import asyncio
import atexit
import builtins
import contextlib
import os
import runpy
import signal
import tempfile
from typing import Any

import openhands.runtime.file_viewer_server as _file_viewer_server
import openhands.runtime.plugins.jupyter as _jupyter
import psutil
import v0_ports
from openhands.core.logger import openhands_logger as logger
from openhands.runtime.plugins.jupyter import JupyterPlugin

_HARD_CODED = "/tmp/oh-server-url"

# 2 x 40 s, after the ~25 s the action server takes to import on a busy machine, still
# ends inside LocalRuntime's 120 s wait for the action server.
JUPYTER_START_TIMEOUT_S = float(os.environ.get("OH_TEST_JUPYTER_START_TIMEOUT_S", "40"))
JUPYTER_START_ATTEMPTS = 2

_upstream_jupyter_initialize = JupyterPlugin.initialize
_upstream_find_available_tcp_port = _jupyter.find_available_tcp_port


def _gateway_port(min_port: int = 0, max_port: int = 0, max_attempts: int = 10) -> int:
    """The plugin's only call asks for 40000-49999; the range asked for is replaced."""
    return _upstream_find_available_tcp_port(*v0_ports.JUPYTER_GATEWAY, max_attempts)


def _open(file, *args, **kwargs):
    if file == _HARD_CODED:
        file = os.path.join(tempfile.gettempdir(), "oh-server-url")
    return builtins.open(file, *args, **kwargs)


def _end_process_tree(root: psutil.Process, *, include_root: bool) -> None:
    """Terminate ``root``'s descendants (and ``root``), then kill what is left after 3 s."""
    try:
        processes = root.children(recursive=True)
    except psutil.Error:
        processes = []
    if include_root:
        processes.append(root)
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    # LocalRuntime waits 5 s before it kills the action server itself
    _, alive = psutil.wait_procs(processes, timeout=3)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()


def _end_descendants() -> None:
    _end_process_tree(psutil.Process(), include_root=False)


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # runs the atexit hook


async def _gateway_output(plugin: JupyterPlugin) -> str:
    """What the gateway printed that the plugin did not read (it stops at its first line)."""
    stdout = getattr(getattr(plugin, "gateway_process", None), "stdout", None)
    if stdout is None:
        return ""
    chunks: list[bytes] = []
    with contextlib.suppress(TimeoutError):
        while chunk := await asyncio.wait_for(stdout.read(65536), 1):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")[-4000:]


def _stage(plugin: JupyterPlugin) -> str:
    kernel = getattr(plugin, "kernel", None)
    if kernel is None:
        return "before the first cell (gateway not yet announced, or kernel not yet asked for)"
    if kernel.kernel_id is None:
        return "creating the kernel through the gateway"
    if kernel.ws is None:
        return f"connecting to kernel {kernel.kernel_id}"
    return f"waiting for kernel {kernel.kernel_id} to answer a cell"


async def _abandon_jupyter_start(plugin: JupyterPlugin) -> dict[str, Any]:
    """End the gateway and kernel of a hung start; return what it had reached."""
    report: dict[str, Any] = {
        "port": getattr(plugin, "kernel_gateway_port", None),
        "stage": _stage(plugin),
    }
    gateway = getattr(plugin, "gateway_process", None)
    if gateway is not None:
        with contextlib.suppress(psutil.Error):
            shell = psutil.Process(gateway.pid)
            report["processes"] = [" ".join(p.cmdline()[:4]) for p in shell.children(recursive=True)]
        report["gateway_output"] = await _gateway_output(plugin)
    kernel = getattr(plugin, "kernel", None)
    if kernel is not None:
        if kernel.heartbeat_callback is not None:
            kernel.heartbeat_callback.stop()
        if kernel.ws is not None:
            kernel.ws.close()
        del plugin.kernel  # the next attempt makes its own, for the new gateway
    if gateway is not None:
        with contextlib.suppress(psutil.Error):
            _end_process_tree(psutil.Process(gateway.pid), include_root=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(gateway.wait(), 5)
    return report


async def _initialize_jupyter_with_retry(
    self: JupyterPlugin, username: str, kernel_id: str = "openhands-default"
) -> None:
    for attempt in range(1, JUPYTER_START_ATTEMPTS + 1):
        try:
            await asyncio.wait_for(
                _upstream_jupyter_initialize(self, username, kernel_id), JUPYTER_START_TIMEOUT_S
            )
        except TimeoutError:
            report = await _abandon_jupyter_start(self)
            logger.warning(
                "oh_action_server_v0: Jupyter start attempt %d of %d took over %.0f s, abandoned: %r",
                attempt,
                JUPYTER_START_ATTEMPTS,
                JUPYTER_START_TIMEOUT_S,
                report,
            )
        else:
            if attempt > 1:
                logger.warning("oh_action_server_v0: Jupyter started on attempt %d", attempt)
            return
    raise TimeoutError(
        f"Jupyter did not start in {JUPYTER_START_ATTEMPTS} attempts of {JUPYTER_START_TIMEOUT_S:.0f} s"
    )


def install_patches() -> None:
    # start_file_viewer_server() looks `open` up in its module's globals before the builtins
    _file_viewer_server.open = _open
    JupyterPlugin.initialize = _initialize_jupyter_with_retry
    _jupyter.find_available_tcp_port = _gateway_port  # initialize() looks it up in its module
    atexit.register(_end_descendants)
    # LocalRuntime stops the action server with SIGTERM. uvicorn handles it, shuts down,
    # restores the previous handler and raises the signal again: with the default handler
    # the process would die right there, without running atexit hooks.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


if __name__ == "__main__":
    install_patches()
    runpy.run_module("openhands.runtime.action_execution_server", run_name="__main__", alter_sys=True)
