"""Keep edits inside the worktree: resolve a path a model wrote, or refuse it."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from specrelay.errors import OutsideWorktree

_DRIVE = re.compile(r"^[A-Za-z]:")


def resolve_in_worktree(root: Path, path: str) -> Path:
    """The real location of ``path`` inside the worktree ``root`` (already resolved).

    Refuses, with :class:`~specrelay.errors.OutsideWorktree`: an empty path,
    an absolute one (``/x``, ``~/x``, ``C:\\x``), backslashes, a ``..``
    component, anything under ``.git`` (whatever its case, since some file
    systems ignore it), and a path whose symlinks lead outside the worktree
    or into its ``.git``.
    """
    if not path or "\x00" in path:
        raise OutsideWorktree(f"Refusing the edit: {path!r} is not a file path")
    if "\\" in path:
        raise OutsideWorktree(f"Refusing the edit to {path!r}: write paths with '/', relative to the "
                              "repository root")
    pure = PurePosixPath(path)
    if pure.is_absolute() or path.startswith("~") or _DRIVE.match(path):
        raise OutsideWorktree(f"Refusing the edit to {path!r}: paths must be relative to the repository root")
    if ".." in pure.parts:
        raise OutsideWorktree(f"Refusing the edit to {path!r}: '..' may not appear in a path")
    _refuse_git(path, pure.parts)
    try:
        target = (root / pure).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, an unreadable folder
        raise OutsideWorktree(f"Refusing the edit to {path!r}: cannot resolve it ({exc})") from exc
    if target == root or not target.is_relative_to(root):
        raise OutsideWorktree(f"Refusing the edit to {path!r}: it leads outside the worktree "
                              "(through a symlink)")
    _refuse_git(path, target.relative_to(root).parts)
    return target


def _refuse_git(path: str, parts: tuple[str, ...]) -> None:
    if any(part.lower() == ".git" for part in parts):
        raise OutsideWorktree(f"Refusing the edit to {path!r}: files under .git are not edited")
