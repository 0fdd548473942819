"""``openhands-api completion SHELL``: the shell's completion script, as click writes it.

The script calls ``openhands-api`` back with ``_OPENHANDS_API_COMPLETE`` set whenever the
user presses Tab; click answers with the commands and options that fit (no request is sent).
"""

from __future__ import annotations

import click

from . import exit_codes
from .app import cli, handle_errors, output

PROGRAM = "openhands-api"
COMPLETE_VARIABLE = "_OPENHANDS_API_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


@cli.command("completion", epilog=exit_codes.SEE_EXIT_CODES)
@click.argument("shell", type=click.Choice(SHELLS))
@handle_errors
def completion_command(shell: str) -> None:
    """Print the shell completion script for bash, zsh or fish.

    Load it in your shell's startup file; Tab then completes commands and options.

    \b
    Examples:
      eval "$(openhands-api completion bash)"    # in ~/.bashrc
      eval "$(openhands-api completion zsh)"     # in ~/.zshrc
      openhands-api completion fish > \\
          ~/.config/fish/completions/openhands-api.fish
    """
    from click.shell_completion import get_completion_class

    completion_class = get_completion_class(shell)
    if completion_class is None:  # click knows every name the Choice allows
        raise click.UsageError(f"no completion for {shell}")
    script = completion_class(cli, {}, PROGRAM, COMPLETE_VARIABLE).source()
    output().text(script)
