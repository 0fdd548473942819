"""``--jq EXPR``: a small, documented subset of jq, so that a script needs no jq installed.

The subset covers what a script usually asks of this tool's JSON::

    .                      the input
    .name  .a.b  ."odd key"  fields (null when missing)
    .[]  .name[]           each element of an array (or each value of an object)
    .[N]  .[-1]            one element
    A | B                  B applied to each result of A
    A, B                   the results of A, then of B
    select(A OP LITERAL)   keep the input when the comparison holds (==, !=, <, <=, >, >=);
    select(A)              ... or when A is neither null nor false
    length, keys, not      as in jq

Literals are JSON: strings, numbers, true, false, null. Anything else is refused with a usage
error that points to piping ``--json`` into jq itself. Results print one a line: strings raw,
everything else as compact JSON (as ``gh --jq`` does).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

Filter = Callable[[Any], Iterator[Any]]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<op>==|!=|<=|>=|<|>|\.\.|[.|,()\[\]])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)

SUBSET = ".a.b, .[], .[N], A | B, A, B, select(A == LITERAL), length, keys, not"
"""The subset in one line, for error messages and help."""


class JqError(ValueError):
    """The expression is outside the subset, or does not apply to the input."""


def compile_jq(expression: str) -> Filter:
    """Parse ``expression``; raises :class:`JqError` naming what is not understood."""
    tokens = _tokenize(expression)
    parser = _Parser(tokens, expression)
    result = parser.pipe()
    if parser.position != len(tokens):
        raise JqError(f"unexpected {tokens[parser.position][1]!r} in {expression!r}")
    return result


def render(value: Any) -> str:
    """One result as it prints: a string raw, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _tokenize(expression: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    stripped = expression.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            raise JqError(f"cannot read {stripped[position:]!r} (the subset: {SUBSET})")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    if not tokens:
        raise JqError("the expression is empty")
    return tokens


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    "<": lambda a, b: _ordered(a, b, lambda x, y: x < y),
    "<=": lambda a, b: _ordered(a, b, lambda x, y: x <= y),
    ">": lambda a, b: _ordered(a, b, lambda x, y: x > y),
    ">=": lambda a, b: _ordered(a, b, lambda x, y: x >= y),
}


def _ordered(a: Any, b: Any, compare: Callable[[Any, Any], bool]) -> bool:
    try:
        return compare(a, b)
    except TypeError:
        return False  # null against a number, say: jq orders types; a script means "no"


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], expression: str) -> None:
        self.tokens = tokens
        self.position = 0
        self.expression = expression

    def _peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise JqError(f"{self.expression!r} ends too early")
        token = self.tokens[self.position]
        if expected is not None and token[1] != expected:
            raise JqError(f"expected {expected!r}, found {token[1]!r} in {self.expression!r}")
        self.position += 1
        return token

    def pipe(self) -> Filter:
        left = self.comma()
        while self._peek() == "|":
            self._take()
            left = _then(left, self.comma())
        return left

    def comma(self) -> Filter:
        parts = [self.term()]
        while self._peek() == ",":
            self._take()
            parts.append(self.term())
        if len(parts) == 1:
            return parts[0]
        return lambda value: (out for part in parts for out in part(value))

    def term(self) -> Filter:
        kind, text = self._take()
        if text == ".":
            return self._path_rest(_identity, first=True)
        if kind == "word" and text == "select":
            self._take("(")
            condition = self.condition()
            self._take(")")
            return lambda value: iter([value] if condition(value) else [])
        if kind == "word" and text in _BUILTINS:
            return _BUILTINS[text]
        if kind in ("string", "number") or text in ("true", "false", "null"):
            literal = json.loads(text)
            return lambda _value: iter([literal])
        raise JqError(f"{text!r} is outside the supported subset ({SUBSET}); for more, pipe --json into jq")

    def condition(self) -> Callable[[Any], bool]:
        left = self.pipe()
        op = self._peek()
        if op not in _COMPARE:
            return lambda value: any(out not in (None, False) for out in left(value))
        self._take()
        kind, text = self._take()
        if kind not in ("string", "number") and text not in ("true", "false", "null"):
            raise JqError(
                f"select compares with a literal (a string, number, true, false or null), not {text!r}"
            )
        literal, compare = json.loads(text), _COMPARE[op]
        return lambda value: any(compare(out, literal) for out in left(value))

    def _path_rest(self, base: Filter, *, first: bool) -> Filter:
        """After a ``.``: an optional field or bracket, then more ``.field`` / ``[...]``."""
        current = base
        expect_name = first
        while True:
            token = self.tokens[self.position] if self.position < len(self.tokens) else None
            if token is None:
                return current
            kind, text = token
            if expect_name and kind in ("word", "string"):
                self.position += 1
                current = _then(current, _field(json.loads(text) if kind == "string" else text))
                expect_name = False
            elif text == "[":
                self.position += 1
                current = _then(current, self._bracket())
                expect_name = False
            elif text == "." and not expect_name:
                self.position += 1
                expect_name = True
                nxt = self._peek()
                if nxt is None or (self.tokens[self.position][0] not in ("word", "string") and nxt != "["):
                    raise JqError(f"a '.' must be followed by a field name in {self.expression!r}")
            else:
                return current

    def _bracket(self) -> Filter:
        if self._peek() == "]":
            self._take()
            return _each
        kind, text = self._take()
        self._take("]")
        if kind == "number" and re.fullmatch(r"-?\d+", text):
            return _index(int(text))
        if kind == "string":
            return _field(json.loads(text))
        raise JqError(f"[{text}] is outside the supported subset ({SUBSET})")


def _identity(value: Any) -> Iterator[Any]:
    yield value


def _then(first: Filter, second: Filter) -> Filter:
    return lambda value: (out for mid in first(value) for out in second(mid))


def _field(name: str) -> Filter:
    def read(value: Any) -> Iterator[Any]:
        if value is None:
            yield None
        elif isinstance(value, dict):
            yield value.get(name)
        else:
            raise JqError(f"cannot read field {name!r} of {_kind(value)}")

    return read


def _index(position: int) -> Filter:
    def read(value: Any) -> Iterator[Any]:
        if value is None:
            yield None
        elif isinstance(value, list):
            yield value[position] if -len(value) <= position < len(value) else None
        else:
            raise JqError(f"cannot index {_kind(value)} with a number")

    return read


def _each(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        yield from value
    elif isinstance(value, dict):
        yield from value.values()
    else:
        raise JqError(f"cannot iterate over {_kind(value)}")


def _length(value: Any) -> Iterator[Any]:
    if value is None:
        yield 0
    elif isinstance(value, (list, dict, str)):
        yield len(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield abs(value)
    else:
        raise JqError(f"{_kind(value)} has no length")


def _keys(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield sorted(value)
    elif isinstance(value, list):
        yield list(range(len(value)))
    else:
        raise JqError(f"{_kind(value)} has no keys")


def _not(value: Any) -> Iterator[Any]:
    yield value in (None, False)


_BUILTINS: dict[str, Filter] = {"length": _length, "keys": _keys, "not": _not}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
