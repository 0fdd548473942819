"""FileBody, socket-free: a download written as it comes, decoded by our own bounded reader,
checked as a JSON document without parsing it, and in place only once complete."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest

from openhands_api._body import FileBody
from openhands_api.errors import ProtocolError
from openhands_api.protocol import v0
from openhands_api.protocol.http import Request

REQUEST = Request("GET", "/api/conversations/x/trajectory", bulk=True)
TRAJECTORY = json.dumps(
    {
        "trajectory": [
            {"id": n, "source": "agent", "action": "think", "args": {"thought": "t" * 50}} for n in range(500)
        ]
    },
    separators=(",", ":"),
).encode()


def _body(
    tmp_path: Path, encoding: str = "", limit: int | None = 10_000_000, answer_limit: int = 1000
) -> FileBody:
    return FileBody(
        REQUEST,
        200,
        encoding,
        destination=tmp_path / "h.json",
        limit=limit,
        answer_limit=answer_limit,
        document=v0.TRAJECTORY,
    )


def _feed(body: FileBody, data: bytes, size: int) -> tuple[bytes, int | None]:
    with body:
        for start in range(0, len(data), size):
            body.feed(data[start : start + size])
        return body.finish()


def _left(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir())


@pytest.mark.parametrize("size", [1, 7, 4096, 1 << 20])
def test_a_trajectory_is_written_whole_however_it_is_chunked(tmp_path: Path, size: int) -> None:
    content, written = _feed(_body(tmp_path), TRAJECTORY, size)
    assert (content, written) == (b"", len(TRAJECTORY))
    assert (tmp_path / "h.json").read_bytes() == TRAJECTORY


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_an_encoded_trajectory_is_decoded_by_our_reader(tmp_path: Path, encoding: str) -> None:
    packed = gzip.compress(TRAJECTORY) if encoding == "gzip" else zlib.compress(TRAJECTORY)
    _, written = _feed(_body(tmp_path, encoding), packed, 333)
    assert written == len(TRAJECTORY)
    assert json.loads((tmp_path / "h.json").read_bytes())["trajectory"][-1]["id"] == 499


def test_an_empty_trajectory_is_a_file(tmp_path: Path) -> None:
    assert _feed(_body(tmp_path), b'{"trajectory":[]}', 3) == (b"", 17)
    assert json.loads((tmp_path / "h.json").read_bytes()) == {"trajectory": []}


def test_a_body_cut_short_is_an_error_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match="cut-off body"):
        _feed(_body(tmp_path), TRAJECTORY[: len(TRAJECTORY) // 2], 4096)
    assert _left(tmp_path) == []


def test_a_gzip_body_cut_short_is_an_error_and_leaves_nothing(tmp_path: Path) -> None:
    packed = gzip.compress(TRAJECTORY)
    with pytest.raises(ProtocolError, match="cut-off gzip"):
        _feed(_body(tmp_path, "gzip"), packed[: len(packed) - 20], 4096)
    assert _left(tmp_path) == []


def test_a_body_over_the_cap_is_an_error_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match="larger than 10,000 bytes"):
        _feed(_body(tmp_path, limit=10_000), TRAJECTORY, 4096)
    assert _left(tmp_path) == []


def test_a_gzip_bomb_stops_at_the_cap_one_bounded_piece_at_a_time(tmp_path: Path) -> None:
    bomb = gzip.compress(b'{"trajectory":[' + b" " * 200_000_000)
    with pytest.raises(ProtocolError, match="larger than"):
        _feed(_body(tmp_path, "gzip", limit=5_000_000), bomb, 1 << 16)
    assert _left(tmp_path) == []


def test_a_json_answer_that_is_no_trajectory_is_handed_back_not_written(tmp_path: Path) -> None:
    answer = b'{"trajectory":null,"error":"Error getting trajectory: boom"}'
    assert _feed(_body(tmp_path), answer, 5) == (answer, None)
    assert _left(tmp_path) == []


def test_an_answer_that_is_no_trajectory_has_the_ordinary_cap(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match="larger than 1,000 bytes"):
        _feed(_body(tmp_path), b'{"padding": "' + b"x" * 5000 + b'"}', 100)
    assert _left(tmp_path) == []


def test_a_failure_while_reading_leaves_no_temporary_file(tmp_path: Path) -> None:
    body = _body(tmp_path)

    def broken_read() -> None:
        with body:
            body.feed(TRAJECTORY[:5000])
            assert len(_left(tmp_path)) == 1  # the temporary file, not the destination
            raise RuntimeError("the connection broke")

    with pytest.raises(RuntimeError):
        broken_read()
    assert _left(tmp_path) == []


def test_a_file_without_a_document_is_written_as_it_comes(tmp_path: Path) -> None:
    body = FileBody(
        Request("GET", "/download"), 200, "", destination=tmp_path / "c.zip", limit=None, answer_limit=10
    )
    assert _feed(body, b"PK\x03\x04" + b"z" * 100_000, 4096) == (b"", 100_004)
    assert (tmp_path / "c.zip").stat().st_size == 100_004


def test_the_trajectory_document_opens_and_closes_as_the_server_writes_it() -> None:
    assert v0.TRAJECTORY.opens(b'{"trajectory":[{"id":0}')
    assert v0.TRAJECTORY.opens(b' {\n "trajectory" : [')
    assert not v0.TRAJECTORY.opens(b'{"trajectory":null,"error":"x"}')
    assert not v0.TRAJECTORY.opens(b'{"detail":"Not Found"}')
    assert not v0.TRAJECTORY.opens(b"<!doctype html>")
    assert v0.TRAJECTORY.closes(b'{"id":9}]}')
    assert v0.TRAJECTORY.closes(b'{"id":9}]\n}\n')
    assert not v0.TRAJECTORY.closes(b'{"id":9},{"id"')
