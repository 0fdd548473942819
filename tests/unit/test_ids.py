"""What a typed conversation reference means (protocol/ids.py), without a server: full ids,
prefixes and web URLs, and how far a prefix search reads a listing before it decides."""

from __future__ import annotations

from typing import Any

import pytest

from openhands_api.errors import AmbiguousIdError, InvalidInputError, NotFoundError
from openhands_api.models import Conversation
from openhands_api.protocol.http import Call, Emit, Op, Request
from openhands_api.protocol.ids import Reference, find_by_prefix, parse_reference

BASE = "http://oh.test:3000"
ID = "48c8e1a23b4c4d5e8f90a1b2c3d4e5f6"


@pytest.mark.parametrize(
    "text",
    [ID, ID.upper(), "48c8e1a2-3b4c-4d5e-8f90-a1b2c3d4e5f6", f"  {ID}\n", "nope", "conv_1", "ab" * 17],
)
def test_full_and_other_ids_are_used_as_given(text: str) -> None:
    assert parse_reference(text, BASE) == Reference(text.strip(), conversation_id=text.strip())


@pytest.mark.parametrize(
    ("text", "prefix"), [("48c8", "48c8"), ("48C8E1", "48c8e1"), ("48c8e1a2-3b", "48c8e1a23b")]
)
def test_prefixes(text: str, prefix: str) -> None:
    assert parse_reference(text, BASE) == Reference(text, prefix=prefix)


def test_a_short_prefix_is_refused_with_a_hint() -> None:
    with pytest.raises(InvalidInputError, match="at least 4 characters"):
        parse_reference("48c", BASE)


@pytest.mark.parametrize("text", ["../../etc/passwd", "", "a b"])
def test_malformed_ids_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_reference(text, BASE)


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/conversations/{ID}",
        f"{BASE}/conversations/{ID}/",
        f"{BASE}/conversations/{ID}?tab=changes#top",
        f"{BASE}/conversations/{ID}/browser",
        f"HTTP://OH.TEST:3000/conversations/{ID}",
    ],
)
def test_web_urls_of_the_configured_server(url: str) -> None:
    assert parse_reference(url, BASE).conversation_id == ID


def test_a_web_url_may_end_in_a_prefix() -> None:
    assert parse_reference(f"{BASE}/conversations/48c8e1", BASE).prefix == "48c8e1"


def test_default_ports_and_a_path_prefix() -> None:
    assert parse_reference(f"https://oh.test:443/conversations/{ID}", "https://oh.test").conversation_id == ID
    base = "https://oh.test/openhands"
    assert parse_reference(f"{base}/conversations/{ID}", base).conversation_id == ID
    with pytest.raises(InvalidInputError, match="not a conversation's web URL"):
        parse_reference(f"https://oh.test/conversations/{ID}", base)


def test_cloud_hosts_are_one_server() -> None:
    url = f"https://app.openhands.dev/conversations/{ID}"
    assert parse_reference(url, "https://app.all-hands.dev").conversation_id == ID


@pytest.mark.parametrize(
    ("url", "server"),
    [
        (f"http://other.test:3000/conversations/{ID}", "http://other.test:3000"),
        (f"http://oh.test:3001/conversations/{ID}", "http://oh.test:3001"),
        (f"https://oh.test:3000/conversations/{ID}", "https://oh.test:3000"),
        (f"https://lab.test/oh/conversations/{ID}", "https://lab.test/oh"),
        (f"https://app.all-hands.dev/conversations/{ID}", "https://app.all-hands.dev"),
    ],
)
def test_a_url_of_another_server_is_refused_naming_the_base_url_to_use(url: str, server: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_reference(url, BASE)
    assert f"--base-url {server}" in str(caught.value)
    assert "nothing was sent" in str(caught.value)


def test_a_url_s_credentials_are_not_repeated() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_reference(f"https://me:hunter2@other.test/conversations/{ID}", BASE)
    assert "hunter2" not in str(caught.value)
    assert "--base-url https://other.test" in str(caught.value)
    with pytest.raises(InvalidInputError) as caught:
        parse_reference(f"ftp://me:hunter2@oh.test/conversations/{ID}", BASE)
    assert "hunter2" not in str(caught.value)
    assert "ftp://oh.test/conversations/" in str(caught.value)


@pytest.mark.parametrize(
    "url", [f"{BASE}/settings", f"{BASE}/conversations/", f"ftp://oh.test/conversations/{ID}", "http://:x/"]
)
def test_urls_that_are_not_conversation_pages(url: str) -> None:
    with pytest.raises(InvalidInputError, match="not a conversation's web URL"):
        parse_reference(url, BASE)


# ---------------------------------------------------------------------------- the search


def _conversation(cid: str, title: str = "") -> Conversation:
    return Conversation(id=cid, api_version="v0", web_url=f"{BASE}/conversations/{cid}", title=title)


def _listing(pages: list[list[str]], asked: list[int]) -> Op[None]:
    """A listing of ``pages`` (ids), recording the pages the search had sent (answered)."""
    for number, page in enumerate(pages):
        yield Call(Request("GET", "/api/conversations"), lambda response: response)
        asked.append(number)
        for cid in page:
            yield Emit(_conversation(cid, f"title of {cid[:6]}"))


def _search(pages: list[list[str]], text: str, scan_limit: int = 1000) -> tuple[Any, list[int]]:
    asked: list[int] = []
    op = find_by_prefix(_listing(pages, asked), parse_reference(text, BASE), scan_limit)
    try:
        step = op.send(None)
        while True:
            assert isinstance(step, Call)
            step = op.send(None)
    except StopIteration as stop:
        return stop.value, asked
    except (NotFoundError, AmbiguousIdError) as exc:
        return exc, asked


def _ids(*prefixes: str) -> list[str]:
    return [(p + "0" * 32)[:32] for p in prefixes]


def test_a_unique_prefix_is_known_only_at_the_end_of_the_listing() -> None:
    found, asked = _search([_ids("aaaa1", "bbbb"), _ids("cccc"), []], "aaaa")
    assert found == _ids("aaaa1")[0]
    assert asked == [0, 1, 2]


def test_two_matches_end_the_search_at_the_end_of_their_page() -> None:
    pages = [_ids("aaaa1", "bbbb"), _ids("aaaa2", "aaaa3", "cccc"), _ids("aaaa4"), _ids("dddd")]
    error, asked = _search(pages, "aaaa")
    assert asked == [0, 1]
    assert isinstance(error, AmbiguousIdError)
    assert not error.complete
    assert [c.id for c in error.candidates] == _ids("aaaa1", "aaaa2", "aaaa3")
    message = str(error)
    assert message.startswith("At least 3 conversations start with 'aaaa': ")
    assert _ids("aaaa1")[0] in message
    assert "title of aaaa10" in message
    assert "\n" not in message


def test_the_ambiguity_error_counts_exactly_at_the_end_and_shows_three() -> None:
    error, _ = _search([_ids("aaaa1", "aaaa2", "aaaa3", "aaaa4", "aaaa5")], "aaaa")
    assert isinstance(error, AmbiguousIdError)
    assert error.complete
    assert str(error).startswith("5 conversations start with 'aaaa': ")
    assert "and 2 more; give more characters of the id" in str(error)


def test_no_match_is_not_found() -> None:
    error, asked = _search([_ids("bbbb"), _ids("cccc")], "aaaa")
    assert isinstance(error, NotFoundError)
    assert error.status_code == 404
    assert asked == [0, 1]


def test_the_scan_limit_bounds_the_requests() -> None:
    pages = [_ids("bbbb", "aaaa", "cccc", "dddd"), _ids("aaab")]
    error, asked = _search(pages, "aaaa", scan_limit=4)
    assert asked == [0]
    assert isinstance(error, AmbiguousIdError)
    assert not error.complete
    assert "among the newest 4 conversations, but older ones were not searched" in str(error)
    error, asked = _search(pages, "abcd", scan_limit=4)
    assert isinstance(error, NotFoundError)
    assert "among the newest 4 (older ones were not searched)" in str(error)
    assert asked == [0]


def test_short_pages_count_against_the_page_bound() -> None:
    """A listing of short pages (V0 on 1.x pages V0 and V1 together) ends the search after as
    many requests as full pages would have needed."""
    error, asked = _search([_ids("bbbb"), _ids("cccc"), _ids("aaaa")], "aaaa", scan_limit=8)
    assert asked == [0]
    assert isinstance(error, NotFoundError)
    assert "among the newest 1 " in str(error)
