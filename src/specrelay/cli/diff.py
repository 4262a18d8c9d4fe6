"""``specrelay diff``: what a task changed, from its base commit to its head."""

from __future__ import annotations

import sys
from typing import Any

import typer

from specrelay.cli.common import console, plural, print_json, repo_root
from specrelay.cli.root import app

_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"), ("diff ", "bold"))


@app.command("diff")
def diff_command(
    task_id: str = typer.Argument(..., metavar="ID", help="The task: an id, a unique prefix, or last."),
    stat: bool = typer.Option(False, "--stat", help="Only the files changed, with lines added and deleted."),
    json_out: bool = typer.Option(False, "--json", help="With --stat: print the diffstat as JSON."),
) -> None:
    """The task's diff, base..HEAD of its branch: plain text, no pager (coloured in a terminal)."""
    from specrelay.app import tasks

    root = repo_root()
    task = tasks.task_of(root, task_id)  # reads only: creates nothing
    if stat or json_out:
        stats = tasks.diffstat(root, task)
        if stats is None:
            tasks.diff(root, task)  # raises the reason there is no diff
            return
        if json_out:
            print_json({"id": task.id, "base_sha": task.base_sha, "branch": task.branch, **stats.to_json()})
        else:
            render_diffstat(stats.to_json())
        return
    text = tasks.diff(root, task)
    if not console.is_terminal:
        sys.stdout.write(text)
        return
    from rich.text import Text

    for line in text.splitlines():
        style = next((s for prefix, s in _STYLES if line.startswith(prefix)), "")
        console.print(Text(line, style=style), soft_wrap=True)


def diffstat_line(summary: dict[str, Any]) -> str:
    """``2 files changed, 10 insertions(+), 3 deletions(-)``, as git says it."""
    return (f"{plural(summary['files_changed'], 'file')} changed, "
            f"{plural(summary['insertions'], 'insertion')}(+), {plural(summary['deletions'], 'deletion')}(-)")


def render_diffstat(summary: dict[str, Any], out: Any = None) -> None:
    """One line per file (path, lines added and deleted), then the totals."""
    to = out or console
    width = max((len(f["path"]) for f in summary["files"]), default=0)
    for f in summary["files"]:
        counts = "binary" if f["binary"] else f"+{f['added']} -{f['deleted']}"
        to.print(f" {f['path'].ljust(width)} | {counts}", markup=False, highlight=False, soft_wrap=True)
    to.print(f" {diffstat_line(summary)}", markup=False, highlight=False)
