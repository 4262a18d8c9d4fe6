"""A task's lifecycle around git once it has run: merge it, discard it, or bring it up to date.

Every face (the CLI, later an MCP server or a dashboard) calls these functions and renders what
they return; the rules live here. ``merge`` never takes unfinished work silently: a task that is
paused, failed, needs attention, or whose last verification failed is refused, naming what is open,
unless ``force``. A running task is never merged, forced or not: its branch is still moving.
One rule, :func:`work_at_risk` (uncommitted changes, unmerged commits, kept leftovers refs), decides
what ``discard``, ``merge --delete`` and ``gc`` refuse to throw away without ``force``. Merge, discard
and update hold the task's lock, so no resume starts on a branch that is moving or going away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import specrelay.engine.candidates as candidates
import specrelay.engine.leftovers as leftovers
from specrelay import gitrepo
from specrelay.engine.lock import driver_of, is_running, task_lock
from specrelay.engine.loopstate import LoopState
from specrelay.engine.openwork import open_work
from specrelay.engine.steps import last_build_before
from specrelay.engine.summary import effective_status
from specrelay.engine.task import Task, load_task
from specrelay.errors import GitError, TaskBusy, UserError
from specrelay.ledger import CLOSED, FINISHED, UNSET, Ledger, StepStatus, TaskStatus
from specrelay.text import plural


@dataclass(frozen=True)
class MergeResult:
    """A task merged into its base branch."""

    task_id: str
    branch: str
    into: str
    worktree: Path
    sha: str
    #: What was still open and merged anyway (``force``); empty for a finished task.
    forced: list[str] = field(default_factory=list)
    removed: bool = False
    #: Leftovers refs ``--delete --force`` deleted with the worktree and branch.
    dropped_refs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DiscardResult:
    """A task's worktree, branch and leftovers removed."""

    task_id: str
    status: TaskStatus
    removed_worktree: bool
    removed_branch: bool
    removed_refs: list[str]
    folder: Path


@dataclass(frozen=True)
class MergePlan:
    """What ``merge`` would do, checked as it checks, with nothing changed: merge ``branch`` into ``into``
    in ``worktree``; ``forced`` what is still open and would be merged anyway (``force``); with ``delete``,
    then remove the worktree, the branch and ``lost`` (what ``force`` throws away with them)."""

    task_id: str
    branch: str
    into: str
    worktree: Path
    ff_only: bool
    delete: bool
    forced: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DiscardPlan:
    """What ``discard`` would remove, checked as it checks, with nothing changed: the worktree and the
    branch (None when already gone), the leftovers refs, and ``lost``: the work ``force`` throws away."""

    task_id: str
    status: TaskStatus
    worktree: Path | None
    branch: str | None
    refs: list[str]
    lost: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class UpdateResult:
    """A task branch brought up to date with its base branch."""

    task_id: str
    branch: str
    base_branch: str
    old_base: str
    new_base: str
    #: The new HEAD of the task branch; None when it already held the base branch's tip.
    sha: str | None
    #: The verify and review steps reopened because new commits came in (run again by ``resume``).
    reopened: list[str] = field(default_factory=list)


def check_resumable(task: Task, *, more_rounds: bool = False, driven: bool = False) -> None:
    """Refuse, in one line saying why, a task that cannot be resumed: running, merged, discarded, or
    (when it would run) with its worktree gone. A done or needs_attention task passes: resuming it is a
    no-op, or (``more_rounds``, needs_attention) a new round. ``driven``: the one driving the task from
    elsewhere runs its next step (it reads as running between steps)."""
    if not driven:
        let_go_if_ended(task)
    status = effective_status(task)
    driver = driver_of(task.folder)
    if driver is not None and not driven and status not in FINISHED:
        raise UserError(f"task {task.id} runs on {driver.get('backend', 'another machine')} "
                        f"({driver.get('address', '?')}, workflow {driver.get('workflow_id', '?')}); "
                        f"`specrelay status {task.id}` shows its progress.")
    if status is TaskStatus.RUNNING and not (driven and not is_running(task.folder)):
        raise TaskBusy(f"task {task.id} is already running in another process; `specrelay status {task.id}` "
                        "shows its progress.")
    if status is TaskStatus.MERGED:
        raise UserError(f"task {task.id} is merged ({task.message or 'into its base branch'}); there is nothing "
                        "to resume.")
    if status is TaskStatus.DISCARDED:
        raise UserError(f"task {task.id} was discarded (its worktree and branch are removed); there is nothing to "
                        "resume. Start it again with `specrelay run`.")
    will_run = status not in (TaskStatus.DONE, TaskStatus.NEEDS_ATTENTION) or (
        more_rounds and status is TaskStatus.NEEDS_ATTENTION)
    if will_run and not task.worktree.is_dir():
        raise UserError(f"task {task.id}: its worktree {task.worktree} is gone (removed by hand?). Its branch "
                        f"{task.branch} is kept; `specrelay discard {task.id}` cleans up.")


def merge_target(root: Path, branch: str, task_id: str) -> Path:
    """The worktree that has ``branch`` checked out (the main one first), or a GitError saying where."""
    for wt in gitrepo.list_worktrees(root):
        if wt.branch == branch and wt.path.exists():
            return wt.path
    raise GitError(f"no worktree has {branch} checked out, so there is nowhere to merge task {task_id} into; "
                   f"run `git switch {branch}` in {root} (or in one of your worktrees), then merge again.")


def merge_task(root: Path, ledger: Ledger, task_id: str, *, ff_only: bool = False, delete: bool = False,
               force: bool = False) -> MergeResult:
    """Merge the task's branch into its base branch, in the worktree that has it checked out."""
    task = load_task(root, ledger, task_id)
    let_go_if_ended(task)
    _refuse_running_merge(task)
    with task_lock(task.folder, task.id):  # no resume may start on a branch being merged (and removed)
        task = load_task(root, ledger, task.id)
        if effective_status(task) not in CLOSED:  # a merged or discarded task is refused as it is
            _bring_in(root, ledger, task)
            task = load_task(root, ledger, task.id)
        return _merge(root, ledger, task, check_merge(root, task, ff_only=ff_only, delete=delete, force=force),
                      force)


def plan_merge(root: Path, ledger: Ledger, task_id: str, *, ff_only: bool = False, delete: bool = False,
               force: bool = False) -> MergePlan:
    """What :func:`merge_task` would do, refused as it would refuse; nothing is changed."""
    task = load_task(root, ledger, task_id)
    let_go_if_ended(task)
    _refuse_running_merge(task)
    return check_merge(root, task, ff_only=ff_only, delete=delete, force=force)


def _bring_in(root: Path, ledger: Ledger, task: Task) -> None:
    """A task whose steps ran on other machines (carried through a git remote): their last commits onto
    its branch before it is merged, or the reason they cannot be (never a merge without them)."""
    from specrelay.engine.temporal.carry import bring_in

    why = bring_in(root, ledger, task)
    if why is not None:
        raise UserError(f"task {task.id}: {why}; then merge.")


def _refuse_running_merge(task: Task) -> None:
    if effective_status(task) is TaskStatus.RUNNING:
        raise UserError(f"task {task.id} is running; its branch is still moving. Let it finish (or stop it), "
                        "then merge.")


def check_merge(root: Path, task: Task, *, ff_only: bool, delete: bool, force: bool) -> MergePlan:
    """Every refusal of a merge, in one line each (see the module); the plan when none applies."""
    status = effective_status(task)
    if status in CLOSED:
        raise UserError(f"task {task.id} is {status}; it cannot be merged again.")
    if not task.base_branch:
        raise UserError(f"task {task.id} has no base branch to merge into; merge {task.branch} by hand.")
    unfinished = open_work(task, status)
    if unfinished and not force:
        raise UserError(f"task {task.id} is not finished: {'; '.join(unfinished).rstrip('.')}. Finish it "
                        f"(`specrelay resume {task.id}`), or merge it as it is with `specrelay merge {task.id} "
                        "--force`.")
    where = merge_target(root, task.base_branch, task.id)
    at_risk: list[str] = []
    if delete:  # the branch is merged, so only what is outside it can be lost
        at_risk = work_at_risk(root, task, branch=False)
        if at_risk and not force:
            raise GitError(f"task {task.id}: --delete would lose {'; '.join(at_risk)}. Nothing was merged; "
                           "merge without --delete, or pass --force to throw that away.")
    return MergePlan(task.id, task.branch, task.base_branch, where, ff_only, delete, unfinished, at_risk)


def _merge(root: Path, ledger: Ledger, task: Task, plan: MergePlan, force: bool) -> MergeResult:
    hint = (f"bring the task up to date with `specrelay update {task.id}` (it names the conflicts to fix in "
            f"{task.worktree}), then merge again")
    sha = gitrepo.merge(root, task.branch, ff_only=plan.ff_only,
                        message=f"Merge specrelay task {task.id}: {task.title}", worktree=plan.worktree,
                        conflict_hint=hint)
    ledger.update_task(task.id, status=TaskStatus.MERGED, message=f"merged into {plan.into} at {sha[:10]}")
    dropped: list[str] = []
    if plan.delete:
        if task.worktree.is_dir():
            gitrepo.remove_worktree(root, task.worktree, force=force)
        gitrepo.delete_branch(root, task.branch, base=plan.into)
        dropped = leftovers.drop_all(root, task.id)
    return MergeResult(task.id, task.branch, plan.into, plan.worktree, sha, plan.forced, plan.delete, dropped)


def work_at_risk(root: Path, task: Task, *, tree: bool = True, branch: bool = True,
                 refs: bool = True, parts: bool = True) -> list[str]:
    """What removing the task's worktree (``tree``), branch (``branch``) and kept leftovers refs
    (``refs``) would lose, one phrase each; empty when nothing would be.

    The one rule ``discard``, ``merge --delete`` and ``gc`` refuse by, unless ``--force``.
    """
    in_tree = gitrepo.tree_at_risk(task.worktree) if tree and task.worktree.is_dir() else []
    problems = [f"{phrase} in {task.worktree}" for phrase in in_tree]
    if branch and gitrepo.branch_exists(root, task.branch):
        unmerged = gitrepo.unmerged_commits(root, task.branch, task.base_branch or task.base_sha)
        if unmerged:
            problems.append(f"{plural(len(unmerged), 'commit')} on {task.branch} not merged into "
                            f"{task.base_branch or task.base_sha[:10]}")
    if parts:  # the worktrees and branches of its parallel builders go with the task's
        from specrelay.engine.parts import parts_at_risk

        problems += parts_at_risk(root, task)
    kept = leftovers.leftovers_of(root, task.id) if refs else []
    if kept:
        problems.append("; ".join(f"the {k.described} kept at {k.ref}" for k in kept))
    return problems


def discard_task(root: Path, ledger: Ledger, task_id: str, *, force: bool = False) -> DiscardResult:
    """Remove the task's worktree, branch and leftovers; refuses to lose work unless ``force``.

    A merged task stays merged: only what it no longer needs goes.
    """
    task = load_task(root, ledger, task_id)
    let_go_if_ended(task)
    status = effective_status(task)
    _refuse_running_discard(task, status)
    with task_lock(task.folder, task.id):  # no resume may start in a worktree being removed
        plan = check_discard(root, task, status, force=force)
        from specrelay.engine.parts import remove_parts

        remove_parts(root, task, force=force)
        if plan.worktree is not None:
            gitrepo.remove_worktree(root, task.worktree, force=force)
        else:
            gitrepo.prune_worktrees(root)
        if plan.branch is not None:
            gitrepo.delete_branch(root, task.branch, force=force, base=task.base_branch)
        candidates.remove(root, task.id, force=force)  # best-of-N candidates nobody took
        refs = leftovers.drop_all(root, task.id)
        if status is TaskStatus.MERGED:
            if plan.worktree is not None or plan.branch is not None:
                ledger.update_task(task.id, message=f"{task.message}; worktree and branch removed"
                                   if task.message else "worktree and branch removed")
        else:
            ledger.update_task(task.id, status=TaskStatus.DISCARDED, message="worktree and branch removed")
    return DiscardResult(task.id, plan.status, plan.worktree is not None, plan.branch is not None, refs,
                         task.folder)


def plan_discard(root: Path, ledger: Ledger, task_id: str, *, force: bool = False) -> DiscardPlan:
    """What :func:`discard_task` would remove, refused as it would refuse; nothing is changed."""
    task = load_task(root, ledger, task_id)
    let_go_if_ended(task)
    status = effective_status(task)
    _refuse_running_discard(task, status)
    return check_discard(root, task, status, force=force)


def let_go_if_ended(task: Task) -> None:
    """A task handed to Temporal whose workflow has ended without letting it go (terminated by hand, say)
    is the user's again: to resume, merge or discard. Asks the server only for such a task."""
    if driver_of(task.folder) is None:
        return
    import asyncio

    from specrelay.engine.temporal.connect import require_sdk

    require_sdk()
    from specrelay.engine.temporal.submit import release_if_ended

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # the usual case: no event loop in this thread
        asyncio.run(release_if_ended(task))
        return
    # Called from inside an event loop (a face's synchronous handler): ask from a thread of its own.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as one:
        one.submit(asyncio.run, release_if_ended(task)).result()


def _refuse_running_discard(task: Task, status: TaskStatus) -> None:
    driver = driver_of(task.folder)
    if status is TaskStatus.RUNNING and driver is not None:
        raise UserError(f"task {task.id} runs on {driver.get('backend', 'another machine')} (workflow "
                        f"{driver.get('workflow_id', '?')}); wait for it, or end its workflow "
                        f"(`temporal workflow terminate --workflow-id {driver.get('workflow_id', '?')}`), "
                        "then discard it.")
    if status is TaskStatus.RUNNING:
        raise UserError(f"task {task.id} is running; stop it first (Ctrl-C, or kill its process).")


def check_discard(root: Path, task: Task, status: TaskStatus, *, force: bool) -> DiscardPlan:
    """The refusal of a discard that would lose work (unless ``force``); the plan otherwise."""
    has_tree = task.worktree.is_dir()
    has_branch = gitrepo.branch_exists(root, task.branch)
    at_risk = work_at_risk(root, task, tree=has_tree, branch=has_branch) + candidates.at_risk(root, task.id)
    if at_risk and not force:
        raise GitError(f"task {task.id} has work that would be lost: {'; '.join(at_risk)}. "
                       f"Merge it (`specrelay merge {task.id}`) or pass --force to throw it away.")
    kept = TaskStatus.MERGED if status is TaskStatus.MERGED else TaskStatus.DISCARDED
    return DiscardPlan(task.id, kept, task.worktree if has_tree else None, task.branch if has_branch else None,
                       [k.ref for k in leftovers.leftovers_of(root, task.id)], at_risk)


def update_task(root: Path, ledger: Ledger, task_id: str) -> UpdateResult:
    """Merge the base branch's new commits into the task branch, in the task's worktree.

    Refuses a running task and a worktree with uncommitted changes; on a conflict the merge is
    aborted and the files are named. The base branch's tip becomes the task's base, so later diffs
    and reviews are ``base..HEAD`` from it. When new commits came in, the verify and review steps
    after the last build step are reopened, and a finished task is paused until they run again.
    """
    task = load_task(root, ledger, task_id)
    let_go_if_ended(task)
    status = effective_status(task)
    if status in CLOSED:
        raise UserError(f"task {task.id} is {status}; there is no branch of it to update.")
    if status is TaskStatus.RUNNING:
        raise UserError(f"task {task.id} is already running; update it once it has stopped.")
    if not task.base_branch:
        raise UserError(f"task {task.id} started from a commit, not a branch, so there is no base to follow; "
                        f"merge what you need into {task.branch} by hand.")
    if not task.worktree.is_dir():
        raise UserError(f"task {task.id}: its worktree {task.worktree} is gone; `specrelay discard {task.id}` "
                        "cleans up.")
    with task_lock(task.folder, task.id):  # no run may start while the branch moves under it
        dirty = gitrepo.is_dirty(task.worktree, untracked=False)
        if dirty:
            raise GitError(f"task {task.id}'s worktree {task.worktree} has uncommitted changes "
                           f"({', '.join(dirty[:5])}); commit or remove them, then update again.")
        new_base = gitrepo.resolve_ref(root, task.base_branch)
        sha = None
        if not gitrepo.is_merged(root, new_base, task.branch):
            hint = (f"to resolve them by hand, run `git merge {task.base_branch}` in {task.worktree}, fix and "
                    f"commit, then `specrelay update {task.id}` records the new base")
            sha = gitrepo.merge(root, task.base_branch, message=f"Merge {task.base_branch} into {task.branch}",
                                worktree=task.worktree, conflict_hint=hint)
        reopened = _reopen_checks(ledger, task, status, new_base) if sha is not None else []
        if not reopened:
            ledger.update_task(task.id, base_sha=new_base)
    return UpdateResult(task.id, task.branch, task.base_branch, task.base_sha, new_base, sha, reopened)


def _reopen_checks(ledger: Ledger, task: Task, status: TaskStatus, new_base: str) -> list[str]:
    """New commits came in: the verify and review steps after the last build step no longer speak
    for the branch, so they are reopened (with the new base, in one transaction); their titles.

    A finished task is paused, to be verified and reviewed again by ``resume``.
    """
    steps = ledger.steps(task.id)
    last_build = last_build_before([r.kind for r in steps], len(steps))
    last_build = -1 if last_build is None else last_build
    again = [r for r in steps[last_build + 1:] if r.status is StepStatus.DONE]
    if not again:
        return []
    row = ledger.task(task.id)
    state = LoopState.load(row.state if row else None)
    # A new generation: the review sees a new diff, so its earlier call must not be replayed.
    state = state.with_(attempt=0, fix=None, verdict=None, gen=state.gen + 1)
    finished = status in (TaskStatus.DONE, TaskStatus.NEEDS_ATTENTION)
    message = (f"updated from {task.base_branch} ({new_base[:10]}); `specrelay resume {task.id}` verifies and "
               "reviews it again")
    with ledger.transaction():
        for r in again:
            ledger.update_step(task.id, r.idx, status=StepStatus.PENDING, started_at=None)
        ledger.update_task(task.id, base_sha=new_base, state=state.dump(),
                           status=TaskStatus.PAUSED if finished else UNSET,
                           current_step=again[0].title if finished else UNSET,
                           message=message if finished else UNSET)
    return [r.title for r in again]
