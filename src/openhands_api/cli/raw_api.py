"""``openhands-api api``: any route of the server, as ``gh api`` is for GitHub's.

It reuses everything a command has (server, keys, profile, TLS, pacing, retries) through the
library's ``request`` and ``iter_pages``; what lives here is only the command line's own
spelling of a request: ``-f``/``-F`` fields, ``-H`` headers, ``--input``.

Output: a JSON answer is printed indented (on a terminal and in a pipe alike, like every
``--json`` of this CLI), or filtered by ``--jq``; any other answer as its text; an empty one
(204) as nothing. An error status is one line on stderr with the status and the server's
message, and the exit code of that error (see ``openhands-api --help``), as for any command.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click

from . import exit_codes
from .app import cli, connection_options, handle_errors, make_client, output
from .jq import Filter
from .output import jq_option
from .prompt import InputProblem

# Methods whose fields are the query; the others' fields are the JSON body.
_QUERY_METHODS = frozenset({"GET", "HEAD", "DELETE"})
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def _read_input(source: str) -> bytes:
    """The bytes of ``--input``: a file, or standard input for ``-``."""
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        with open(source, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise InputProblem(f"Cannot read {source}: {exc.strerror or exc}") from None


def _typed(value: str) -> Any:
    """A ``-F`` value: true, false, null and numbers as JSON; ``@FILE`` the file's text
    (``@-`` standard input); anything else the string itself."""
    if value in ("true", "false"):
        return value == "true"
    if value == "null":
        return None
    if _NUMBER.fullmatch(value):
        return json.loads(value)
    if value.startswith("@"):
        return _read_input(value[1:]).decode("utf-8", errors="replace")
    return value


def _fields(raw_fields: tuple[str, ...], typed_fields: tuple[str, ...]) -> dict[str, Any]:
    """The ``-f key=value`` (strings) and ``-F key=value`` (typed) fields, in order; a key
    ending in ``[]`` collects its values into an array (``-f labels[]=a -f labels[]=b``)."""
    fields: dict[str, Any] = {}
    given = [(text, False) for text in raw_fields] + [(text, True) for text in typed_fields]
    for text, typed in given:
        key, sep, value = text.partition("=")
        if not sep or not key:
            flag = "-F" if typed else "-f"
            raise InputProblem(f"{flag} {text!r}: write a field as key=value")
        parsed = _typed(value) if typed else value
        if key.endswith("[]"):
            existing = fields.setdefault(key[:-2], [])
            if not isinstance(existing, list):
                raise InputProblem(f"The field {key[:-2]!r} is given both as a value and as an array")
            existing.append(parsed)
        else:
            fields[key] = parsed
    return fields


def _headers(raw_headers: tuple[str, ...]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for text in raw_headers:
        name, sep, value = text.partition(":")
        if not sep or not name.strip() or any(ch in text for ch in "\r\n"):
            raise InputProblem(f"-H {text!r}: write a header as 'Name: value'")
        headers[name.strip()] = value.strip()
    return headers


@cli.command("api", epilog=exit_codes.SEE_EXIT_CODES)
@click.argument("method", metavar="METHOD")
@click.argument("path", metavar="PATH")
@click.option(
    "-f", "--raw-field", "raw_fields", metavar="KEY=VALUE", multiple=True, help="Add a string field."
)
@click.option(
    "-F",
    "--field",
    "typed_fields",
    metavar="KEY=VALUE",
    multiple=True,
    help="Add a typed field: true, false, null, numbers as JSON; @FILE reads a file (@- stdin).",
)
@click.option(
    "--input",
    "input_source",
    metavar="FILE",
    help="Send this file as the body ('-' for stdin); the fields then go to the query.",
)
@click.option(
    "--paginate", is_flag=True, help="GET every page (next_page_id) and print one JSON array of the items."
)
@click.option(
    "-H", "--header", "raw_headers", metavar="'NAME: VALUE'", multiple=True, help="Add a request header."
)
@jq_option()
@connection_options
@handle_errors
def api_command(
    method: str,
    path: str,
    raw_fields: tuple[str, ...],
    typed_fields: tuple[str, ...],
    input_source: str | None,
    paginate: bool,
    raw_headers: tuple[str, ...],
    jq: Filter | None,
    **connection: Any,
) -> None:
    """Send any request to the server and print its answer.

    The configured server, keys, profile and retries apply; PATH is the server's own
    (/api/…), never another host. Fields (-f, -F) are the query of a GET, HEAD or DELETE, and
    the JSON body of a POST, PUT or PATCH (unless --input gives the body). A JSON answer is
    printed indented (--jq filters it); any other answer as text. GET, HEAD and DELETE are
    retried like every read; POST, PUT and PATCH only when they surely never reached the
    server.

    \b
    Examples:
      openhands-api api GET /api/conversations -f limit=5
      openhands-api api GET /api/v1/app-conversations/search --paginate \\
          --jq '.[].id'
      openhands-api api POST /api/conversations -f initial_user_msg=Hi
    """
    verb = method.upper()
    if paginate and verb != "GET":
        raise InputProblem("--paginate follows the pages of a GET listing only")
    fields = _fields(raw_fields, typed_fields)
    headers = _headers(raw_headers)
    content = _read_input(input_source) if input_source is not None else None
    query_fields = verb in _QUERY_METHODS or content is not None
    out = output(None, jq)
    with make_client(**connection) as api:
        if paginate:
            items = list(api.iter_pages(path, params=fields, headers=headers))
            out.document(items)
            return
        response = api.request(
            verb,
            path,
            params=fields if query_fields else None,
            headers=headers,
            content=content,
            # A POST without fields sends no body at all (V0's /stop, /start take none).
            **({"json": fields} if fields and not query_fields else {}),
        )
    if response.is_json:
        try:
            value = response.json()
        except ValueError:
            out.text(response.text)
            return
        out.document(value)
    elif response.content:
        out.text(response.text)
