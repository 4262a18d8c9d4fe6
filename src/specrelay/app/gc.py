"""Garbage collection: remove the worktrees of merged and discarded tasks (and stray ones), never work.

The rules are ``engine/gc.py``'s; a face asks for a pass here and renders the report.
"""

from __future__ import annotations

from pathlib import Path

from specrelay.app.workspace import ledger_of
from specrelay.engine.gc import GcAction, GcReport, collect

__all__ = ["GcAction", "GcReport", "gc"]


def gc(root: Path, *, dry_run: bool = False, force: bool = False) -> GcReport:
    """Remove (``dry_run``: only list) what no task needs any more; ``force`` also what holds work."""
    with ledger_of(root, readonly=True) as ledger:  # gc removes worktrees; it only reads the ledger
        return collect(root, ledger, dry_run=dry_run, force=force)
