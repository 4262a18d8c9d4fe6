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


def cache_dir() -> Path:
    """Where specrelay keeps what it can work out again (an agent binary's version): under
    ``$SPECRELAY_HOME`` when set, else ``$XDG_CACHE_HOME/specrelay`` (``~/.cache/specrelay``)."""
    env = os.environ.get("SPECRELAY_HOME")
    if env:
        return Path(env).expanduser() / "cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "specrelay"


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


def parts_dir(root: Path, task_id: str) -> Path:
    """Where the worktrees of a task's parallel builders live (one per workstream or group of findings)."""
    return project_dir(root) / "parts" / task_id


def reviews_dir(root: Path) -> Path:
    return project_dir(root) / "reviews"


def data_dir() -> Path:
    """Package data shipped with specrelay (built-in presets, workflow templates, demo)."""
    return Path(__file__).parent / "data"


def make_dir(path: Path, *, exist_ok: bool = True) -> None:
    """Create ``path`` and its parents, or raise a UserError naming what is in the way and the fix.

    A file where a folder should be, or a folder the user cannot write to, is the user's to fix;
    it must read as such, not as a traceback.
    """
    from specrelay.errors import UserError

    try:
        path.mkdir(parents=True, exist_ok=exist_ok)
    except (FileExistsError, NotADirectoryError) as exc:
        raise UserError(file_in_the_way(path) or f"{path} already exists.") from exc
    except PermissionError as exc:
        raise UserError(not_writable(path)) from exc
    except OSError as exc:
        raise UserError(f"cannot create the folder {path}: {exc.strerror or exc}.") from exc


def file_in_the_way(folder: Path) -> str | None:
    """A sentence naming the file that stands where ``folder`` or one of its parents should be; None if none."""
    for candidate in (*reversed(folder.parents), folder):
        if candidate.exists() and not candidate.is_dir():
            return (f"{candidate} is a file, but specrelay keeps a folder there; move it aside "
                    f"(e.g. `mv {candidate} {candidate}.bak`), then run again.")
    return None


def not_writable(path: Path) -> str:
    """A sentence naming the folder or file that stops specrelay writing ``path``, and the fix."""
    existing = next((p for p in (path, *path.parents) if p.exists()), path)
    blocker = existing if not os.access(existing, os.W_OK) else path
    fix = f"make it writable (`chmod u+w {blocker}`)"
    try:
        owner = blocker.stat().st_uid
    except OSError:
        owner = os.geteuid()
    if owner != os.geteuid():
        fix += f" or run as its owner (uid {owner})"
    what = "" if blocker == path else f", so specrelay cannot create {path}"
    return f"{blocker} is not writable{what}; {fix}, then run again."
