"""Prompt templates: ``{{NAME}}`` placeholders filled from named values.

One prompt, many runs (``new-conversation --var ISSUE=42``, batch runs): the text names what
changes between runs, and :func:`fill_template` puts the values in. Strict on purpose: a
placeholder without a value, or a value no placeholder uses (a typo in its name), is refused
with a :class:`TemplateError` naming them all, before anything is sent.

Syntax:

- ``{{NAME}}`` or ``{{ NAME }}``: NAME is letters, digits and ``_``, not starting with a digit
  (case matters). Other text in braces (``{{ a.b }}``, ``{{}}``, JSON) is not a placeholder
  and stays as it is.
- ``${{ … }}`` (a GitHub Actions expression, common in prompts about workflows) is never a
  placeholder.
- ``\\{{NAME}}``: a backslash before the braces keeps ``{{NAME}}`` literally (the backslash is
  removed).
- Values are put in as they are: a value that contains ``{{X}}`` is not filled again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .errors import InvalidInputError

__all__ = ["PLACEHOLDER_NAME", "TemplateError", "fill_template", "placeholders"]

PLACEHOLDER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What a placeholder's name may be."""

# An optional escape (``\`` or ``$``) before ``{{ NAME }}``: the escape decides what happens.
_PLACEHOLDER = re.compile(r"(?P<escape>[\\$]?)\{\{\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class TemplateError(InvalidInputError):
    """A template and its values do not fit: ``missing`` names placeholders without a value,
    ``unused`` values no placeholder uses, ``invalid`` names that cannot be placeholders
    (each sorted)."""

    def __init__(
        self,
        message: str,
        *,
        missing: tuple[str, ...] = (),
        unused: tuple[str, ...] = (),
        invalid: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.missing = missing
        self.unused = unused
        self.invalid = invalid


def placeholders(text: str) -> list[str]:
    """The names of the placeholders in ``text``, in order of first appearance."""
    found = (m.group("name") for m in _PLACEHOLDER.finditer(text) if not m.group("escape"))
    return list(dict.fromkeys(found))


def fill_template(text: str, variables: Mapping[str, str], *, allow_unused: bool = False) -> str:
    """``text`` with each ``{{NAME}}`` replaced by ``variables[NAME]``.

    Raises :class:`TemplateError` when a placeholder has no value, when a value is not used
    by any placeholder (unless ``allow_unused``: values shared by several templates), or when
    a name cannot be a placeholder's."""
    invalid = tuple(sorted(name for name in variables if not PLACEHOLDER_NAME.fullmatch(name)))
    if invalid:
        raise TemplateError(
            f"Not a valid variable name: {', '.join(repr(n) for n in invalid)} (names are letters, "
            "digits and '_', not starting with a digit)",
            invalid=invalid,
        )
    used = placeholders(text)
    missing = tuple(sorted(name for name in used if name not in variables))
    unused = () if allow_unused else tuple(sorted(set(variables) - set(used)))
    if missing or unused:
        problems = []
        if missing:
            problems.append("no value for " + ", ".join("{{" + name + "}}" for name in missing))
        if unused:
            problems.append("no placeholder uses " + ", ".join(unused) + " (a typo in the name?)")
        raise TemplateError(
            "The prompt template does not fit its variables: " + "; ".join(problems),
            missing=missing,
            unused=unused,
        )

    def replace(match: re.Match[str]) -> str:
        escape = match.group("escape")
        if escape == "\\":
            return match.group(0)[1:]
        if escape == "$":
            return match.group(0)
        return variables[match.group("name")]

    return _PLACEHOLDER.sub(replace, text)
