"""How every command prints: one place decides between a terminal view, tab-separated rows and JSON.

- On a terminal: tables with a header that fit the width (the flexible column, a title or a
  text, is cut with ``…``), readable summaries, colour for outcomes unless ``NO_COLOR`` is set.
- Piped without ``--json``: the same rows as stable tab-separated fields, no header, no colour,
  so ``cut -f1`` and ``while read`` work.
- ``--json``: the command's documented fields (``docs/cli-json.md``); ``--json id,outcome``
  chooses fields; ``--jq EXPR`` filters the JSON (:mod:`.jq`).
- ``-q/--quiet``: only what a script would read (ids, JSON); no confirmations, hints or
  progress. Errors always go to stderr.

A command describes its output once (its fields and columns); :class:`Printer` does the rest.
The terminal is read through :class:`Terminal`, which tests set (the seam, as gh's IOStreams).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from .jq import Filter, JqError, compile_jq, render

ALL_FIELDS = "*"
"""The value of a bare ``--json``: every documented field of the command."""

_FIELD_LIST = re.compile(r"[a-z_]+(?:,[a-z_]+)*")


@dataclass(frozen=True)
class Terminal:
    """Where output goes and what it can show; tests build one instead of asking the streams."""

    stdout_tty: bool
    stderr_tty: bool
    stdin_tty: bool
    columns: int
    color: bool

    @classmethod
    def detect(cls) -> Terminal:
        def tty(stream: Any) -> bool:
            try:
                return bool(stream.isatty())
            except (AttributeError, ValueError):
                return False

        dumb = os.environ.get("TERM") == "dumb"
        stdout_tty = tty(sys.stdout) and not dumb
        return cls(
            stdout_tty=stdout_tty,
            stderr_tty=tty(sys.stderr) and not dumb,
            stdin_tty=tty(sys.stdin),
            columns=shutil.get_terminal_size().columns,
            # https://no-color.org: any non-empty NO_COLOR turns colour off.
            color=stdout_tty and not os.environ.get("NO_COLOR"),
        )


@dataclass(frozen=True)
class Column:
    """One column of a table: its header, the JSON field it shows, and how."""

    header: str
    field: str
    show: Callable[[Any], str] = str
    flexible: bool = False  # shrinks (cut with …) when the table is wider than the terminal
    on_terminal: Callable[[Any], str] | None = None  # a shorter form for the table (short ids)


_OUTCOME_COLORS = {
    "finished": "green",
    "waiting_for_user": "green",
    "failed": "red",
    "blocked": "yellow",
    "stopped": "yellow",
    "gone": "yellow",
    "in_progress": "cyan",
}


@dataclass
class Printer:
    """The output of one command run."""

    terminal: Terminal
    json_fields: str | None = None  # None: not JSON; "*": the documented fields; else "a,b"
    default_fields: tuple[str, ...] | None = None  # what "*" means (None: every key given)
    jq: Filter | None = None
    quiet: bool = False
    _echo: Callable[..., None] = field(default=click.echo, repr=False)

    @property
    def as_json(self) -> bool:
        return self.json_fields is not None

    # --- JSON -----------------------------------------------------------------------------

    def pick(self, data: Mapping[str, Any], defaults: tuple[str, ...] | None = None) -> dict[str, Any]:
        """``data`` cut to the fields ``--json a,b`` asked for; for a bare --json, the documented
        fields it has (``defaults``, when this object's differ from the command's)."""
        documented = defaults if defaults is not None else self.default_fields
        if self.json_fields is None or (self.json_fields == ALL_FIELDS and documented is None):
            return dict(data)
        if self.json_fields == ALL_FIELDS:  # the documented fields this object has
            return {name: data[name] for name in documented or () if name in data}
        return {name: data.get(name) for name in self.json_fields.split(",")}

    def _json_out(self, value: Any, *, lines: bool = False) -> None:
        if self.jq is not None:
            try:
                results = list(self.jq(value))
            except JqError as exc:
                raise click.UsageError(f"--jq: {exc}") from None
            for result in results:
                self._echo(render(result))
            return
        self._echo(json.dumps(value, default=str) if lines else json.dumps(value, indent=2, default=str))

    # --- what commands call ---------------------------------------------------------------

    def record(self, data: Mapping[str, Any], human: Sequence[str]) -> None:
        """One object: JSON (its chosen fields), or the human lines."""
        if self.as_json:
            self._json_out(self.pick(data))
            return
        for line in human:
            self._echo(line)

    def table(
        self,
        rows: Sequence[Mapping[str, Any]],
        columns: Sequence[Column],
        *,
        empty: str | None = None,
        more: str | None = None,
    ) -> None:
        """A list: a JSON array, a table on a terminal, or tab-separated rows when piped.

        ``empty`` is said (on stderr) when there are no rows, ``more`` when rows were left out."""
        if self.as_json:
            self._json_out([self.pick(row) for row in rows])
        elif self.terminal.stdout_tty and rows:  # no rows: no header either, only ``empty``
            for line in fit_table(rows, columns, self.terminal.columns, paint=self.paint):
                self._echo(line)
        else:
            for row in rows:
                self._echo("\t".join(_cell(column.show(row.get(column.field))) for column in columns))
        if not rows and empty:
            self.note(empty)
        if more:
            self.note(more)

    def document(self, value: Any) -> None:
        """Any JSON value as it is (the server's answer to ``api``): indented, or through --jq."""
        self._json_out(value)

    def text(self, text: str) -> None:
        """A text that is not JSON (a non-JSON answer to ``api``), as it is."""
        if self.jq is not None:
            raise click.UsageError("--jq: the answer is not JSON")
        self._echo(text, nl=not text.endswith("\n"))

    def line(self, data: Mapping[str, Any], human: str) -> None:
        """One item of a stream (events): a JSON line, or one human line."""
        if self.as_json:
            self._json_out(self.pick(data), lines=True)
        else:
            self._echo(human)

    def done(self, data: Mapping[str, Any], human: str, *, fields: tuple[str, ...] | None = None) -> None:
        """The confirmation of an action (stopped, deleted, saved): JSON, or a line unless -q.
        ``fields``: what a bare --json prints of it, when not the command's documented fields."""
        if self.as_json:
            self._json_out(self.pick(data, fields))
        elif not self.quiet:
            self._echo(human)

    def note(self, text: str) -> None:
        """A hint or remark for a person, on stderr; none with -q."""
        if not self.quiet:
            self._echo(text, err=True)

    def paint(self, text: str, outcome: str | None) -> str:
        """``text`` in the colour of ``outcome``, when colour is on."""
        color = _OUTCOME_COLORS.get(outcome or "")
        if not self.terminal.color or color is None:
            return text
        return click.style(text, fg=color)


def _cell(text: str) -> str:
    """A value as one tab-separated field: no tabs or line breaks inside."""
    return " ".join(text.split()) if text else "-"


def fit_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    width: int,
    *,
    paint: Callable[[str, str | None], str] | None = None,
) -> list[str]:
    """The table's lines, header first, no line wider than ``width``.

    Flexible columns give up space first (never below their header or 8 characters); a table
    still too wide is cut at the right edge."""
    cells = [
        [_cell((column.on_terminal or column.show)(row.get(column.field))) for column in columns]
        for row in rows
    ]
    widths = [
        max([len(column.header), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)
    ]
    gap = 2
    excess = sum(widths) + gap * (len(columns) - 1) - width
    for i, column in sorted(enumerate(columns), key=lambda item: -widths[item[0]]):
        if excess <= 0:
            break
        if column.flexible:
            floor = max(len(column.header), 8)
            give = min(excess, max(0, widths[i] - floor))
            widths[i] -= give
            excess -= give

    def join(values: Sequence[str], row: Mapping[str, Any] | None) -> str:
        parts = []
        for i, (column, value) in enumerate(zip(columns, values, strict=True)):
            text = value if len(value) <= widths[i] else value[: max(0, widths[i] - 1)] + "…"
            padded = text if i == len(columns) - 1 else text.ljust(widths[i])
            if paint is not None and row is not None and column.field == "outcome":
                padded = paint(padded, row.get("outcome"))
            parts.append(padded)
        line = (" " * gap).join(parts).rstrip()
        return line if _visible_length(line) <= width else _cut(line, width)

    lines = [join([column.header.upper() for column in columns], None)]
    lines += [join(values, row) for values, row in zip(cells, rows, strict=True)]
    return lines


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _visible_length(text: str) -> int:
    return len(_ANSI.sub("", text))


def _cut(line: str, width: int) -> str:
    """``line`` cut to ``width`` visible characters (colour codes kept whole and reset)."""
    out, seen, position = [], 0, 0
    for match in _ANSI.finditer(line):
        plain = line[position : match.start()]
        room = width - 1 - seen
        if len(plain) > room:
            out.append(plain[: max(0, room)] + "…\x1b[0m")
            return "".join(out)
        out.append(plain + match.group())
        seen += len(plain)
        position = match.end()
    plain = line[position:]
    room = width - 1 - seen
    out.append(plain if len(plain) <= width - seen else plain[: max(0, room)] + "…")
    return "".join(out)


# --- the options ----------------------------------------------------------------------------


def json_output(fields: Iterable[str], *, on_request: Iterable[str] = ()) -> Callable[[Any], Any]:
    """Give a command ``--json [FIELDS]`` and ``--jq EXPR``, with ``fields`` its documented JSON
    and ``on_request`` fields given only when named (``raw``: the server's own object).

    A bare ``--json`` (followed by an id, another option or nothing) means the documented
    fields: :func:`split_json_value` tells a field list from the next argument before click
    parses."""
    defaults = tuple(fields)
    names = defaults + tuple(on_request)

    def check(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        if value is None or value == ALL_FIELDS:
            return value
        unknown = [name for name in value.split(",") if name not in names]
        if unknown:
            raise click.BadParameter(
                f"no field {', '.join(unknown)}; the fields: {', '.join(names)}", ctx=ctx, param_hint="--json"
            )
        return value

    def decorate(func: Any) -> Any:
        func.__json_fields__ = names
        func.__json_defaults__ = defaults
        func = jq_option()(func)
        return click.option(
            "--json",
            "json_fields",
            metavar="[FIELDS]",
            callback=check,
            help="Print JSON (for scripts); FIELDS chooses some: " + ",".join(names) + ".",
        )(func)

    return decorate


def _check_jq(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Filter | None:
    if value is None:
        return None
    try:
        return compile_jq(value)
    except JqError as exc:
        raise click.BadParameter(str(exc), param_hint="--jq") from None


def jq_option() -> Callable[[Any], Any]:
    """``--jq EXPR`` alone, for a command whose JSON has no documented fields to choose
    (``api`` prints the server's answer): the filtered value goes to the command as ``jq``."""
    return click.option(
        "--jq",
        "jq",
        metavar="EXPR",
        callback=_check_jq,
        help='Filter the JSON with a jq expression (a subset: .a.b, .[], select(.f == "x"), length).',
    )


def split_json_value(args: list[str], fields: Sequence[str]) -> list[str]:
    """Rewrite a bare ``--json`` as ``--json=*`` unless the next argument is a field list, so
    that ``get --json ID`` keeps ID an argument and ``list --json id,title`` chooses fields."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out.extend(args[i:])
            break
        if arg == "--json":
            nxt = args[i + 1] if i + 1 < len(args) else None
            if nxt is not None and _FIELD_LIST.fullmatch(nxt) and set(nxt.split(",")) <= set(fields):
                out.append(f"--json={nxt}")
                i += 2
                continue
            out.append(f"--json={ALL_FIELDS}")
        else:
            out.append(arg)
        i += 1
    return out


def printer_for(
    ctx: click.Context, terminal: Terminal, *, json_fields: str | None, jq: Filter | None
) -> Printer:
    """The printer of the running command (``-q`` is kept in ``ctx.meta`` by the Command class)."""
    if jq is not None and json_fields is None:
        json_fields = ALL_FIELDS  # --jq filters the JSON: it implies --json
    return Printer(
        terminal,
        json_fields=json_fields,
        default_fields=getattr(ctx.command.callback, "__json_defaults__", None),
        jq=jq,
        quiet=bool(ctx.meta.get("quiet")),
    )
