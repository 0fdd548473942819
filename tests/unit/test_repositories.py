"""``parse_repository``: what people paste as a repository, as the API wants it."""

from __future__ import annotations

import pytest

from openhands_api.errors import InvalidInputError
from openhands_api.protocol.repositories import KNOWN_HOSTS, RepositoryRef, parse_repository
from openhands_api.protocol.validation import GIT_PROVIDERS


@pytest.mark.parametrize(
    ("text", "path", "provider"),
    [
        ("o/r", "o/r", None),
        ("  o/r  ", "o/r", None),
        ("o/r.git", "o/r", None),
        ("group/sub/r", "group/sub/r", None),
        ("https://github.com/o/r", "o/r", "github"),
        ("https://github.com/o/r.git", "o/r", "github"),
        ("https://github.com/o/r/", "o/r", "github"),
        ("http://github.com/o/r", "o/r", "github"),
        ("https://GitHub.com/O/R", "O/R", "github"),
        ("https://github.com/o/r/tree/main/src", "o/r", "github"),
        ("https://github.com/o/r/pull/3", "o/r", "github"),
        ("git@github.com:o/r.git", "o/r", "github"),
        ("git@github.com:o/r", "o/r", "github"),
        ("ssh://git@github.com/o/r.git", "o/r", "github"),
        ("git://github.com/o/r.git", "o/r", "github"),
        ("ssh://git@gitlab.com/group/sub/r.git", "group/sub/r", "gitlab"),
        ("https://gitlab.com/group/sub/r", "group/sub/r", "gitlab"),
        ("https://gitlab.com/group/r/-/merge_requests/3", "group/r", "gitlab"),
        ("git@gitlab.com:group/sub/r.git", "group/sub/r", "gitlab"),
        ("https://bitbucket.org/o/r", "o/r", "bitbucket"),
        ("git@bitbucket.org:o/r.git", "o/r", "bitbucket"),
        ("https://user:token@github.com/o/r.git", "o/r", "github"),
        ("https://git.example.com/team/sub/r.git", "team/sub/r", None),
        ("ssh://git@git.example.com:2222/team/r.git", "team/r", None),
        ("git@git.example.com:team/r.git", "team/r", None),
    ],
)
def test_forms_become_a_path_and_a_known_provider(text: str, path: str, provider: str | None) -> None:
    found = parse_repository(text)
    assert (found.path, found.provider) == (path, provider)


def test_the_host_is_kept() -> None:
    assert parse_repository("git@gitlab.com:g/r.git") == RepositoryRef("g/r", "gitlab", "gitlab.com")
    assert parse_repository("o/r").host is None


def test_known_providers_are_names_the_server_accepts() -> None:
    assert set(KNOWN_HOSTS.values()) <= set(GIT_PROVIDERS)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "not-a-repo",
        "a/b/../c",
        "https://github.com/",
        "https://github.com/only-owner",
        "ftp://github.com/o/r",
        "file:///home/me/repo",
        "https:///o/r",
        "git@github.com:",
    ],
)
def test_what_is_not_a_repository_is_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_repository(text)


def test_a_token_in_the_url_is_not_in_the_error() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_repository("https://me:s3cret@github.com/just-one")
    assert "s3cret" not in caught.value.message
    assert "github.com" in caught.value.message
