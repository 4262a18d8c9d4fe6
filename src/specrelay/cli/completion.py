"""``specrelay completion``: the shell script that completes specrelay's commands and options."""

from __future__ import annotations

import os

import typer

from specrelay.cli.root import app
from specrelay.errors import UserError

SHELLS = ("bash", "zsh", "fish", "powershell")
COMPLETE_VAR = "_SPECRELAY_COMPLETE"


@app.command("completion")
def completion_command(
    shell: str | None = typer.Argument(None, metavar="SHELL", help=(
        "bash, zsh, fish or powershell (default: the shell in $SHELL).")),
) -> None:
    """Print the shell completion script; e.g. `eval "$(specrelay completion bash)"` in ~/.bashrc."""
    from typer._completion_shared import get_completion_script

    name = shell or os.path.basename(os.environ.get("SHELL", "")) or "bash"
    if name == "pwsh":
        name = "powershell"
    if name not in SHELLS:
        raise UserError(f"completion for '{name}' is not available; name one of {', '.join(SHELLS)}, "
                        "e.g. `specrelay completion bash`.")
    # The tab key runs `specrelay` with this variable set; typer answers it before any command runs.
    print(get_completion_script(prog_name="specrelay", complete_var=COMPLETE_VAR, shell=name))
