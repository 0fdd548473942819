"""Run the V0 action server with its file-viewer URL file in $TMPDIR, and end its children with it.

Started by LocalRuntime (one per V0 conversation) when the server was launched by
``run_server_v0.py``. Two differences from upstream's
``openhands.runtime.action_execution_server``:

* It writes the URL of its file viewer to the hard-coded ``/tmp/oh-server-url``,
  which would leak a file out of the server's private working directory (and
  collide between servers); here that one path goes to $TMPDIR.
* When a conversation is stopped or deleted, LocalRuntime terminates the action
  server, but the Jupyter kernel gateway and kernel it started keep running
  (reparented to init): ~0.4 GB per closed V0 conversation until the whole server
  stops, which adds up on a server shared by a test session. Here the action
  server ends its own descendants when it exits.
"""

import atexit
import builtins
import contextlib
import os
import runpy
import signal
import tempfile

import openhands.runtime.file_viewer_server as _file_viewer_server
import psutil

_HARD_CODED = "/tmp/oh-server-url"


def _open(file, *args, **kwargs):
    if file == _HARD_CODED:
        file = os.path.join(tempfile.gettempdir(), "oh-server-url")
    return builtins.open(file, *args, **kwargs)


def _end_descendants() -> None:
    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    # LocalRuntime waits 5 s before it kills the action server itself
    _, alive = psutil.wait_procs(children, timeout=3)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # runs the atexit hook


# start_file_viewer_server() looks `open` up in its module's globals before the builtins
_file_viewer_server.open = _open
atexit.register(_end_descendants)
# LocalRuntime stops the action server with SIGTERM. uvicorn handles it, shuts down,
# restores the previous handler and raises the signal again: with the default handler
# the process would die right there, without running atexit hooks.
signal.signal(signal.SIGTERM, _exit_on_sigterm)
runpy.run_module("openhands.runtime.action_execution_server", run_name="__main__", alter_sys=True)
