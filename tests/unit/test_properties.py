"""Property-based tests: random input into the parsers and the id/URL/prompt validation, and
only the documented errors come out (never a KeyError, TypeError, UnicodeError, …)."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from openhands_api import errors
from openhands_api.cli.prompt import InputProblem, read_text_file
from openhands_api.config import normalize_base_url
from openhands_api.protocol import v0, v1
from openhands_api.protocol.http import Response
from openhands_api.protocol.retry import parse_retry_after
from openhands_api.protocol.validation import validate_id, validate_repository

SAFE_ID = set(string.ascii_letters + string.digits + "-_")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=20,
)


@given(st.text())
def test_validate_id_accepts_only_safe_ids(value: str) -> None:
    try:
        result = validate_id(value)
    except errors.InvalidInputError:
        return
    assert result == value
    assert 0 < len(value) <= 100
    assert set(value) <= SAFE_ID


@given(st.text())
def test_v1_ids_normalise_or_refuse(value: str) -> None:
    try:
        hex_id = v1.conversation_id_hex(value)
    except errors.InvalidInputError:
        return
    assert len(hex_id) == 32
    assert set(hex_id) <= set("0123456789abcdef")


@given(st.text())
def test_base_url_is_normalised_or_refused(value: str) -> None:
    try:
        url = normalize_base_url(value)
    except errors.ConfigurationError:
        return
    assert url.startswith(("http://", "https://"))
    assert not url.endswith("/")


@given(
    scheme=st.sampled_from(["http:", "https:", "ftp:", "", "htp:"]),
    password=st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=20),
    rest=st.text(max_size=20),
)
def test_credentials_in_a_base_url_never_reach_the_error(scheme: str, password: str, rest: str) -> None:
    assume(password not in rest)
    with pytest.raises(errors.ConfigurationError) as caught:
        normalize_base_url(f"{scheme}//user:{password}@host{rest}")
    assert password not in str(caught.value)


@given(st.text())
def test_repository_is_owner_slash_repo_or_refused(value: str) -> None:
    try:
        repo = validate_repository(value)
    except errors.InvalidInputError:
        return
    assert "/" in repo
    assert ".." not in repo.split("/")


@given(st.text())
def test_retry_after_never_raises(value: str) -> None:
    delay = parse_retry_after(value, wall_now=1_000_000_000.0)
    assert delay is None or delay >= 0


CONVERSATION = "0123456789abcdef0123456789abcdef"
ROUTES = [
    v0.create_conversation({"initial_user_msg": "x"}),
    v0.get_conversation(CONVERSATION),
    v0.list_conversations(),
    v0.update_title(CONVERSATION, "t"),
    v0.delete_conversation(CONVERSATION),
    v0.start_conversation(CONVERSATION),
    v0.stop_conversation(CONVERSATION),
    v0.get_events(CONVERSATION),
    v0.get_trajectory(CONVERSATION),
    v0.send_message(CONVERSATION, "m"),
    v0.list_files(CONVERSATION),
    v0.read_file(CONVERSATION, "f"),
    v0.git_changes(CONVERSATION),
    v0.git_diff(CONVERSATION, "p"),
    v0.probe(),
    v1.start_conversation({}),
    v1.get_start_tasks([CONVERSATION]),
    v1.get_conversations([CONVERSATION]),
    v1.search_conversations(),
    v1.count_conversations(),
    v1.update_conversation(CONVERSATION, title="t"),
    v1.delete_conversation(CONVERSATION),
    v1.send_message(CONVERSATION, "m"),
    v1.read_file(CONVERSATION, "f"),
    v1.search_events(CONVERSATION),
    v1.count_events(CONVERSATION),
    v1.search_sandboxes(),
    v1.pause_sandbox("s"),
    v1.users_me(),
    v1.probe(),
]

content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/html", "text/plain", "", "application/zip"]
)
bodies = st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()))


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(
    route=st.sampled_from(ROUTES),
    status=st.sampled_from(
        [200, 201, 204, 301, 302, 400, 401, 403, 404, 405, 409, 410, 422, 429, 500, 502, 503]
    ),
    content_type=content_types,
    body=bodies,
    retry_after=st.one_of(st.none(), st.text(max_size=30)),
    location=st.one_of(st.none(), st.text(max_size=40)),
)
def test_parsers_raise_only_documented_errors(
    route: Any, status: int, content_type: str, body: bytes, retry_after: str | None, location: str | None
) -> None:
    headers = {"content-type": content_type}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    if location is not None:
        headers["location"] = location
    try:
        route.parse(Response(status, headers, body))
    except errors.OpenHandsError as exc:
        if status >= 400:
            assert isinstance(exc, (errors.APIStatusError, errors.ProtocolError))
        assert str(exc)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=100)
@given(data=st.binary(max_size=300))
def test_prompt_files_are_text_or_a_clear_refusal(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "prompt.md"
    path.write_bytes(data)
    try:
        text = read_text_file(str(path), "prompt file")
    except InputProblem as problem:
        assert str(problem).startswith("The prompt file")
        return
    assert "\x00" not in text


@pytest.mark.parametrize("bad", ["../x", "a/b", "a\x00", "\u202e", "x" * 101])
def test_examples_of_refused_ids(bad: str) -> None:
    with pytest.raises(errors.InvalidInputError):
        validate_id(bad)
