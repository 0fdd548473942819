"""Reading a prompt from ``--prompt``, a file, or stdin, with every way that can go wrong
turned into one clear sentence (raised as :class:`InputProblem`, exit code 2)."""

from __future__ import annotations

import sys
from pathlib import Path

MAX_PROMPT_BYTES = 1_000_000


class InputProblem(Exception):
    """Bad command-line input, described in one sentence."""


def read_text_file(path_text: str, what: str) -> str:
    """The UTF-8 text of ``path_text`` (``-`` is stdin), refusing what cannot be a prompt."""
    if path_text == "-":
        if sys.stdin.isatty():  # a person at a terminal may not know the command waits for them
            print(f"reading the {what.removesuffix(' file')} from stdin; end with Ctrl-D", file=sys.stderr)
        data = sys.stdin.buffer.read(MAX_PROMPT_BYTES + 1)
        source = "standard input"
    else:
        path = Path(path_text)
        source = str(path)
        if not path.exists():
            raise InputProblem(f"The {what} {source} does not exist")
        if path.is_dir():
            raise InputProblem(f"The {what} {source} is a directory, not a file")
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_PROMPT_BYTES + 1)
        except OSError as exc:
            raise InputProblem(f"The {what} {source} cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_PROMPT_BYTES:
        raise InputProblem(f"The {what} {source} is larger than {MAX_PROMPT_BYTES // 1000} kB")
    if b"\x00" in data:
        raise InputProblem(f"The {what} {source} looks binary (it contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputProblem(f"The {what} {source} is not UTF-8 text") from None
    return text.removeprefix("\ufeff")


def resolve_prompt(prompt: str | None, prompt_file: str | None, append_file: str | None) -> str:
    """The message to send: ``--prompt`` or ``--prompt-file``, plus ``--append-file``."""
    if prompt is not None and prompt_file is not None:
        raise InputProblem("Give either --prompt or --prompt-file, not both")
    if prompt is None and prompt_file is None:
        raise InputProblem("Give the task with --prompt TEXT or --prompt-file PATH (- for stdin)")
    text = prompt if prompt is not None else read_text_file(str(prompt_file), "prompt file")
    if not text.strip():
        raise InputProblem("The prompt is empty; give the agent something to do")
    if append_file is not None:
        tail = read_text_file(append_file, "append file")
        text = f"{text.rstrip()}\n\n{tail}"
    return text
