"""load_tasks and Task: every task file format, the key of a row, templates, and errors that
name the file and the row."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from openhands_api import InvalidInputError
from openhands_api.batch import MissingDependencyError, Task, TaskFileError, load_tasks, tasks_from_rows

ROWS = [
    {"id": "a", "prompt": "Fix the bug", "repository": "owner/repo", "branch": "main"},
    {"template": "Review {{name}} in {{ repository }}", "name": "x.py", "repository": "owner/other"},
]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def check_rows(tasks: list[Task]) -> None:
    assert [t.text for t in tasks] == ["Fix the bug", "Review x.py in owner/other"]
    assert tasks[0].key == "id:a"
    assert tasks[0].create_arguments() == {
        "prompt": "Fix the bug",
        "repository": "owner/repo",
        "branch": "main",
    }
    assert tasks[1].key.startswith("sha256:")
    assert tasks[1].repository == "owner/other"


def test_jsonl(tmp_path: Path) -> None:
    text = "\n".join(json.dumps(row) for row in ROWS) + "\n\n"
    check_rows(load_tasks(write(tmp_path / "t.jsonl", text)))


def test_json_array(tmp_path: Path) -> None:
    check_rows(load_tasks(write(tmp_path / "t.json", json.dumps(ROWS))))


def test_csv(tmp_path: Path) -> None:
    text = (
        "id,prompt,template,name,repository,branch\n"
        "a,Fix the bug,,,owner/repo,main\n"
        ",,Review {{name}} in {{ repository }},x.py,owner/other,\n"
        ",,,,,\n"
    )
    check_rows(load_tasks(write(tmp_path / "t.csv", text)))


def test_yaml(tmp_path: Path) -> None:
    text = (
        "- id: a\n  prompt: Fix the bug\n  repository: owner/repo\n  branch: main\n"
        "- template: 'Review {{name}} in {{ repository }}'\n  name: x.py\n  repository: owner/other\n"
    )
    check_rows(load_tasks(write(tmp_path / "t.yaml", text)))


def test_yaml_without_pyyaml_names_the_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # as if PyYAML were not installed
    with pytest.raises(MissingDependencyError) as caught:
        load_tasks(write(tmp_path / "t.yml", "- prompt: hi\n"))
    assert isinstance(caught.value, InvalidInputError)
    assert "pip install pyyaml" in str(caught.value)
    assert "openhands-api[batch]" in str(caught.value)


def test_options_column_and_create_option_columns(tmp_path: Path) -> None:
    text = 'prompt,options,conversation_instructions\nHi,"{""llm_model"": ""m""}",Be brief\n'
    (task,) = load_tasks(write(tmp_path / "t.csv", text))
    assert task.create_arguments() == {
        "prompt": "Hi",
        "llm_model": "m",
        "conversation_instructions": "Be brief",
    }


def test_a_file_wide_template(tmp_path: Path) -> None:
    text = "name\nA\nB\n"
    tasks = load_tasks(write(tmp_path / "t.csv", text), template="Hello {{name}}")
    assert [t.text for t in tasks] == ["Hello A", "Hello B"]


def test_the_key_is_stable_and_follows_the_content() -> None:
    one = Task(prompt="Hi", repository="o/r")
    assert one.key == Task(prompt="Hi", repository="o/r").key
    assert one.key != Task(prompt="Hi", repository="o/other").key
    # A template and a prompt that send the same text are the same task.
    assert one.key == Task(template="{{x}}", variables={"x": "Hi"}, repository="o/r").key
    # An explicit id is the key, whatever the content.
    assert Task(id="7", prompt="a").key == Task(id="7", prompt="b").key == "id:7"


@pytest.mark.parametrize(
    ("name", "text", "where", "words"),
    [
        ("t.jsonl", '{"prompt": "a"}\n{"prompt": \n', "line 2", "not JSON"),
        ("t.jsonl", '{"prompt": "a"}\n["x"]\n', "line 2", "mapping"),
        ("t.jsonl", '{"prompt": "a", "reposiotry": "o/r"}\n', "line 1", "reposiotry"),
        ("t.jsonl", '{"template": "{{who}} {{what}}", "who": "me"}\n', "line 1", "what"),
        ("t.jsonl", '{"title": "no prompt"}\n', "line 1", "neither"),
        ("t.jsonl", '{"prompt": "a", "template": "b"}\n', "line 1", "not both"),
        ("t.jsonl", '{"prompt": "a", "conversation_id": "x"}\n', "line 1", "conversation_id"),
        ("t.jsonl", '{"prompt": "  "}\n', "line 1", "empty"),
        ("t.jsonl", '{"prompt": "a"}\n{"prompt": "a"}\n', "line 2", "same content"),
        ("t.jsonl", '{"id": 1, "prompt": "a"}\n{"id": "1", "prompt": "b"}\n', "line 2", "same id"),
        ("t.json", '{"prompt": "a"}', None, "array"),
        ("t.json", '[{"prompt": "a"}, {"prompt": 3}]', "item 2", "text"),
        ("t.csv", 'prompt\na\n"b\n', None, "CSV"),
        ("t.csv", "prompt\na,extra\n", "line 2", "more cells"),
        ("t.csv", "prompt,options\na,{bad\n", "line 2", "options"),
        ("t.yaml", "- prompt: a\n- prompt: [\n", "line", "YAML"),
        ("t.yaml", "prompt: a\n", None, "list"),
        ("t.txt", "prompt\n", None, "unknown task file type"),
        ("t.jsonl", "\n", None, "no tasks"),
    ],
)
def test_errors_name_the_file_and_the_row(
    tmp_path: Path, name: str, text: str, where: str | None, words: str
) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(TaskFileError) as caught:
        load_tasks(path)
    message = str(caught.value)
    assert str(path) in message
    if where is not None:
        assert where in message
    assert words in message


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TaskFileError, match="no such file"):
        load_tasks(tmp_path / "absent.jsonl")


def test_rows_built_in_code() -> None:
    tasks = tasks_from_rows([{"prompt": "a"}, {"template": "{{n}}!", "n": "b"}])
    assert [t.text for t in tasks] == ["a", "b!"]
    with pytest.raises(InvalidInputError, match="task 2"):
        tasks_from_rows([{"prompt": "a"}, {"prompt": "a"}])
