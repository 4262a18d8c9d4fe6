"""Garbage collection: remove the worktrees nobody needs any more, and nothing else.

Candidates are the worktrees of tasks that were merged or discarded, and stray folders under
``.specrelay/worktrees/`` that belong to no task (left by a ``specrelay run`` killed while it was
setting up). A candidate is skipped, and reported, when removing it could lose work: uncommitted or
untracked files, commits its ``HEAD`` holds that no branch does, a git lock on the worktree, or (for
a folder git does not know) any file at all. ``force`` removes those too. A task branch is deleted
only when every commit on it is in another branch. Git's records of worktrees whose folders were
deleted by hand are pruned. A removed task's kept leftovers refs are on no branch, so like
``discard`` gc keeps them (and says how to look at them) unless ``force``. Tasks that still
matter and whose worktree is gone are only reported.

A worktree with no task record but with a task folder is a task being created (or one whose
creation was cut off): it is left alone for ``CREATION_GRACE_S`` after it appeared, so that a
``specrelay run`` starting at the same moment never loses its worktree.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import specrelay.engine.candidates as candidates
import specrelay.engine.leftovers as leftovers
from specrelay import gitrepo, paths
from specrelay.engine.finish import work_at_risk
from specrelay.engine.lock import is_running
from specrelay.engine.task import Task, all_tasks
from specrelay.errors import GitError
from specrelay.ledger import CLOSED, Ledger
from specrelay.text import plural

#: Task statuses whose worktree is no longer needed.
COLLECTABLE = CLOSED
#: How long a worktree with a task folder but no task record is taken for a task being created.
CREATION_GRACE_S = 600.0


@dataclass(frozen=True)
class GcAction:
    """One thing gc did, would do, or refused to do."""

    kind: str  # "worktree", "stray", "branch", "leftovers", "prune", "missing"
    outcome: str  # "removed" / "would remove" / "skipped" / "kept" / "reported"
    reason: str
    path: str | None = None
    task: str | None = None
    branch: str | None = None
    ref: str | None = None

    def line(self) -> str:
        what = {"worktree": f"worktree {self.path}", "stray": f"stray worktree {self.path}",
                "branch": f"branch {self.branch}", "leftovers": f"leftovers ref {self.ref}",
                "prune": f"stale worktree record {self.path}",
                "missing": f"task {self.task}: worktree {self.path} is missing"}[self.kind]
        if self.kind == "missing":
            return f"{what} ({self.reason})"
        return f"{self.outcome} {what}: {self.reason}"


@dataclass
class GcReport:
    """What one gc pass found; ``actions`` in the order they were decided."""

    dry_run: bool
    actions: list[GcAction] = field(default_factory=list)

    def add(self, action: GcAction) -> None:
        self.actions.append(action)

    @property
    def gone(self) -> set[str]:
        """Worktree folders this pass removes (or would)."""
        return {_key(Path(a.path)) for a in self.removed if a.path and a.kind in ("worktree", "stray")}

    @property
    def removed(self) -> list[GcAction]:
        return [a for a in self.actions if a.outcome in ("removed", "would remove")]

    @property
    def skipped(self) -> list[GcAction]:
        return [a for a in self.actions if a.outcome in ("skipped", "kept")]

    def to_json(self) -> dict[str, Any]:
        """Counts say what happened: a dry run removes nothing, and says what it would remove."""
        count = len(self.removed)
        return {"dry_run": self.dry_run, "actions": [asdict(a) for a in self.actions],
                "removed": 0 if self.dry_run else count, "would_remove": count if self.dry_run else 0,
                "skipped": len(self.skipped)}


def collect(root: Path, ledger: Ledger, *, dry_run: bool = False, force: bool = False) -> GcReport:
    """Remove (or, with ``dry_run``, list) what nothing needs any more; see the module docstring."""
    report = GcReport(dry_run=dry_run)
    # A dry run changes nothing, so it takes no lock (and creates no lock file).
    with contextlib.nullcontext() if dry_run else gitrepo.repo_lock(root):
        registered = {_key(w.path): w for w in gitrepo.list_worktrees(root)[1:]}
        tasks = all_tasks(root, ledger)
        owned = {_key(t.worktree) for t in tasks}
        ids = {t.id for t in tasks}
        folder = paths.worktrees_dir(root)
        # A task's best-of-N candidates are its own, never strays; they go when it does.
        owned |= {_key(p) for p in (folder.iterdir() if folder.is_dir() else []) if candidates.owner(p.name) in ids}
        taken = candidates.branches(root)
        for task in tasks:
            if task.status in COLLECTABLE:
                if task.worktree.is_dir():
                    _collect_task(root, task, registered.get(_key(task.worktree)), report, dry_run, force)
                _collect_parts(root, task, registered, report, dry_run, force)
                _collect_branch(root, task.branch, task.base_branch, task.id, report, dry_run)
                _collect_candidates(root, task, registered, taken.get(task.id, []), report, dry_run, force)
                if not task.worktree.is_dir() or _key(task.worktree) in report.gone:
                    _collect_leftovers(root, task, report, dry_run, force)
            elif not task.worktree.is_dir():
                report.add(GcAction("missing", "reported", f"{task.status}; its branch {task.branch} is kept. "
                                    f"`specrelay discard {task.id}` cleans up", path=str(task.worktree),
                                    task=task.id, branch=task.branch))
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.is_dir() and _key(path) not in owned:
                _collect_stray(root, path, registered.get(_key(path)), report, dry_run, force)
        for wt in registered.values():
            if wt.prunable:
                report.add(GcAction("prune", "would remove" if dry_run else "removed",
                                    "its folder no longer exists", path=str(wt.path), branch=wt.branch))
        if not dry_run:
            gitrepo.prune_worktrees(root)
    return report


def _collect_candidates(root: Path, task: Task, registered: dict[str, gitrepo.Worktree], branches: list[str],
                        report: GcReport, dry_run: bool, force: bool) -> None:
    """A closed task's best-of-N candidates: their worktrees (unless that loses work) and their branches,
    which hold only candidates nobody took."""
    reason = f"a best-of-N candidate of a {task.status} task"
    for tree in candidates.trees(root, task.id):
        wt = registered.get(_key(tree))
        if wt is None:
            _collect_stray(root, tree, None, report, dry_run, force, task=task.id)
        else:
            _remove_worktree(root, wt, "worktree", reason, report, dry_run, force, task=task.id)
    if not branches:
        return
    held = {w.branch for w in gitrepo.list_worktrees(root) if w.branch and w.path.exists()
            and _key(w.path) not in report.gone}
    for branch in branches:
        if branch in held:
            report.add(GcAction("branch", "kept", "still checked out in a worktree", branch=branch, task=task.id))
            continue
        report.add(GcAction("branch", "would remove" if dry_run else "removed", f"{reason}, not taken",
                            branch=branch, task=task.id))
        if not dry_run:
            gitrepo.delete_branch(root, branch, force=True)


def _collect_parts(root: Path, task: Task, registered: dict[str, gitrepo.Worktree], report: GcReport,
                   dry_run: bool, force: bool) -> None:
    """The worktrees and branches of a finished task's parallel builders, by the rule of its own."""
    from specrelay.engine.parts import parts_of

    for part in parts_of(root, task):
        wt = registered.get(_key(part.worktree)) if part.worktree is not None else None
        if part.worktree is not None:
            if wt is None:
                _collect_stray(root, part.worktree, None, report, dry_run, force, task=task.id)
            else:
                _remove_worktree(root, wt, "worktree", f"a part of task {task.id} ({task.status})", report,
                                 dry_run, force, task=task.id)
        if part.branch is not None:
            _collect_branch(root, part.branch, None, task.id, report, dry_run)
    if not dry_run:
        with contextlib.suppress(OSError):
            paths.parts_dir(root, task.id).rmdir()


def _collect_leftovers(root: Path, task: Task, report: GcReport, dry_run: bool, force: bool) -> None:
    """A finished task's kept leftovers are on no branch: like ``discard``, gc keeps them unless ``force``."""
    at_risk = work_at_risk(root, task, tree=False, branch=False, parts=False)
    for kept in leftovers.leftovers_of(root, task.id):
        if at_risk and not force:
            report.add(GcAction("leftovers", "kept", f"{kept.described}, on no branch; see them with "
                                f"`git diff {kept.ref}^ {kept.ref}`, pass --force to remove them",
                                task=task.id, ref=kept.ref))
            continue
        report.add(GcAction("leftovers", "would remove" if dry_run else "removed", f"{kept.described} (--force)",
                            task=task.id, ref=kept.ref))
        if not dry_run:
            gitrepo.delete_ref(root, kept.ref)


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return CREATION_GRACE_S


def _key(path: Path) -> str:
    return str(Path(path).resolve())


def _collect_task(root: Path, task: Any, wt: gitrepo.Worktree | None, report: GcReport, dry_run: bool,
                  force: bool) -> None:
    reason = f"task {task.status}"
    if is_running(task.folder):
        report.add(GcAction("worktree", "skipped", "a specrelay process is still working in it",
                            path=str(task.worktree), task=task.id, branch=task.branch))
        return
    if wt is None:
        _collect_stray(root, task.worktree, None, report, dry_run, force, task=task.id)
        return
    _remove_worktree(root, wt, "worktree", reason, report, dry_run, force, task=task.id)


def _collect_stray(root: Path, path: Path, wt: gitrepo.Worktree | None, report: GcReport, dry_run: bool,
                   force: bool, task: str | None = None) -> None:
    if task is None and paths.task_dir(root, path.name).is_dir() and _age(path) < CREATION_GRACE_S:
        report.add(GcAction("stray", "skipped", "a task is being created here (it has a task folder but no "
                            f"record yet); gc takes it if it is still like this in {CREATION_GRACE_S / 60:g} "
                            "minutes", path=str(path), branch=wt.branch if wt else None))
        return
    if wt is not None:
        if _remove_worktree(root, wt, "stray", "belongs to no task", report, dry_run, force) and wt.branch:
            _collect_branch(root, wt.branch, None, None, report, dry_run)
        return
    # A folder git does not know as a worktree: whatever is in it is nobody's commit.
    files = [p for p in path.rglob("*") if not p.is_dir()]
    kind = "worktree" if task else "stray"
    if files and not force:
        shown = ", ".join(str(p.relative_to(path)) for p in files[:5]) + (" ..." if len(files) > 5 else "")
        report.add(GcAction(kind, "skipped", f"not a git worktree and holds {plural(len(files), 'file')} ({shown}); "
                            "move what you need, or pass --force", path=str(path), task=task))
        return
    report.add(GcAction(kind, "would remove" if dry_run else "removed",
                        "an empty folder" if not files else "not a git worktree (--force)", path=str(path), task=task))
    if not dry_run:
        shutil.rmtree(path)


def _remove_worktree(root: Path, wt: gitrepo.Worktree, kind: str, reason: str, report: GcReport, dry_run: bool,
                     force: bool, task: str | None = None) -> bool:
    """Remove one registered worktree unless that could lose work; True when removed (or would be)."""
    path = wt.path
    common = {"path": str(path), "task": task, "branch": wt.branch}
    at_risk = _work_at_risk(path, wt)
    if at_risk and not force:
        report.add(GcAction(kind, "skipped", f"{reason}, but {at_risk}; pass --force to remove it anyway",
                            **common))
        return False
    note = f"{reason} (--force: {at_risk})" if at_risk else reason
    report.add(GcAction(kind, "would remove" if dry_run else "removed", note, **common))
    if not dry_run:
        if wt.locked:
            gitrepo.run_git(["worktree", "unlock", "--", str(path)], root)
        gitrepo.remove_worktree(root, path, force=force)
    return True


def _work_at_risk(path: Path, wt: gitrepo.Worktree) -> str | None:
    """Why removing this worktree could lose something (the rule ``discard`` uses too), or None."""
    if wt.locked:
        return "it is locked (`git worktree lock`)"
    try:
        risk = gitrepo.tree_at_risk(path, wt.head)
    except GitError as exc:
        return f"git cannot read it ({str(exc).splitlines()[0]})"
    return f"it holds {'; '.join(risk)}" if risk else None


def _collect_branch(root: Path, branch: str, base: str | None, task: str | None, report: GcReport,
                    dry_run: bool) -> None:
    """Delete a task branch whose every commit is in another branch (or its base); otherwise keep it."""
    if not gitrepo.branch_exists(root, branch):
        return
    common = {"branch": branch, "task": task}
    held = {w.branch for w in gitrepo.list_worktrees(root)
            if w.branch and w.path.exists() and _key(w.path) not in report.gone}
    if branch in held:
        report.add(GcAction("branch", "kept", "still checked out in a worktree", **common))
        return
    only_here = gitrepo.run_git(["rev-list", f"refs/heads/{branch}", "--not", f"--exclude={branch}",
                                 "--branches"], root).stdout.split()
    if only_here:
        verb = "is" if len(only_here) == 1 else "are"
        report.add(GcAction("branch", "kept", f"{plural(len(only_here), 'commit')} on it {verb} not merged anywhere",
                            **common))
        return
    report.add(GcAction("branch", "would remove" if dry_run else "removed", "fully merged", **common))
    if not dry_run:
        gitrepo.delete_branch(root, branch, base=base)
