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

from specrelay.cli.root import app  # noqa: E402
from specrelay.errors import Interrupted, SpecRelayError  # noqa: E402


def _register() -> None:
    # Each command module registers its commands on the root app. Command modules import only light
    # things at top level, so that --help stays fast.
    from specrelay.cli import (  # noqa: F401
        ask,
        completion,
        cost,
        demo,
        diff,
        eval,
        gc,
        init,
        logs,
        mcp,
        presets,
        review,
        routes,
        run,
        serve,
        tasks,
        worker,
        workflows,
    )


_register()


def main() -> None:
    """Console entry point."""
    from specrelay.cli.common import PipeSafe, exit_code, print_error

    if not isinstance(sys.stdout, PipeSafe):
        sys.stdout = PipeSafe(sys.stdout)

    if os.environ.get("_SPECRELAY_COMPLETE"):  # the shell asks for completions (`specrelay completion`)
        from typer._completion_classes import completion_init

        completion_init()
    try:
        code = app(prog_name="specrelay", standalone_mode=False)
    except SpecRelayError as exc:
        # A pause the user asked for (Ctrl-C, SIGTERM) is not an error: it says how to go on.
        print_error(str(exc), label="paused" if isinstance(exc, Interrupted) else "error")
        sys.exit(exit_code(exc))
    except (KeyboardInterrupt, typer.Abort):  # Ctrl-C, or SIGTERM where it acts as one (ask, review)
        from specrelay.app.exits import interrupted_code

        print_error("interrupted")
        sys.exit(interrupted_code())
    except typer.TyperException as exc:  # a mistyped command, option or value: one line, like any error
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":  # plain `specrelay`: the help, as asked
            print(message)
            sys.exit(0)
        ctx = getattr(exc, "ctx", None)  # the command the mistake is in: its own help is the one to read
        where = ctx.command_path if ctx is not None and ctx.command_path else "specrelay"
        print_error(f"{message} (see `{where} -h`)")
        sys.exit(2)
    except Exception as exc:  # a bug: say so in one line; the traceback only on request
        if os.environ.get("SPECRELAY_DEBUG"):
            raise
        print_error(f"internal error: {type(exc).__name__}: {exc} (this is a bug in specrelay; "
                    "run again with SPECRELAY_DEBUG=1 to see the traceback)")
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


def entry() -> None:
    """The process's entry point (``specrelay``, ``python -m specrelay``): :func:`main`, then its exit.

    A process that talked to Temporal ends with ``os._exit`` once its output is flushed: temporalio's
    runtime may hang or abort at interpreter exit after its work is done (temporalio/sdk-python#300).
    """
    try:
        main()
        code = 0
    except SystemExit as exc:
        if "temporalio" not in sys.modules:
            raise
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    if "temporalio" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
