"""The ports a V0 runtime listens on, chosen below the kernel's ephemeral port range.

LocalRuntime picks an action server's port (and its VS Code and app ports) when it
starts the process, and the action server binds it only once its start-up is done:
10-30 s later on a busy machine. The Jupyter plugin does the same with the kernel
gateway's port. Upstream picks from 30000-39999 and 40000-49999, inside Linux's
default ephemeral range (32768-60999), so any connection opened on the machine in
between can take the port as its local end. Seen in CI: an action server restarted
after a stop failed with ``[Errno 98] error while attempting to bind on address
('0.0.0.0', 33690): address already in use`` after 24 s of start-up, LocalRuntime
waited out its 120 s for a process that had died, and the conversation stayed
STARTING. Ports below the ephemeral range are only ever handed out on purpose.

What is left: two action servers started within the same ~30 s may draw the same
port (1 in 4000 per pair); this harness runs one V0 conversation start at a time
in all but the batch test.

V1's agent-servers get ports upward from a base between 20000 and 29000
(``OPENHANDS_API_REALSERVER_SANDBOX_BASE_PORT`` in ``harness.py``), above these.
"""

from __future__ import annotations

# The file viewer takes a free port up to 1024 above the execution server's, at once.
EXECUTION_SERVER = (10000, 13999)
VSCODE = (15100, 16099)
APP_1 = (16100, 17099)
APP_2 = (17100, 18099)
JUPYTER_GATEWAY = (18100, 19999)

ALL = (EXECUTION_SERVER, VSCODE, APP_1, APP_2, JUPYTER_GATEWAY)


def ephemeral_range() -> tuple[int, int]:
    """The kernel's ephemeral port range (Linux), or the IANA range elsewhere."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = f.read().split()
    except (OSError, ValueError):
        return 49152, 65535
    return int(low), int(high)
