"""``openhands-api completion SHELL`` prints click's completion script; bash really completes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import invoke

ROOT = Path(__file__).resolve().parents[2]


def test_the_bash_script_completes_a_command_name_in_a_real_bash(tmp_path: Path) -> None:
    ran = invoke("completion", "bash")
    assert ran.code == 0, ran.stderr
    assert "_OPENHANDS_API_COMPLETE" in ran.stdout
    assert "complete " in ran.stdout
    if shutil.which("bash") is None:
        pytest.skip("no bash on this machine")
    # An openhands-api on PATH that is this checkout's, as an installed one would be.
    program = tmp_path / "openhands-api"
    program.write_text(f'#!/bin/sh\nexec {sys.executable} -m openhands_api "$@"\n')
    program.chmod(0o755)
    script = tmp_path / "completion.bash"
    script.write_text(ran.stdout)
    env = {
        **os.environ,
        "PATH": f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    }
    # What bash does on Tab: set the words, call the registered function with the command,
    # the word and the one before it.
    probe = (
        f"source {script}; COMP_WORDS=(openhands-api ge); COMP_CWORD=1; "
        "_openhands_api_completion openhands-api ge openhands-api; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    done = subprocess.run(["bash", "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "get" in done.stdout.split()
    # The same answer straight from the program, as the script asks for it.
    direct = subprocess.run(
        [str(program)],
        env={
            **env,
            "_OPENHANDS_API_COMPLETE": "bash_complete",
            "COMP_WORDS": "openhands-api ge",
            "COMP_CWORD": "1",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "plain,get" in direct.stdout.split()


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_name_the_program(shell: str) -> None:
    ran = invoke("completion", shell)
    assert ran.code == 0, ran.stderr
    assert ran.stdout.strip()
    assert "openhands-api" in ran.stdout
    assert "_OPENHANDS_API_COMPLETE" in ran.stdout


def test_an_unknown_shell_is_a_usage_error() -> None:
    ran = invoke("completion", "tcsh")
    assert ran.code == 2
    assert ran.stdout == ""
