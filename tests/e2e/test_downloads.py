"""The unified downloads of both clients on both generations: ``history_format()`` names what
``download_history`` writes, and ``download_workspace`` saves V0's zip or refuses on V1
before any request."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from openhands_api import AsyncOpenHandsAPI, OpenHandsAPI
from openhands_api.errors import ConflictError, NotSupportedError
from openhands_api.testing import FakeOpenHandsServer

Factory = Callable[..., FakeOpenHandsServer]


@pytest.mark.parametrize("generation", ["v0", "v1"])
def test_sync_history_format_and_workspace(
    fake_openhands_factory: Factory, generation: str, tmp_path: Path
) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0, generations=generation)
    with OpenHandsAPI(base_url=server.base_url, poll_interval=0.05, throttle=False) as api:
        cid = api.create_conversation("Hi. [fake-llm steps=1]").id
        api.wait(cid, timeout=30)
        history = api.download_history(cid, tmp_path / "history")
        if api.history_format() == "json":
            assert generation == "v0"
            assert json.loads(history.read_text())["trajectory"]
        else:
            assert generation == "v1"
            assert "meta.json" in zipfile.ZipFile(history).namelist()
        target = tmp_path / "workspace.zip"
        if generation == "v1":
            before = len(server.state.requests)
            with pytest.raises(NotSupportedError):
                api.download_workspace(cid, target)
            assert len(server.state.requests) == before
            assert not target.exists()
            return
        assert api.download_workspace(cid, target) == target
        assert zipfile.ZipFile(target).testzip() is None
        api.stop(cid)
        with pytest.raises(ConflictError):  # only while the runtime runs
            api.download_workspace(cid, tmp_path / "stopped.zip")
        assert not (tmp_path / "stopped.zip").exists()


async def test_async_download_workspace(fake_openhands_factory: Factory, tmp_path: Path) -> None:
    server = fake_openhands_factory(rate_limit=False, speed=5.0)
    async with AsyncOpenHandsAPI(base_url=server.base_url, poll_interval=0.05, throttle=False) as api:
        cid = (await api.create_conversation("Hi. [fake-llm steps=1]")).id
        await api.wait(cid, timeout=30)
        assert await api.history_format() == "json"
        path = await api.download_workspace(cid, tmp_path / "w.zip")
    assert zipfile.ZipFile(path).testzip() is None
