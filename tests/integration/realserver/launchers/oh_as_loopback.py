"""Run the OpenHands V1 agent-server bound to 127.0.0.1, keeping its temp files in $TMPDIR.

The V1 app server starts one ``python -m <agent_server_module> --port N`` per
sandbox. Upstream's module (``openhands.agent_server``) binds 0.0.0.0, which would
expose the agent's shell to the network; ``run_app_server_v1.py`` points
``agent_server_module`` at this module, which adds ``--host 127.0.0.1`` and then
runs the real one.

It also redirects one hard-coded path: browser_use (imported by the agent's tools
even with the browser tool off) creates ``/tmp/browser-use-downloads-XXXX`` for its
default profile; here that directory goes to $TMPDIR (inside the server's private
working directory) instead.
"""

import os
import runpy
import sys
import tempfile


def _browser_use_downloads_in_tmpdir() -> None:
    try:
        import browser_use.browser.profile as profile
    except Exception:  # not installed or moved upstream: nothing to redirect
        return
    real_path = profile.Path
    hard_coded = "/tmp/browser-use-downloads-"

    def path(*args, **kwargs):
        if args and isinstance(args[0], str) and args[0].startswith(hard_coded):
            args = (os.path.join(tempfile.gettempdir(), args[0][len("/tmp/") :]), *args[1:])
        return real_path(*args, **kwargs)

    profile.Path = path  # only ever called as a constructor in that module


_browser_use_downloads_in_tmpdir()
if "--host" not in sys.argv:
    sys.argv += ["--host", "127.0.0.1"]
runpy.run_module("openhands.agent_server", run_name="__main__", alter_sys=True)
