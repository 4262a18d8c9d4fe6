"""Helpers the commands share: consoles, the repository root, money and token formatting."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console


class PipeSafe:
    """stdout that a reader closing early (``specrelay status | head -1``) does not break.

    The first write that meets a closed pipe points the descriptor at /dev/null; the command goes on
    (a ``run`` keeps running its task) and ends as it would have, with nothing more said.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_devnull()

    def _to_devnull(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _console(*, stderr: bool = False) -> Console:
    """A console that wraps lines only for a terminal: piped or redirected, a line stays one line, so a
    command, a path or an id is never split at column 80 (``| grep``, ``| xargs`` and copying all work)."""
    out = Console(stderr=stderr, highlight=False)
    out.soft_wrap = not out.is_terminal
    return out


console = _console()
err_console = _console(stderr=True)


def detect_terminal() -> None:
    """Look again at stdout, stderr and the environment (width, colour, wrapping) for both consoles.

    They are made at import, which in a process of its own is when the command starts; a host that
    runs commands one after another in one process (the tests) calls this before each. The consoles
    are updated in place, since the command modules hold them by name.
    """
    for out in (console, err_console):
        out.__dict__.update(_console(stderr=out.stderr).__dict__)


def write_bytes(data: bytes) -> None:
    """Write ``data`` to stdout exactly as it is: no wrapping, no re-encoding, no added newline."""
    sys.stdout.flush()
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except BrokenPipeError:  # a reader that stopped early (`| head`): nothing more to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def print_error(message: str, *, label: str = "error") -> None:
    """One line on stderr: ``error: MESSAGE`` (or another label, e.g. ``paused`` for an interrupt)."""
    from rich.markup import escape

    err_console.print(f"[bold red]{label}:[/] {escape(message)}", markup=True, soft_wrap=True)


@contextmanager
def stopped_as_interrupted(what: str, on_stop: Callable[[str], None] | None = None) -> Iterator[None]:
    """A command that runs no task, stopped by Ctrl-C (or SIGTERM, which its app function turns into one):
    one line saying so, and 128 + the signal as the exit code (the typer default is a silent 130).
    ``on_stop`` hears the line's message first (``review --json`` prints it as its JSON's error)."""
    import typer

    from specrelay.app.exits import interrupted_code

    try:
        yield
    except KeyboardInterrupt:
        message = f"{what} stopped; a call already sent is in the ledger as interrupted, its cost unknown."
        if on_stop is not None:
            on_stop(message)
        print_error(message, label="interrupted")
        raise typer.Exit(interrupted_code()) from None


def print_json(data: Any) -> None:
    """Print ``data`` as JSON, every amount in USD (a ``*_usd`` key) rounded to the micro-dollar and
    every duration in seconds (a ``*_s`` key, ``latency_s``) to the millisecond (:mod:`specrelay.app.jsonout`)."""
    from specrelay.app.jsonout import dumps

    sys.stdout.write(dumps(data) + "\n")


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 call``, ``2 calls``, ``0 findings``: the one rule of :func:`specrelay.text.plural`."""
    from specrelay.text import plural as one_rule

    return one_rule(n, word, many)


def calls_text(ok: int, failed: int) -> str:
    """``3 calls``, or ``2 calls + 1 failed attempt``: answered calls and failed attempts apart."""
    return plural(ok, "call") + (f" + {plural(failed, 'failed attempt')}" if failed else "")


def age(seconds: float) -> str:
    """A short age: ``40s``, ``3m``, ``2h``, ``5d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"


def print_table(columns: list[str], rows: list[list[str]], *, right: tuple[str, ...] = (), out: Any = None,
                title: str | None = None, boxed: bool = True) -> None:
    """A table: boxed in a terminal wide enough for every cell; otherwise (piped, narrow) plain columns
    separated by two spaces, never cutting a cell short (lines may then be longer than the screen).

    Every table specrelay prints goes through here, so none of them ever shows ``gp…`` for a name."""
    to = out or console
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    if to.is_terminal and sum(widths) + 3 * len(columns) + 1 <= to.width:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title) if boxed else Table(title=title, show_edge=False, box=None, pad_edge=False)
        for col in columns:
            table.add_column(col, justify="right" if col in right else "left", no_wrap=True)
        for r in rows:
            table.add_row(*(Text(c) for c in r))
        to.print(table, markup=False)
        return

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if col in right else c.ljust(w)
                         for c, w, col in zip(cells, widths, columns, strict=True)).rstrip()

    if title:
        to.print(f"{title}:", markup=False, highlight=False, soft_wrap=True)
    for cells in (columns, *rows):
        to.print(line(cells), markup=False, highlight=False, soft_wrap=True)


def exit_code(error: BaseException) -> int:
    """The exit code for an error: 128 + the signal for an interrupted run (130 Ctrl-C, 143 SIGTERM)."""
    from specrelay.app.exits import exit_code as policy

    return policy(error)


def repo_root_or_none(start: Path | None = None) -> Path | None:
    """The repository's root, or None outside any repository."""
    from specrelay.app.workspace import root_or_none

    return root_or_none(start)


def repo_root(start: Path | None = None) -> Path:
    """The repository's root; a GitError outside one."""
    from specrelay.app.workspace import find_root

    return find_root(start)


def money(value: float | None, *, simulated: bool = False) -> str:
    if value is None:
        return "unknown"
    text = f"${value:,.4f}" if value < 1 else f"${value:,.2f}"
    return text + (" (simulated)" if simulated else "")


def task_cost(known: float | None, unknown: int, simulated: bool) -> str:
    """A task's cost: the known part, and how many calls had no price; a star when simulated."""
    text = "unknown" if known is None else money(known)
    if unknown and known is not None:
        text += f" + {unknown} unpriced"
    return text + ("*" if simulated else "")


def tokens(n: int | None) -> str:
    return f"{n or 0:,}"
