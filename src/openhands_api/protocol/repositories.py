"""A repository as people paste it: ``owner/repo``, a web or clone URL, or an SSH remote.

:func:`parse_repository` turns each into what the API wants, the repository's path
(``owner/repo``; GitLab subgroups keep theirs, ``group/sub/repo``), and, for a host it knows,
the git provider. Pure functions: no request, no git (the CLI asks git for ``--repo .``).

Forms understood (a trailing ``.git`` or ``/`` is dropped):

- ``owner/repo`` as it is, provider unknown;
- ``https://github.com/owner/repo`` (also ``http://``, ``git://``; credentials in the URL are
  ignored, never repeated in an error);
- ``ssh://git@gitlab.com/group/sub/repo.git`` (a port is allowed);
- ``git@bitbucket.org:owner/repo.git`` (scp-like SSH, as ``git remote get-url`` prints it);
- a page of the repository on a known host (``https://github.com/owner/repo/tree/main``,
  ``https://gitlab.com/group/repo/-/issues/3``): the repository it belongs to.

An unknown host keeps its path and guesses no provider (a self-hosted GitLab, say: give
``--git-provider``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import InvalidInputError
from .validation import GIT_PROVIDERS, validate_repository

KNOWN_HOSTS: dict[str, str] = {
    "github.com": "github",
    "gitlab.com": "gitlab",
    "bitbucket.org": "bitbucket",
}
"""Hosts whose provider is certain (every value is one of ``GIT_PROVIDERS``)."""

assert set(KNOWN_HOSTS.values()) <= set(GIT_PROVIDERS)

_URL_SCHEMES = ("https", "http", "ssh", "git", "git+ssh", "ssh+git")
# user@host:path, as git writes an SSH remote without a scheme (the path must not start with
# "/" followed by "/": that would be a URL).
_SCP_LIKE = re.compile(r"(?:[^@/\s]+@)?(?P<host>[A-Za-z0-9.-]+):(?!//)(?P<path>\S+)")


@dataclass(frozen=True)
class RepositoryRef:
    """A repository's ``path`` (``owner/repo``) and its ``provider`` when the host tells it."""

    path: str
    provider: str | None = None
    host: str | None = None


def _clean_path(path: str) -> str:
    path = path.strip().strip("/")
    path = path.removesuffix(".git")
    return path.strip("/")


def _repository_part(path: str, provider: str | None) -> str:
    """The repository in a web page's path (``o/r/tree/main``, ``g/s/r/-/merge_requests/3``):
    GitHub and Bitbucket repositories are two segments deep, GitLab's end before ``/-/``."""
    if provider in ("github", "bitbucket"):
        return _clean_path("/".join(path.split("/")[:2]))
    if provider == "gitlab":
        return _clean_path(path.split("/-/", 1)[0])
    return path


def parse_repository(text: str) -> RepositoryRef:
    """``text`` as a repository path and, from a known host, its provider.

    Raises InvalidInputError for text that is none of the forms in the module's docstring,
    or whose path is not ``owner/repo``-shaped."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("The repository must be given as owner/repo or its URL")
    value = text.strip()
    host: str | None = None
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme.lower() not in _URL_SCHEMES or not parts.hostname:
            raise InvalidInputError(
                f"The repository URL must be https:// or ssh:// with a host (got a {parts.scheme!r} URL)"
            )
        host = parts.hostname.lower()
        path = _clean_path(parts.path)
    else:
        scp = _SCP_LIKE.fullmatch(value)
        if scp is not None and "." in scp.group("host"):
            host = scp.group("host").lower()
            path = _clean_path(scp.group("path"))
        else:
            path = _clean_path(value) if value.endswith(".git") else value
    if host is None:
        return RepositoryRef(path=validate_repository(path))
    path = _repository_part(path, KNOWN_HOSTS.get(host))
    # A URL's own text may hold a token (https://user:TOKEN@host/…): errors name the host only.
    try:
        validate_repository(path)
    except InvalidInputError:
        raise InvalidInputError(
            f"The repository URL on {host} does not name a repository as owner/repo "
            "(e.g. https://github.com/OpenHands/OpenHands)"
        ) from None
    return RepositoryRef(path=path, provider=KNOWN_HOSTS.get(host), host=host)
