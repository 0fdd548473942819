"""Workspace and runtime routes: list-files, select-file, zip-directory, git, config, hosts."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

from openhands_api.testing import FakeOpenHandsApp, ManualClock

from .conftest import MakeClient
from .helpers import create, run

FILES = {
    "a.txt": "hello\n",
    "B.md": "B\n",
    "bin.dat": b"\x00\x01\x02\xff",
    "sub/d.txt": "d\n",
    "sub/inner/c.txt": "c\n",
    "Zed/": "",
    ".git/HEAD": "ref: refs/heads/main\n",
    "node_modules/x.js": "",
}


@pytest.fixture
async def seeded(
    make_client: MakeClient, clock: ManualClock
) -> tuple[httpx.AsyncClient, FakeOpenHandsApp, str]:
    client, app = make_client()
    app.fake_state.seed_workspace(FILES)
    conversation_id = await run(client, clock)
    return client, app, conversation_id


async def test_list_files_shows_directories_first_sorted_case_insensitively(
    seeded: tuple[httpx.AsyncClient, FakeOpenHandsApp, str],
) -> None:
    client, _, conversation_id = seeded
    response = await client.get(f"/api/conversations/{conversation_id}/list-files")
    assert response.status_code == 200
    # .git/ and node_modules/ are hidden, as by the real route
    assert response.json() == ["sub/", "Zed/", "a.txt", "B.md", "bin.dat"]


async def test_list_files_of_a_subdirectory_prefixes_the_path(
    seeded: tuple[httpx.AsyncClient, FakeOpenHandsApp, str],
) -> None:
    client, _, conversation_id = seeded
    response = await client.get(f"/api/conversations/{conversation_id}/list-files", params={"path": "sub"})
    assert response.json() == ["sub/inner/", "sub/d.txt"]


async def test_list_files_of_a_missing_directory_is_empty(
    seeded: tuple[httpx.AsyncClient, FakeOpenHandsApp, str],
) -> None:
    client, _, conversation_id = seeded
    response = await client.get(f"/api/conversations/{conversation_id}/list-files", params={"path": "nope"})
    assert (response.status_code, response.json()) == (200, [])


async def test_list_files_of_an_empty_workspace_is_empty(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock)
    assert (await client.get(f"/api/conversations/{conversation_id}/list-files")).json() == []


async def test_select_file_returns_the_text_as_code(
    seeded: tuple[httpx.AsyncClient, FakeOpenHandsApp, str],
) -> None:
    client, _, conversation_id = seeded
    response = await client.get(
        f"/api/conversations/{conversation_id}/select-file", params={"file": "sub/inner/c.txt"}
    )
    assert (response.status_code, response.json()) == (200, {"code": "c\n"})


async def test_select_file_of_a_missing_file_is_500_error_opening_file(
    seeded: tuple[httpx.AsyncClient, FakeOpenHandsApp, str],
) -> None:
    client, _, conversation_id = seeded
    response = await client.get(
        f"/api/conversations/{conversation_id}/select-file", params={"file": "nope.txt"}
    )
    assert response.status_code == 500
    assert response.json() == {
        "error": "Error opening file: **ErrorObservation**\n"
        "File not found: /workspace/nope.txt. Your current working directory is /workspace."
    }


async def test_select_file_of_a_directory_is_500(
    seeded: tuple[httpx.AsyncClient, FakeOpenHandsApp, str],
) -> None:
    client, _, conversation_id = seeded
    response = await client.get(f"/api/conversations/{conversation_id}/select-file", params={"file": "sub"})
    assert response.status_code == 500
    assert "Path is a directory: /workspace/sub" in response.json()["error"]


async def test_select_file_of_a_binary_file_is_415(
    seeded: tuple[httpx.AsyncClient, FakeOpenHandsApp, str],
) -> None:
    client, _, conversation_id = seeded
    response = await client.get(
        f"/api/conversations/{conversation_id}/select-file", params={"file": "bin.dat"}
    )
    assert (response.status_code, response.json()) == (415, {"error": "Unable to open binary file: bin.dat"})


async def test_select_file_without_file_is_422(
    seeded: tuple[httpx.AsyncClient, FakeOpenHandsApp, str],
) -> None:
    client, _, conversation_id = seeded
    response = await client.get(f"/api/conversations/{conversation_id}/select-file")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "file"]


async def test_file_routes_while_starting_cannot_reach_the_runtime(client: httpx.AsyncClient) -> None:
    conversation_id = await create(client)
    response = await client.get(f"/api/conversations/{conversation_id}/list-files")
    assert (response.status_code, response.json()) == (502, {"error": "Unable to connect to runtime"})


async def test_file_routes_of_a_stopped_conversation_are_404_runtime_not_available(
    seeded: tuple[httpx.AsyncClient, FakeOpenHandsApp, str],
) -> None:
    client, _, conversation_id = seeded
    await client.post(f"/api/conversations/{conversation_id}/stop")
    for route in ("list-files", "select-file?file=a.txt"):
        response = await client.get(f"/api/conversations/{conversation_id}/{route}")
        assert response.status_code == 404
        assert response.json() == {"error": f"Runtime not available for conversation {conversation_id}"}


async def test_zip_directory_is_an_attachment_with_every_file(
    seeded: tuple[httpx.AsyncClient, FakeOpenHandsApp, str],
) -> None:
    client, _, conversation_id = seeded
    response = await client.get(f"/api/conversations/{conversation_id}/zip-directory")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == 'attachment; filename="workspace.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == sorted(
        [".git/HEAD", "B.md", "a.txt", "bin.dat", "node_modules/x.js", "sub/d.txt", "sub/inner/c.txt"]
    )
    assert archive.read("sub/d.txt") == b"d\n"


async def test_git_changes_default_to_empty_and_can_be_seeded(
    seeded: tuple[httpx.AsyncClient, FakeOpenHandsApp, str],
) -> None:
    client, app, conversation_id = seeded
    assert (await client.get(f"/api/conversations/{conversation_id}/git/changes")).json() == []
    app.fake_state.git_changes = [{"status": "M", "path": "a.txt"}]
    response = await client.get(f"/api/conversations/{conversation_id}/git/changes")
    assert response.json() == [{"status": "M", "path": "a.txt"}]


async def test_git_diff_returns_a_seeded_diff_and_500_otherwise(
    seeded: tuple[httpx.AsyncClient, FakeOpenHandsApp, str],
) -> None:
    client, app, conversation_id = seeded
    app.fake_state.git_diffs["a.txt"] = {"modified": "new\n", "original": "old\n"}
    response = await client.get(f"/api/conversations/{conversation_id}/git/diff", params={"path": "a.txt"})
    assert response.json() == {"modified": "new\n", "original": "old\n"}
    response = await client.get(f"/api/conversations/{conversation_id}/git/diff", params={"path": "b.txt"})
    assert (response.status_code, response.text) == (500, "Internal Server Error")


async def test_git_diff_without_path_is_422(seeded: tuple[httpx.AsyncClient, FakeOpenHandsApp, str]) -> None:
    client, _, conversation_id = seeded
    response = await client.get(f"/api/conversations/{conversation_id}/git/diff")
    assert response.status_code == 422


async def test_runtime_info_routes_answer_like_a_local_runtime(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock)
    base = f"/api/conversations/{conversation_id}"
    assert (await client.get(f"{base}/config")).json() == {"runtime_id": None, "session_id": conversation_id}
    assert (await client.get(f"{base}/vscode-url")).json() == {"vscode_url": None}
    assert (await client.get(f"{base}/microagents")).json() == {"microagents": []}
    hosts = (await client.get(f"{base}/web-hosts")).json()["hosts"]
    [(url, port)] = hosts.items()
    assert url.startswith("http://localhost:")
    assert isinstance(port, int)


async def test_web_hosts_match_the_runtime_hosts_in_the_workspace_context(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    conversation_id = await run(client, clock)
    hosts = (await client.get(f"/api/conversations/{conversation_id}/web-hosts")).json()["hosts"]
    events = (await client.get(f"/api/conversations/{conversation_id}/events")).json()["events"]
    assert events[6]["extras"]["runtime_hosts"] == hosts


@pytest.mark.parametrize(
    "route", ["config", "vscode-url", "web-hosts", "microagents", "zip-directory", "git/changes"]
)
async def test_runtime_routes_of_a_stopped_conversation_are_404(
    client: httpx.AsyncClient, clock: ManualClock, route: str
) -> None:
    conversation_id = await run(client, clock)
    await client.post(f"/api/conversations/{conversation_id}/stop")
    response = await client.get(f"/api/conversations/{conversation_id}/{route}")
    assert (response.status_code, response.json()) == (
        404,
        {"detail": f"Conversation {conversation_id} not found"},
    )


@pytest.mark.parametrize("route", ["config", "list-files", "zip-directory"])
async def test_runtime_routes_of_an_unknown_conversation_are_404(
    client: httpx.AsyncClient, route: str
) -> None:
    unknown = "0123456789abcdef0123456789abcdef"
    response = await client.get(f"/api/conversations/{unknown}/{route}")
    assert (response.status_code, response.json()) == (404, {"detail": f"Conversation {unknown} not found"})
