"""The root command, ``specrelay``: the Typer app every command module registers its commands on.

Apart from the package's ``__init__``, so that a command module imports it without importing the
package that imports every command module.
"""

from __future__ import annotations

import typer

from specrelay.cli.usage import App, HelpGroup

app = App(
    name="specrelay",
    help="Run a coding task through a team of models: plan, build, verify, review, in your own git repo.",
    cls=HelpGroup,
    no_args_is_help=True,
    # typer's --install-completion imports its shell detection at every start; `specrelay completion`
    # prints the same script only when asked.
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from specrelay import __version__

        print(f"specrelay {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print specrelay's version and exit."),
) -> None:
    pass
