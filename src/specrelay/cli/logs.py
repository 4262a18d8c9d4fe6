"""``specrelay logs``: a task's run.log, and (``--follow``) what it adds while the task runs."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from specrelay.cli.common import repo_root
from specrelay.cli.root import app

if TYPE_CHECKING:
    from specrelay.app.logs import Task

#: How long a log must stay quiet, its task not running, before --follow ends (a run just started
#: in the background takes a moment to take its task's lock).
QUIET_S = 1.5
POLL_S = 0.2


@app.command("logs")
def logs_command(
    task_id: str = typer.Argument(..., metavar="ID", help="The task: an id, a unique prefix, or last."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing while the task runs; end when it stops."),
) -> None:
    """Print a task's run.log: its progress, summary and errors, from every run and resume."""
    from specrelay.app.logs import run_log

    task, log = run_log(repo_root(), task_id, must_exist=not follow)  # reads only: creates nothing
    offset = _copy(log, 0)
    if not follow:
        return
    try:
        _follow(task, log, offset)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _follow(task: Task, log: Path, offset: int) -> None:
    from specrelay.app.logs import running

    quiet_since = time.monotonic()
    while True:
        new = _copy(log, offset)
        if new != offset:
            offset, quiet_since = new, time.monotonic()
        elif not running(task) and time.monotonic() - quiet_since >= QUIET_S:
            return
        time.sleep(POLL_S)


def _copy(log: Path, offset: int) -> int:
    """Write what the log holds past ``offset`` to stdout, whole lines only; the new offset."""
    from specrelay.app.logs import read_log

    chunk = read_log(log, offset)
    if chunk.data:
        sys.stdout.write(chunk.data.decode("utf-8", errors="replace"))
        sys.stdout.flush()
    return chunk.offset
