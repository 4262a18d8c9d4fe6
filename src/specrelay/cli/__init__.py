"""The command line: thin commands that parse, call the layers below, and render.

Every ``SpecRelayError`` becomes one line on stderr and a non-zero exit; a traceback reaching the
user is a bug.
"""

from __future__ import annotations

import os
import sys

# pydantic (used by typer for every parameter, and by the config) otherwise scans every installed
# package's metadata for plugins at import; specrelay uses none, and the scan slows every command.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import typer  # noqa: E402

from specrelay.errors import SpecRelayError

app = typer.Typer(
    name="specrelay",
    help="Run a coding task through a team of models: plan, build, verify, review, in your own git repo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _register() -> None:
    # Command modules import only light things at top level, so that --help stays fast.
    from specrelay.cli import ask, cost, demo, gc, init, presets, review, run, tasks, workflows  # noqa: F401


_register()


def main() -> None:
    """Console entry point."""
    from specrelay.cli.common import print_error

    try:
        code = app(standalone_mode=False)
    except SpecRelayError as exc:
        print_error(str(exc))
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        print_error("interrupted")
        sys.exit(130)
    except typer.TyperException as exc:  # a mistyped command, option or value: one line, like any error
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":  # plain `specrelay`: the help, as asked
            print(message)
            sys.exit(0)
        print_error(f"{message} (see `specrelay --help`)")
        sys.exit(2)
    except Exception as exc:  # a bug: say so in one line; the traceback only on request
        if os.environ.get("SPECRELAY_DEBUG"):
            raise
        print_error(f"internal error: {type(exc).__name__}: {exc} (this is a bug in specrelay; "
                    "run again with SPECRELAY_DEBUG=1 to see the traceback)")
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
