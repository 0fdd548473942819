"""Launch the real OpenHands V0 server (openhands-ai 1.6.0) on loopback.

Runs inside the server's own Python 3.12 venv, never inside the test process.

Equivalent to ``uvicorn openhands.server.listen:app --host 127.0.0.1 --port PORT``
plus two patches:

* LocalRuntime starts each conversation's action server with
  ``python -m openhands.runtime.action_execution_server``; here it starts
  ``python -m oh_action_server_v0`` (next to this file) instead, which keeps the
  runtime's files inside its temp dir, ends its own children, and retries a hung
  Jupyter start (see that module), then runs the real module.
* LocalRuntime draws the action server's ports from ranges below the kernel's
  ephemeral ports (``v0_ports.py`` says why).

Everything else is upstream code, configured through environment variables (see
``server_env`` in ``harness.py``).

Usage: python run_server_v0.py --port PORT [--host 127.0.0.1]
(this directory must be on PYTHONPATH so that action servers can import
oh_action_server_v0).
"""

import argparse
import functools

import v0_ports
from openhands.runtime.impl.local import local_runtime as _local_runtime

_local_runtime.get_action_execution_server_startup_command = functools.partial(
    _local_runtime.get_action_execution_server_startup_command,
    main_module="oh_action_server_v0",
)
# _create_server looks these up in its module's globals at each start
_local_runtime.EXECUTION_SERVER_PORT_RANGE = v0_ports.EXECUTION_SERVER
_local_runtime.VSCODE_PORT_RANGE = v0_ports.VSCODE
_local_runtime.APP_PORT_RANGE_1 = v0_ports.APP_1
_local_runtime.APP_PORT_RANGE_2 = v0_ports.APP_2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn  # imported late: only after the patch above is in place

    uvicorn.run("openhands.server.listen:app", host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
