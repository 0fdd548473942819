"""``python -m openhands_api.testing serve`` as a shell user meets it: one-line usage errors with
exit 2, configuration errors in flag terms, the URL alone on the first stdout line, hints on
stderr. Each test runs the real entry point in a subprocess."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from openhands_api.testing import FakeServerConfig
from openhands_api.testing.core.config import ConfigError, Knob
from openhands_api.testing.serving.cli import FLAGS, _parser, knob_as_flag

SERVE = [sys.executable, "-m", "openhands_api.testing", "serve"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    """``serve ARGS`` that is expected to end by itself (a usage error)."""
    return subprocess.run([*SERVE, *args], capture_output=True, text=True, env=_env(), timeout=60)


@contextmanager
def serving(*args: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [*SERVE, "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def read_hints(process: subprocess.Popen[str]) -> list[str]:
    """The stderr lines up to the last hint, "Ctrl-C to stop." (while the server runs)."""
    assert process.stderr is not None
    hints: list[str] = []
    while not hints or hints[-1] != "Ctrl-C to stop.":
        line = process.stderr.readline()
        assert line, hints  # the hints end with how to stop
        hints.append(line.rstrip("\n"))
    return hints


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The usage error's single line (and the checks every usage error must pass)."""
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# ------------------------------------------------------------------------------ usage errors
@pytest.mark.parametrize("port", ["99999", "65536", "-1", "eighty"])
def test_an_impossible_port_is_a_one_line_usage_error(port: str) -> None:
    line = one_line_error(serve("--port", port))
    assert f"argument --port: {port} is not a port: use 0-65535" in line


@pytest.mark.parametrize("host", ["", "192.0.2.1"])  # empty; TEST-NET-1, no address of this machine
def test_a_host_that_cannot_be_bound_is_a_one_line_usage_error(host: str) -> None:
    line = one_line_error(serve("--host", host, "--port", "0"))
    assert "--host" in line


def test_argparse_errors_are_one_line_too() -> None:
    line = one_line_error(serve("--speed", "fast"))
    assert line.startswith("python -m openhands_api.testing serve: error: argument --speed:")
    assert one_line_error(serve("--generations", "v2")).count("invalid choice") == 1
    assert "--log-level" in one_line_error(serve("--log-level", "loud"))


# ------------------------------------------------------------------------------ configuration errors
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--flavor", "cloud"], "error: --flavor cloud needs --generations v1: Cloud serves no V0 routes"),
        (["--speed", "0"], "error: --speed must be > 0"),
        (["--speed", "nan"], "error: --speed must be > 0"),
        (["--startup-delay", "-1"], "error: --startup-delay must be >= 0"),
        (["--concurrency-limit", "0"], "error: --concurrency-limit must be >= 1 when set"),
        (["--webhook-flush-delay", "-2"], "error: --webhook-flush-delay must be >= 0 when set"),
        (["--chaos", "2"], "error: --chaos 2.0: probability must be a number from 0 to 1"),
        (["--chaos-seed", "3"], "error: --chaos-seed needs --chaos"),
    ],
)  # fmt: skip
def test_configuration_errors_are_worded_with_the_flags(args: list[str], message: str) -> None:
    assert one_line_error(serve(*args)) == message


def test_a_bad_fault_rule_names_the_flag_and_the_rule() -> None:
    line = one_line_error(serve("--fault", '{"fault":\n "slow"}'))
    assert line.startswith('error: --fault {"fault": "slow"}: ')
    assert "delay" in line
    assert one_line_error(serve("--fault", "{")).startswith("error: --fault {: not JSON")


def test_the_library_words_the_same_errors_for_python() -> None:
    with pytest.raises(ConfigError) as caught:
        FakeServerConfig(flavor="cloud")
    assert str(caught.value) == 'flavor="cloud" needs generations="v1": Cloud serves no V0 routes'
    assert caught.value.knobs == (Knob("flavor", "cloud"), Knob("generations", "v1"))
    assert isinstance(caught.value, ValueError)  # what callers caught before
    with pytest.raises(ValueError, match=r"^speed must be > 0$"):
        FakeServerConfig(speed=0)


def test_every_flag_named_for_a_knob_exists() -> None:
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    known = {option for action in commands.choices["serve"]._actions for option in action.option_strings}
    assert set(FLAGS.values()) <= known
    assert knob_as_flag(Knob("rate_limit", False)) == "--no-rate-limit"
    assert knob_as_flag(Knob("step_delay")) == "step_delay"  # no flag sets it: the Python name


# ------------------------------------------------------------------------------ starting
@pytest.mark.timeout(60)
def test_the_first_stdout_line_is_the_url_and_the_hints_go_to_stderr() -> None:
    with serving("--session-api-key", "s3cret-key", "--speed", "10") as process:
        assert process.stdout is not None
        assert process.stderr is not None
        first = process.stdout.readline()
        url = first.rstrip("\n")
        assert url.startswith("http://127.0.0.1:")
        assert url == url.strip()
        assert httpx.get(url + "/alive").json() == {"status": "ok"}
        hints = read_hints(process)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
        assert process.stdout.read() == ""  # the URL is the only line on stdout
        rest = process.stderr.read()
    text = "\n".join(hints) + rest
    assert f"  export OPENHANDS_BASE_URL={url}" in hints
    assert "  export OPENHANDS_SESSION_API_KEY=<the key given to --session-api-key>" in hints
    assert "s3cret-key" not in text
    assert any("openhands-api new-conversation --prompt" in line for line in hints)
    assert "V0 routes of openhands-ai 1.6.0" in hints[0]


@pytest.mark.timeout(60)
def test_a_cloud_key_is_named_by_its_variable_and_quiet_prints_only_the_url() -> None:
    with serving("--generations", "v1", "--api-key", "sk-user", "--quiet") as quiet:
        assert quiet.stdout is not None
        assert quiet.stderr is not None
        url = quiet.stdout.readline().rstrip("\n")
        assert httpx.get(url + "/alive").status_code == 200
        quiet.send_signal(signal.SIGTERM)
        assert quiet.wait(timeout=15) == 0
        assert (quiet.stdout.read(), quiet.stderr.read()) == ("", "")
    with serving("--generations", "v1", "--api-key", "sk-user", "--manual-clock") as process:
        assert process.stdout is not None
        assert process.stderr is not None
        url = process.stdout.readline().rstrip("\n")
        hints = read_hints(process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    assert "  export OPENHANDS_API_KEY=<the key given to --api-key>" in hints
    assert "sk-user" not in "\n".join(hints)
    assert any(f"{url}/_fake/clock/advance" in line for line in hints)  # time stands still
    assert not any("new-conversation" in line for line in hints)  # it would wait for good
