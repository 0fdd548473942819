"""Launch the real OpenHands V0 server (openhands-ai 1.6.0) on loopback.

Runs inside the server's own Python 3.12 venv, never inside the test process.

Equivalent to ``uvicorn openhands.server.listen:app --host 127.0.0.1 --port PORT``
plus one patch, so that the runtime writes nothing outside its temp dir:
LocalRuntime starts each conversation's action server with
``python -m openhands.runtime.action_execution_server``; here it starts
``python -m oh_action_server_v0`` (next to this file) instead, which writes the
file viewer's URL to ``$TMPDIR/oh-server-url`` rather than the hard-coded
``/tmp/oh-server-url`` and then runs the real module. Everything else is upstream
code, configured through environment variables (see ``server_env`` in
``harness.py``).

Usage: python run_server_v0.py --port PORT [--host 127.0.0.1]
(this directory must be on PYTHONPATH so that action servers can import
oh_action_server_v0).
"""

import argparse
import functools

from openhands.runtime.impl.local import local_runtime as _local_runtime

_local_runtime.get_action_execution_server_startup_command = functools.partial(
    _local_runtime.get_action_execution_server_startup_command,
    main_module="oh_action_server_v0",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn  # imported late: only after the patch above is in place

    uvicorn.run("openhands.server.listen:app", host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
