"""Where specrelay keeps things. Every path comes from here, so tests can point them at tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIRNAME = ".specrelay"


def home() -> Path:
    """The user-level folder: ``$SPECRELAY_HOME``, else ``~/.config/specrelay``."""
    env = os.environ.get("SPECRELAY_HOME")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "specrelay"


def user_config() -> Path:
    return home() / "config.toml"


def project_dir(root: Path) -> Path:
    """The folder specrelay owns inside a repository."""
    return root / PROJECT_DIRNAME


def project_config(root: Path) -> Path:
    return project_dir(root) / "config.toml"


def project_workflows(root: Path) -> Path:
    return project_dir(root) / "workflows"


def ledger_path(root: Path | None) -> Path:
    """The ledger of a repository, or the user-level one outside any repository."""
    if root is None:
        return home() / "ledger.db"
    return project_dir(root) / "ledger.db"


def tasks_dir(root: Path) -> Path:
    return project_dir(root) / "tasks"


def task_dir(root: Path, task_id: str) -> Path:
    return tasks_dir(root) / task_id


def worktrees_dir(root: Path) -> Path:
    return project_dir(root) / "worktrees"


def worktree_dir(root: Path, task_id: str) -> Path:
    return worktrees_dir(root) / task_id


def reviews_dir(root: Path) -> Path:
    return project_dir(root) / "reviews"


def data_dir() -> Path:
    """Package data shipped with specrelay (built-in presets, workflow templates, demo)."""
    return Path(__file__).parent / "data"
