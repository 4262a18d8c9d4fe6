"""``specrelay logs``: a task's run.log, and (``--follow``) what it adds while the task runs."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from specrelay.cli.common import open_ledger, repo_root
from specrelay.cli.root import app
from specrelay.errors import UserError

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
    from specrelay.engine.task import load_task

    root = repo_root()
    task = load_task(root, open_ledger(root, readonly=True), task_id)  # reads only: creates nothing
    log = task.folder / "run.log"
    if not log.is_file() and not follow:
        raise UserError(f"task {task.id} has no run.log yet in {task.folder} (it has not run since specrelay "
                        "began writing one); `specrelay show " + task.id + "` has its summary.")
    offset = _copy(log, 0)
    if not follow:
        return
    try:
        _follow(task.folder, log, offset)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _follow(folder: Path, log: Path, offset: int) -> None:
    from specrelay.engine.lock import is_running

    quiet_since = time.monotonic()
    while True:
        new = _copy(log, offset)
        if new != offset:
            offset, quiet_since = new, time.monotonic()
        elif not is_running(folder) and time.monotonic() - quiet_since >= QUIET_S:
            return
        time.sleep(POLL_S)


def _copy(log: Path, offset: int) -> int:
    """Write what the log holds past ``offset`` to stdout, whole lines only; the new offset."""
    try:
        with log.open("rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return offset
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]  # a line still being written waits for its end
    if data:
        sys.stdout.write(data.decode("utf-8", errors="replace"))
        sys.stdout.flush()
    return offset + len(data)
