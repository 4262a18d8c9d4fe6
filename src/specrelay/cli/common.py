"""Helpers the commands share: consoles, the repository root, money and token formatting."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_error(message: str) -> None:
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def repo_root_or_none(start: Path | None = None) -> Path | None:
    """The repository's root, or None outside any repository."""
    from specrelay.errors import GitError
    from specrelay.gitrepo import find_root

    try:
        return find_root(start or Path.cwd())
    except GitError:
        return None


def repo_root(start: Path | None = None) -> Path:
    """The repository's root; a GitError outside one."""
    from specrelay.gitrepo import find_root

    return find_root(start or Path.cwd())


def open_ledger(root: Path | None, *, readonly: bool = False, create: bool = True) -> Any:
    """The ledger of the repository (or the user's, outside one). Inside a repository, the folder it
    lives in is kept out of git through .git/info/exclude, whichever command creates it first.

    ``readonly`` is for the commands that only read: they create nothing (no folder, no ledger, no
    exclude line) and work on a ledger the user cannot write. ``create=False`` is for the commands
    that act on an existing task: without a ledger there is none, and they too create nothing.
    """
    from specrelay import gitrepo, paths
    from specrelay.ledger import Ledger

    path = paths.ledger_path(root)
    if readonly or (not create and not path.exists()):
        return Ledger(path, readonly=True)
    if root is not None and not path.exists():  # first use in this repository
        gitrepo.add_exclude(root)
    return Ledger(path)


def money(value: float | None, *, simulated: bool = False) -> str:
    if value is None:
        return "unknown"
    text = f"${value:,.4f}" if value < 1 else f"${value:,.2f}"
    return text + (" (simulated)" if simulated else "")


def task_cost(row: dict[str, Any]) -> str:
    """A task's cost: known part, and how many calls had no price; a star when simulated."""
    unknown = row.get("unknown_cost_calls") or 0
    known = row.get("cost_usd")
    text = "unknown" if known is None else money(known)
    if unknown and known is not None:
        text += f" + {unknown} unpriced"
    return text + ("*" if row.get("simulated") else "")


def tokens(n: int | None) -> str:
    return f"{n or 0:,}"
