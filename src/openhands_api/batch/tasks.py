"""The tasks of a batch run: :class:`Task`, and :func:`load_tasks` for a task file.

A task file has one task per row: JSON lines (``.jsonl``), a JSON array (``.json``), CSV
(``.csv``, a header row first) or YAML (``.yaml``/``.yml``, a list of mappings; needs PyYAML,
``pip install 'openhands-api[batch]'``). A row's fields:

* ``prompt`` — the first message, taken as it is; or ``template`` — a text whose ``{{KEY}}``
  placeholders are filled from the row's other fields (every column, and the keys of a
  ``variables`` mapping). A ``template`` given to :func:`load_tasks` serves every row that has
  neither.
* ``id`` — optional, the task's stable key (see :attr:`Task.key`).
* ``repository``, ``branch``, ``title``, ``git_provider`` — as in ``create_conversation``.
* ``options`` — a mapping of further create options (a JSON object in a CSV cell); a column
  named like a create option of either API generation (``conversation_instructions``,
  ``image_urls``, ``agent_type`` …) is one too.

A row with ``prompt`` that has any other non-empty field is refused (a typo such as
``reposiotry`` would otherwise be dropped silently); in a template row, other fields are
variables. Every error names the file and the line (JSON lines, CSV) or item (JSON, YAML).
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..protocol import v0, v1
from ..templates import PLACEHOLDER_NAME, TemplateError, fill_template

__all__ = ["MissingDependencyError", "Task", "TaskFileError", "load_tasks", "tasks_from_rows"]

# The create fields a Task has a name for; everything else a create takes goes in ``options``.
TASK_FIELDS = ("id", "prompt", "template", "repository", "branch", "title", "git_provider")
OPTION_FIELDS = frozenset(v0.CREATE_FIELDS) | frozenset(v1.CREATE_OPTIONS)
# conversation_id is chosen by the batch itself (V1's exactly-once lookup needs it recorded
# before the create is sent); a row may not set it.
RESERVED_OPTIONS = frozenset(
    {"conversation_id", "initial_user_msg", "selected_branch", "selected_repository"}
)


class TaskFileError(InvalidInputError):
    """A task file, or a row of it, that cannot be read. ``path`` and ``location`` (``"line
    3"``, ``"item 2"``; None for the whole file) say where."""

    def __init__(self, message: str, *, path: str | None = None, location: str | None = None) -> None:
        where = ", ".join(part for part in (path, location) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.location = location


class MissingDependencyError(TaskFileError):
    """A task file format whose reader is not installed (YAML needs PyYAML)."""


@dataclass(frozen=True)
class Task:
    """One task of a batch: what to create. Either ``prompt`` (taken as it is) or
    ``template`` with ``variables`` (its ``{{KEY}}`` placeholders filled from them).

    ``key`` identifies the task in a state file across runs: ``id`` when given, else a
    hash of what the task sends (the filled prompt, repository, branch, title, provider and
    options). So re-running the same file maps each row to its record again. A row whose
    content changes without an ``id`` is a new task (its old record stays in the state file,
    no longer run); a row with an ``id`` keeps its record, and a change to it is used only if
    the task has not started yet (a started one is never created again).
    """

    prompt: str | None = None
    template: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    id: str | None = None
    repository: str | None = None
    branch: str | None = None
    title: str | None = None
    git_provider: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    # Where the task came from ("tasks.csv, line 4"), for messages; not part of its identity.
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.template is None):
            raise InvalidInputError(self._where("a task needs either a prompt or a template (not both)"))
        if self.id is not None and not str(self.id).strip():
            raise InvalidInputError(self._where("the task id is empty"))
        reserved = sorted(set(self.options) & RESERVED_OPTIONS)
        if reserved:
            raise InvalidInputError(
                self._where(f"option(s) {', '.join(reserved)} cannot be set on a batch task")
            )
        # Fill now, so that a missing variable is an error at load time, not mid-batch.
        object.__setattr__(self, "_text", self._fill())

    def _where(self, message: str) -> str:
        return f"{self.source}: {message}" if self.source else message

    def _fill(self) -> str:
        if self.prompt is not None:
            text = self.prompt
        else:
            assert self.template is not None
            text = _fill_template(self.template, self.variables, self._where)
        if not text.strip():
            raise InvalidInputError(self._where("the prompt is empty"))
        return text

    @property
    def text(self) -> str:
        """The first message to send: the prompt, or the filled template."""
        return str(self.__dict__["_text"])

    def create_arguments(self) -> dict[str, Any]:
        """The keyword arguments of ``create_conversation`` for this task (``prompt`` included);
        options set to None are left out."""
        arguments: dict[str, Any] = {"prompt": self.text}
        for name in ("repository", "branch", "title", "git_provider"):
            value = getattr(self, name)
            if value is not None:
                arguments[name] = value
        arguments.update({k: v for k, v in self.options.items() if v is not None})
        return arguments

    @property
    def key(self) -> str:
        if self.id is not None:
            return f"id:{self.id}"
        return f"sha256:{self.content_hash}"

    @property
    def content_hash(self) -> str:
        """A hash of what this task sends (its create arguments), the same in every run."""
        canonical = json.dumps(self.create_arguments(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


# ---------------------------------------------------------------------------- templates


def _fill_template(template: str, variables: Mapping[str, str], where: Any) -> str:
    """The row's prompt: every ``{{KEY}}`` of the template filled from the row's fields (the
    library's one template syntax, :func:`openhands_api.templates.fill_template`). A row holds
    more fields than its template uses, and may name some that cannot be placeholders."""
    usable = {name: str(value) for name, value in variables.items() if PLACEHOLDER_NAME.fullmatch(name)}
    try:
        return fill_template(template, usable, allow_unused=True)
    except TemplateError as exc:
        raise InvalidInputError(where(f"{exc.message} (a field of the row, or in 'variables')")) from None


# ---------------------------------------------------------------------------- rows


def _text_field(row: Mapping[str, Any], name: str, where: str) -> str | None:
    value = row.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and name == "id":
        return str(value)
    if not isinstance(value, str):
        raise InvalidInputError(f"{where}: '{name}' must be text, not {type(value).__name__}")
    return value


def _mapping_field(row: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    value = row.get(name)
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        # CSV cells hold JSON.
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{where}: '{name}' is not a JSON object ({exc.msg})") from None
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{where}: '{name}' must be a mapping (a JSON object)")
    return dict(value)


def task_from_row(
    row: Mapping[str, Any],
    *,
    where: str,
    template: str | None = None,
    shared_variables: Mapping[str, str] | None = None,
) -> Task:
    """One row (a mapping of field names to values) as a Task; ``where`` names it in errors.
    ``shared_variables`` fill a template's placeholders that the row does not (the row wins)."""
    if not isinstance(row, Mapping):
        raise InvalidInputError(f"{where}: a task must be a mapping of fields, not {type(row).__name__}")
    for name in row:
        if not isinstance(name, str):
            raise InvalidInputError(f"{where}: field names must be text, not {name!r}")
    prompt = _text_field(row, "prompt", where)
    row_template = _text_field(row, "template", where)
    if prompt is not None and row_template is not None:
        raise InvalidInputError(f"{where}: give 'prompt' or 'template', not both")
    if prompt is None and row_template is None:
        row_template = template
    if prompt is None and row_template is None:
        raise InvalidInputError(f"{where}: the row has neither 'prompt' nor 'template'")
    options = _mapping_field(row, "options", where)
    variables = {k: str(v) for k, v in _mapping_field(row, "variables", where).items()}
    others = {
        name: value
        for name, value in row.items()
        if name not in (*TASK_FIELDS, "options", "variables") and value is not None and value != ""
    }
    for name, value in others.items():
        if name in OPTION_FIELDS:
            options.setdefault(name, value)
    unknown = {name: value for name, value in others.items() if name not in OPTION_FIELDS}
    if prompt is not None and (unknown or variables):
        names = ", ".join(sorted({*unknown, *(["variables"] if variables else [])}))
        raise InvalidInputError(
            f"{where}: unknown field(s) {names} in a prompt row (fields: {', '.join(TASK_FIELDS)}, "
            "options, or a create option; variables are for a template row)"
        )
    filling: dict[str, str] = {}
    if row_template is not None:
        # Every field of the row may fill the template; 'variables' wins over a column, and
        # both over the variables given for every row.
        filling = dict(shared_variables or {})
        filling |= {
            name: value if isinstance(value, str) else json.dumps(value)
            for name, value in row.items()
            if isinstance(name, str)
            and value is not None
            and name not in ("template", "variables", "options")
        }
        filling.update(variables)
    return Task(
        prompt=prompt,
        template=row_template,
        variables=filling,
        id=_text_field(row, "id", where),
        repository=_text_field(row, "repository", where),
        branch=_text_field(row, "branch", where),
        title=_text_field(row, "title", where),
        git_provider=_text_field(row, "git_provider", where),
        options=options,
        source=where,
    )


def tasks_from_rows(
    rows: Iterable[Mapping[str, Any]], *, template: str | None = None, name: str = "task"
) -> list[Task]:
    """Tasks from rows built in code (mappings as in a task file), keys checked unique."""
    return _unique(
        (
            task_from_row(row, where=f"{name} {number}", template=template)
            for number, row in enumerate(rows, 1)
        ),
        None,
    )


def _unique(tasks: Iterable[Task], path: str | None) -> list[Task]:
    out: list[Task] = []
    seen: dict[str, str | None] = {}
    for task in tasks:
        earlier = seen.get(task.key, "")
        if earlier != "":
            why = "the same id" if task.id is not None else "the same content (give the rows an 'id')"
            raise TaskFileError(f"{task.source}: {why} as {earlier}")
        seen[task.key] = task.source
        out.append(task)
    if not out:
        raise TaskFileError("no tasks", path=path)
    return out


# ---------------------------------------------------------------------------- files


def load_tasks(
    path: str | Path, *, template: str | None = None, variables: Mapping[str, str] | None = None
) -> list[Task]:
    """The tasks of a task file (format by extension: .jsonl, .json, .csv, .yaml/.yml).

    ``template``: the template of every row without ``prompt`` or ``template``;
    ``variables``: values for every template row's placeholders that the row does not fill. Raises
    TaskFileError (an InvalidInputError) naming the file and the row; MissingDependencyError
    for YAML without PyYAML."""
    file = Path(path)
    name = str(path)
    suffix = file.suffix.lower()
    readers = {".jsonl": _jsonl_rows, ".ndjson": _jsonl_rows, ".json": _json_rows, ".csv": _csv_rows}
    if suffix in (".yaml", ".yml"):
        reader = _yaml_rows
    elif suffix in readers:
        reader = readers[suffix]
    else:
        raise TaskFileError(
            f"unknown task file type {suffix or '(no extension)'}: use .jsonl, .json, .csv, .yaml or .yml",
            path=name,
        )
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TaskFileError("no such file", path=name) from None
    except UnicodeDecodeError:
        raise TaskFileError("not UTF-8 text", path=name) from None
    except OSError as exc:
        raise TaskFileError(f"cannot read it ({exc.strerror})", path=name) from None

    def tasks() -> Iterator[Task]:
        for where, row in reader(text, name):
            try:
                yield task_from_row(
                    row, where=f"{name}, {where}", template=template, shared_variables=variables
                )
            except TaskFileError:
                raise
            except InvalidInputError as exc:
                # The message names the file and the row already; the attributes say it too.
                error = TaskFileError(exc.problem)
                error.path, error.location = name, where
                raise error from None

    return _unique(tasks(), name)


def _jsonl_rows(text: str, name: str) -> Iterator[tuple[str, Any]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TaskFileError(
                f"not JSON ({exc.msg}, column {exc.colno})", path=name, location=f"line {number}"
            ) from None
        yield f"line {number}", row


def _json_rows(text: str, name: str) -> Iterator[tuple[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaskFileError(f"not JSON ({exc.msg})", path=name, location=f"line {exc.lineno}") from None
    if not isinstance(data, list):
        raise TaskFileError("a .json task file must hold an array of task objects", path=name)
    for number, row in enumerate(data, 1):
        yield f"item {number}", row


def _csv_rows(text: str, name: str) -> Iterator[tuple[str, Any]]:
    reader = csv.DictReader(text.splitlines(keepends=True), strict=True)
    try:
        header = reader.fieldnames
        if not header:
            raise TaskFileError("empty CSV file (a header row is needed)", path=name)
        if len(set(header)) != len(header):
            raise TaskFileError("the header row names a column twice", path=name, location="line 1")
        for row in reader:
            where = f"line {reader.line_num}"
            if None in row:
                raise TaskFileError("more cells than the header has columns", path=name, location=where)
            if all(value in (None, "") for value in row.values()):
                continue
            yield where, {k: v for k, v in row.items() if v is not None}
    except csv.Error as exc:
        raise TaskFileError(f"bad CSV ({exc})", path=name, location=f"line {reader.line_num}") from None


def _yaml_rows(text: str, name: str) -> Iterator[tuple[str, Any]]:
    try:
        # Imported by name: PyYAML is optional, and its type stubs are not a dependency.
        yaml = importlib.import_module("yaml")
    except ImportError:
        raise MissingDependencyError(
            "YAML task files need PyYAML: pip install pyyaml (or pip install 'openhands-api[batch]')",
            path=name,
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        location = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or "bad YAML"
        raise TaskFileError(f"not YAML ({problem})", path=name, location=location) from None
    if not isinstance(data, list):
        raise TaskFileError("a YAML task file must hold a list of task mappings", path=name)
    for number, row in enumerate(data, 1):
        yield f"item {number}", row
