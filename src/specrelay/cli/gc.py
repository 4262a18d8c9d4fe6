"""``specrelay gc``: remove the worktrees of merged and discarded tasks, and stray ones; never lose work."""

from __future__ import annotations

import typer

from specrelay.cli.common import console, plural, print_json, repo_root
from specrelay.cli.root import app


@app.command("gc")
def gc_command(
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be removed; change nothing."),
    force: bool = typer.Option(False, "--force", help="Also remove worktrees with uncommitted changes."),
    json_out: bool = typer.Option(False, "--json", help="Print what was done (or, with --dry-run, would be) as JSON."),
) -> None:
    """Remove worktrees of merged or discarded tasks and stray ones; skips any with uncommitted work."""
    from specrelay.app.gc import gc

    report = gc(repo_root(), dry_run=dry_run, force=force)
    if json_out:
        print_json(report.to_json())
        return
    if not report.actions:
        console.print("Nothing to clean up.")
        return
    for action in report.actions:
        console.print(action.line(), markup=False, soft_wrap=True)
    verb = "would be removed" if dry_run else "removed"
    console.print(f"{plural(len(report.removed), 'item')} {verb}, {len(report.skipped)} skipped or kept."
                  + (" Run without --dry-run to remove them." if dry_run and report.removed else ""))
