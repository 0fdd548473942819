"""send, stop, resume, delete and download (cli/manage.py) on both generations, in-process
through the seam, plus the real entry point for ``download -o -`` into a pipe."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from openhands_api import OpenHandsAPI
from openhands_api.testing import FakeOpenHandsServer
from tests.cli.conftest import PIPED, TERMINAL, Ran, invoke

Factory = Callable[..., FakeOpenHandsServer]
GENERATIONS = ["v0", "v1"]
UNKNOWN = "0123456789abcdef0123456789abcdef"


@pytest.fixture(params=GENERATIONS)
def server(request: pytest.FixtureRequest, fake_openhands_factory: Factory) -> FakeOpenHandsServer:
    return fake_openhands_factory(rate_limit=False, speed=5.0, generations=request.param)


def _generation(server: FakeOpenHandsServer) -> str:
    with OpenHandsAPI(base_url=server.base_url, throttle=False) as api:
        api.history_format()  # detects the generation
        return str(api.api_version)


def _finished(server: FakeOpenHandsServer, title: str = "Manage me") -> str:
    """A conversation whose first turn has finished."""
    with OpenHandsAPI(base_url=server.base_url, poll_interval=0.05, throttle=False) as api:
        conversation = api.create_conversation("Hi. [fake-llm steps=1]", title=title)
        api.wait(conversation.id, timeout=30)
        return conversation.id


def _cli(server: FakeOpenHandsServer, *args: str, **kwargs: object) -> Ran:
    return invoke(*args, "--base-url", server.base_url, **kwargs)  # type: ignore[arg-type]


def _exists(server: FakeOpenHandsServer, cid: str) -> bool:
    return _cli(server, "get", cid).code == 0


# ---------------------------------------------------------------------------------- send


def test_send_takes_the_message_as_an_argument_and_confirms(server: FakeOpenHandsServer) -> None:
    cid = _finished(server)
    ran = _cli(server, "send", cid, "Ask me. [fake-llm ask]")
    assert ran.code == 0, ran.stderr
    assert ran.stdout == f"sent to {cid}; to wait for the answer: openhands-api wait {cid}\n"
    assert _cli(server, "wait", cid, "--json").code == 0

    ran = _cli(server, "send", cid, "--message", "Once more. [fake-llm steps=1]", "--json")
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout) == {
        "id": cid,
        "action": "sent",
        "outcome": None,
        "status": "sent",
        "conversation_id": cid,
    }
    assert _cli(server, "send", cid, "More. [fake-llm steps=1]", "-q").stdout == ""


def test_send_wait_prints_the_outcome_and_exits_by_it(server: FakeOpenHandsServer) -> None:
    cid = _finished(server)
    ran = _cli(server, "send", cid, "Ask me. [fake-llm ask]", "--wait", "--json")
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout)["outcome"] == "waiting_for_user"
    ran = _cli(server, "send", cid, "--message-file", "-", "--wait", stdin="Fail now. [fake-llm error]\n")
    assert ran.code == 1, ran.stderr
    assert ran.stdout.startswith("failed")


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("one", "--message", "two"),
        ("--message", "one", "--message-file", "-"),
        ("   ",),
    ],
)
def test_send_needs_exactly_one_message(server: FakeOpenHandsServer, args: tuple[str, ...]) -> None:
    ran = _cli(server, "send", UNKNOWN, *args, stdin="from stdin")
    assert ran.code == 2
    assert ran.stderr.startswith("error: ")
    assert "Traceback" not in ran.stderr


def test_send_resumes_stopped_compute_unless_no_resume(server: FakeOpenHandsServer) -> None:
    cid = _finished(server)
    assert _cli(server, "stop", cid).code == 0
    ran = _cli(server, "send", cid, "Go on. [fake-llm steps=1]", "--no-resume")
    assert ran.code == 7, ran.stderr
    assert f"openhands-api resume {cid}" in ran.stderr
    ran = _cli(server, "send", cid, "Go on. [fake-llm steps=1]", "--wait", "--json")  # --resume: default
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout)["outcome"] == "finished"


# ------------------------------------------------------------------------- stop, resume


def test_stop_and_resume_confirm_print_json_and_stay_quiet_with_q(server: FakeOpenHandsServer) -> None:
    cid = _finished(server)
    ran = _cli(server, "stop", cid, "--json")
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout) == {"id": cid, "action": "stopped"}
    ran = _cli(server, "resume", cid, "-q")
    assert (ran.code, ran.stdout, ran.stderr) == (0, "", "")
    ran = _cli(server, "stop", cid)
    assert ran.stdout == f"stopped {cid}\n"
    ran = _cli(server, "resume", cid, "--json", "action")
    assert json.loads(ran.stdout) == {"action": "resumed"}


# ------------------------------------------------------------------------------- delete


def test_delete_off_a_terminal_needs_yes(server: FakeOpenHandsServer) -> None:
    cid = _finished(server)
    ran = _cli(server, "delete", cid, terminal=PIPED, stdin="y\n")
    assert ran.code == 2
    assert ran.stderr == "error: refusing to delete without --yes when not on a terminal\n"
    assert _exists(server, cid)
    ran = _cli(server, "delete", cid, "--yes", "--json")
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout) == {"id": cid, "action": "deleted"}
    assert not _exists(server, cid)
    ran = _cli(server, "delete", cid, "-y")
    assert ran.code == 4
    assert ran.stderr.startswith("error: ")


def test_delete_on_a_terminal_asks_and_only_yes_deletes(server: FakeOpenHandsServer) -> None:
    cid = _finished(server, title="Doomed")
    with OpenHandsAPI(base_url=server.base_url, throttle=False) as api:
        title = api.get_conversation(cid).title  # the fake V1 agent names it itself
    for answer in ("n\n", "\n", "maybe\n", ""):
        ran = _cli(server, "delete", cid, terminal=TERMINAL, stdin=answer)
        assert ran.code == 0, ran.stderr
        ended = "" if answer else "\n"  # on Ctrl-D the command ends the prompt's line itself
        assert ran.stderr == f"Delete conversation {cid} ({title})? [y/N] {ended}cancelled; nothing deleted\n"
        assert ran.stdout == ""
        assert _exists(server, cid)
    ran = _cli(server, "delete", cid, terminal=TERMINAL, stdin="YES\n")
    assert ran.code == 0, ran.stderr
    assert ran.stdout == f"deleted {cid}\n"
    assert not _exists(server, cid)
    ran = _cli(server, "delete", UNKNOWN, terminal=TERMINAL, stdin="y\n")
    assert ran.code == 4
    assert "[y/N]" not in ran.stderr  # nothing to ask about


# ----------------------------------------------------------------------------- download


def _is_history(path_or_bytes: Path | bytes, generation: str) -> None:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    if generation == "v0":
        assert json.loads(data)["trajectory"]
    else:
        assert "meta.json" in zipfile.ZipFile(io.BytesIO(data)).namelist()


def test_download_names_the_file_by_its_real_format(
    server: FakeOpenHandsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = _finished(server)
    generation = _generation(server)
    monkeypatch.chdir(tmp_path)
    ran = _cli(server, "download", cid, "--json")
    assert ran.code == 0, ran.stderr
    suffix = ".json" if generation == "v0" else ".zip"
    expected = Path(f"conversation-{cid}{suffix}")
    data = json.loads(ran.stdout)
    assert data == {"id": cid, "path": str(expected), "bytes": expected.stat().st_size, "kind": "history"}
    _is_history(expected, generation)
    assert os.listdir(tmp_path) == [expected.name]  # no temporary file left behind


def test_download_never_overwrites_without_force_and_checks_before_any_request(
    server: FakeOpenHandsServer, tmp_path: Path
) -> None:
    cid = _finished(server)
    kept = tmp_path / "history.bin"
    kept.write_bytes(b"mine")
    # An unknown id would exit 4: exit 2 shows that nothing was asked of the server.
    for args in (("-o", str(kept)), (str(kept),)):
        ran = _cli(server, "download", UNKNOWN, *args)
        assert ran.code == 2, ran.stderr
        assert "--force" in ran.stderr
    assert kept.read_bytes() == b"mine"
    ran = _cli(server, "download", cid, "-o", str(kept), "--force")
    assert ran.code == 0, ran.stderr
    _is_history(kept, _generation(server))
    ran = _cli(server, "download", cid, "-o", str(tmp_path / "no-such-dir" / "h"))
    assert ran.code == 2
    assert "does not exist" in ran.stderr


def test_download_refuses_a_name_of_the_other_format(server: FakeOpenHandsServer, tmp_path: Path) -> None:
    cid = _finished(server)
    generation = _generation(server)
    wrong, right = ("history.zip", "history.json") if generation == "v0" else ("history.json", "history.zip")
    ran = _cli(server, "download", cid, "-o", str(tmp_path / wrong))
    assert ran.code == 2
    assert right in ran.stderr
    assert not (tmp_path / wrong).exists()
    ran = _cli(server, "download", cid, str(tmp_path / right))  # the older positional spelling
    assert ran.code == 0, ran.stderr
    assert ran.stdout.startswith(f"saved {tmp_path / right} (")


def test_download_to_stdout(server: FakeOpenHandsServer, tmp_path: Path) -> None:
    cid = _finished(server)
    generation = _generation(server)
    ran = _cli(server, "download", cid, "-o", "-", terminal=TERMINAL)
    if generation == "v1":  # a zip would garble the terminal
        assert ran.code == 2
        assert ran.stderr == "error: would write binary to the terminal; use -o FILE\n"
    else:  # JSON is text
        assert ran.code == 0, ran.stderr
        _is_history(ran.stdout.encode(), generation)
    ran = _cli(server, "download", cid, "-o", "-", "--json")
    assert ran.code == 2
    assert "--json" in ran.stderr  # both would go to stdout
    assert not list(tmp_path.iterdir())


def test_download_workspace(server: FakeOpenHandsServer, tmp_path: Path) -> None:
    cid = _finished(server)
    target = tmp_path / "work.zip"
    ran = _cli(server, "download", cid, "--workspace", "-o", str(target), "--json")
    if _generation(server) == "v1":
        assert ran.code == 7
        assert ran.stderr.startswith("error: this server offers no workspace download (V1)")
        assert not target.exists()
        return
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout) == {
        "id": cid,
        "path": str(target),
        "bytes": target.stat().st_size,
        "kind": "workspace",
    }
    assert zipfile.ZipFile(target).testzip() is None
    ran = _cli(server, "download", cid, "--workspace", "-o", "-", terminal=TERMINAL)
    assert ran.code == 2
    assert "binary" in ran.stderr
    # V0 gives the workspace only while the runtime runs; its 404 is not "no such conversation".
    assert _cli(server, "stop", cid).code == 0
    ran = _cli(server, "download", cid, "--workspace", "-o", str(target), "--force")
    assert ran.code == 7
    assert f"openhands-api resume {cid}" in ran.stderr
    ran = _cli(server, "download", UNKNOWN, "--workspace", "-o", str(tmp_path / "none.zip"))
    assert ran.code == 4


def test_download_to_a_pipe_through_the_real_entry_point_keeps_every_byte(
    fake_openhands_factory: Factory, tmp_path: Path
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations="v1")
    cid = _finished(server)
    with OpenHandsAPI(base_url=server.base_url, throttle=False) as api:
        expected = api.download_history(cid, tmp_path / "direct.zip").read_bytes()
    piped = tmp_path / "piped.zip"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENHANDS_")}
    with piped.open("wb") as sink:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "openhands_api",
                "download",
                cid,
                "-o",
                "-",
                "--base-url",
                server.base_url,
            ],
            stdout=sink,
            stderr=subprocess.PIPE,
            env=env,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    # Two downloads of the same history are the same files, but each zip is stamped with the
    # time it was made (to 2 s): compare what they hold, and that every CRC checks out.
    import io
    import zipfile

    with zipfile.ZipFile(piped) as got, zipfile.ZipFile(io.BytesIO(expected)) as want:
        assert got.testzip() is None
        assert got.namelist() == want.namelist()
        assert all(got.read(name) == want.read(name) for name in want.namelist())
    assert zipfile.ZipFile(piped).testzip() is None
