"""Best-of-N: an implement step with ``agents:`` builds the same spec once per preset, at once, and keeps the best.

Candidate N builds in its own worktree (``.specrelay/worktrees/<task>.cand-N``) on its own branch
(``specrelay/<task>.cand-N``), both off the task branch's HEAD, with its preset alone (an API preset or
an agent CLI, as any build). Each is then checked as the task would check it: the commands of the
workflow's first verify step after this one (else ``[verify] commands``), run in its worktree, and the
workflow's first review step after it (its reviewer or its panel) on its diff. Their artifacts are kept
apart, in ``candidates/cand-N/`` of the task folder.

The best is the first by :data:`RULE`: verification passed, then the fewest blocking (blocker and major)
findings by agreement, then the smallest diff, then the lowest cost, then the order of ``agents:``.
The winner's commits are fast-forwarded onto the task branch, and the steps after this one (verify,
review, fix rounds) run on it as usual; a fix round is built by the winner's preset alone. The other
candidates stay on their branches (``git merge specrelay/<task>.cand-2`` takes one instead), until
``gc`` or ``discard`` removes them. Every candidate is recorded in the task's ``candidates.json`` with
its score, as ``show`` lists them.

A candidate's calls carry its scope (``cand-N``) in their keys and in the ledger's step, so the cost
of each is its own and a resumed step reuses each candidate's completed calls; a candidate already
recorded as finished is not run again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specrelay import gitrepo, paths
from specrelay.engine.events import Note
from specrelay.errors import GitError, StepFailed
from specrelay.fsutil import atomic_write_text
from specrelay.text import plural
from specrelay.workflow.kinds import spec as kind_spec

if TYPE_CHECKING:  # the step kinds import this module's users; it needs only their types
    from specrelay.engine.steps.run import StepRun
    from specrelay.workflow import Step

#: The rule the winner is chosen by, as ``show`` and ``candidates.json`` state it.
RULE = ("verification passed, then fewest blocker/major findings by agreement, then smallest diff, "
        "then lowest cost, then the order of 'agents:'")
#: Where the candidates of a task are recorded, in its folder.
RECORD = "candidates.json"
_RANK = {"passed": 0, "not_configured": 1, "failed": 2}

#: How a candidate is built: the implement step's own build, given the candidate's run; returns HEAD's sha.
Build = Callable[["StepRun"], Awaitable[str]]


def candidate_branch(task_id: str, n: int) -> str:
    """Candidate ``n``'s branch: ``specrelay/<task>.cand-N`` (beside the task branch: git cannot hold both
    ``specrelay/<task>`` and ``specrelay/<task>/...``)."""
    return f"{gitrepo.task_branch(task_id)}.cand-{n}"


def candidate_worktree(root: Path, task_id: str, n: int) -> Path:
    """Candidate ``n``'s worktree: ``.specrelay/worktrees/<task>.cand-N``."""
    return paths.worktrees_dir(root) / f"{task_id}.cand-{n}"


@dataclass
class Candidate:
    """One finished candidate: how it was built and checked, and what it scores."""

    n: int
    preset: str
    branch: str
    worktree: str
    built: bool = False
    sha: str | None = None
    #: The verification's state: passed, failed, not_configured; None when it was not built.
    verification: str | None = None
    verdict: str | None = None
    #: Blocker and major findings by agreement (the ones the verdict rule blocks on); None: not reviewed.
    blocking: int | None = None
    findings: int | None = None
    diff_lines: int | None = None
    cost_usd: float | None = None
    error: str | None = None
    started_at: float = 0.0
    finished_at: float = 0.0

    def score(self) -> tuple[float, ...]:
        """The key :data:`RULE` sorts by: lower is better."""
        return (0 if self.built else 1, _RANK.get(self.verification or "", 3),
                math.inf if self.blocking is None else self.blocking,
                math.inf if self.diff_lines is None else self.diff_lines,
                math.inf if self.cost_usd is None else self.cost_usd, self.n)

    def summary(self) -> str:
        """One line for the user: what it did and what it scores."""
        if not self.built:
            return f"cand-{self.n} ({self.preset}): not built: {(self.error or '').splitlines()[0][:200]}"
        found = "not reviewed" if self.blocking is None else plural(self.blocking, "blocking finding")
        cost = "cost unknown" if self.cost_usd is None else f"${self.cost_usd:.4f}"
        return (f"cand-{self.n} ({self.preset}): verification {self.verification}, {found}, "
                f"{plural(self.diff_lines or 0, 'line')} changed, {cost}")


@dataclass
class Record:
    """``candidates.json``: one best-of-N execution of an implement step and its candidates."""

    key: str
    step: str
    base: str
    rule: str = RULE
    winner: int | None = None
    candidates: list[Candidate] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        ranked = sorted(self.candidates, key=Candidate.score)
        return {**asdict(self), "candidates": [{**asdict(c), "rank": ranked.index(c) + 1}
                                               for c in sorted(self.candidates, key=lambda c: c.n)]}


def load_record(folder: Path) -> Record | None:
    """The task's recorded candidates, or None when it built no best-of-N."""
    path = folder / RECORD
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    cands = [Candidate(**{k: v for k, v in c.items() if k != "rank"}) for c in data.pop("candidates")]
    return Record(**data, candidates=cands)


def _save(run: StepRun, record: Record) -> None:
    atomic_write_text(run.artifact(RECORD), json.dumps(record.to_json(), indent=2) + "\n")


def winner_preset(run: StepRun) -> str:
    """The preset a fix round of a best-of-N step builds with: the winner's (the first listed if none won)."""
    record = load_record(run.folder)
    if record is not None and record.winner is not None:
        for c in record.candidates:
            if c.n == record.winner:
                return c.preset
    return run.step.presets[0]


async def best_of(run: StepRun, build: Build) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Build, verify and review every candidate at once; put the best on the task branch. Returns the
    step's ledger detail and the notes for the user."""
    record = load_record(run.folder)
    if record is None or record.key != run.key:  # a fresh execution: candidates start from the task's HEAD
        record = Record(run.key, run.step.title, gitrepo.head_sha(run.worktree))
        _save(run, record)
    done = {c.n for c in record.candidates}
    checks = _checks(run)
    run.emit(Note(f"best-of-{len(run.step.presets)}: building {', '.join(run.step.presets)} at once"))
    try:
        async with asyncio.TaskGroup() as group:
            for n, preset in enumerate(run.step.presets, 1):
                if n not in done:
                    group.create_task(_candidate(run, record, n, preset, build, checks))
    except BaseExceptionGroup as failed:  # what stops one candidate (a provider, the budget) stops the step
        raise failed.exceptions[0] from None
    best = min(record.candidates, key=Candidate.score)
    if not best.built:
        raise StepFailed(f"step '{run.step.title}': no candidate could be built: "
                         + "; ".join(c.summary() for c in sorted(record.candidates, key=lambda c: c.n)))
    assert best.sha is not None
    _adopt(run, best.sha)
    record.winner = best.n
    _save(run, record)
    _tidy(run, record)
    notes = (f"best-of-{len(record.candidates)} kept cand-{best.n} ({best.preset}) by {RULE}; the others stay "
             f"on their branches (`specrelay show {run.task.id}`)",)
    return {"best_of": {"winner": best.n, "preset": best.preset, "branch": best.branch}}, notes


def _checks(run: StepRun) -> tuple[tuple[int, Step] | None, tuple[int, Step] | None]:
    """The verify and the review step after this one (before the next build step) that check each candidate."""
    verify = review = None
    steps = run.workflow.steps if run.workflow is not None else ()
    for i in range(run.index + 1, len(steps)):
        found = kind_spec(steps[i].kind)
        if found is None or found.builds:
            break
        if found.loops_back == "verify" and verify is None:
            verify = (i, steps[i])
        elif found.loops_back == "findings" and review is None:
            review = (i, steps[i])
    return verify, review


async def _candidate(run: StepRun, record: Record, n: int, preset: str, build: Build,
                     checks: tuple[tuple[int, Step] | None, tuple[int, Step] | None]) -> None:
    """Build candidate ``n`` with ``preset`` in its worktree, verify and review it, and record it."""
    from specrelay.engine.review.in_task import run_review
    from specrelay.engine.steps.verify import run_verify

    worktree, branch = candidate_worktree(run.root, run.task.id, n), candidate_branch(run.task.id, n)
    resumed = _worktree_for(run, record.base, worktree, branch)
    folder = run.folder / "candidates" / f"cand-{n}"
    folder.mkdir(parents=True, exist_ok=True)
    for name in {run.spec_name, *run.step.reads}:  # what the build and its review read
        if (run.folder / name).is_file():
            shutil.copyfile(run.folder / name, folder / name)
    scope = f"cand-{n}"
    mine = dataclasses.replace(run, task=dataclasses.replace(run.task, worktree=worktree, folder=folder),
                               step=dataclasses.replace(run.step, presets=(preset,)), part=scope, calls=0,
                               interrupted=run.interrupted or resumed)
    cand = Candidate(n, preset, branch, str(worktree), started_at=time.time())
    try:
        cand.sha = await build(mine)
        cand.built = True
    except StepFailed as exc:
        cand.error = str(exc)
    if cand.built:
        verify, review = checks
        check = mine if verify is None else dataclasses.replace(mine, step=verify[1], index=verify[0], calls=0)
        cand.verification = str((await run_verify(check)).state)
        stat = gitrepo.diff_stat(worktree, record.base)
        cand.diff_lines = sum((a or 0) + (d or 0) for _, a, d in stat)
        if review is not None:
            looked = dataclasses.replace(mine, step=review[1], index=review[0], attempt=0, calls=0)
            try:
                outcome = await run_review(looked)
                cand.verdict, cand.blocking, cand.findings = outcome.verdict, len(outcome.open_items), outcome.findings
            except StepFailed as exc:  # an unusable review ranks it after the reviewed ones
                cand.error = str(exc)
    cand.cost_usd = _cost(run, scope)
    cand.finished_at = time.time()
    record.candidates.append(cand)
    _save(run, record)
    run.emit(Note(cand.summary()))


def _worktree_for(run: StepRun, base: str, worktree: Path, branch: str) -> bool:
    """Make candidate's worktree on its branch at ``base``; True when it was there already (a resumed
    execution, whose build may have committed before it was cut off)."""
    if worktree.is_dir() and gitrepo.branch_exists(run.root, branch):
        return True
    if worktree.exists() or gitrepo.branch_exists(run.root, branch):
        raise GitError(f"candidate {branch} of an earlier run is in the way ({worktree}); "
                       f"`specrelay discard {run.task.id}` removes it, or `git branch -D {branch}`")
    worktree.parent.mkdir(parents=True, exist_ok=True)
    gitrepo.add_worktree(run.root, worktree, branch, base)
    return False


def _cost(run: StepRun, scope: str) -> float | None:
    """What candidate ``scope``'s calls cost (its build, its review); None when any cost is unknown."""
    rows = [r for r in run.client.ledger.calls(run.task.id) if (r.step or "").endswith(f"[{scope}]")]
    if any(r.cost_usd is None and r.outcome == "ok" for r in rows):
        return None
    return round(sum(r.cost_usd or 0.0 for r in rows), 6)


def _adopt(run: StepRun, sha: str) -> None:
    """The winner's commits onto the task branch (a fast-forward: every candidate starts at its HEAD)."""
    if gitrepo.head_sha(run.worktree) == sha:
        return
    gitrepo.run_git(["merge", "--ff-only", "--quiet", sha], run.worktree)


def _tidy(run: StepRun, record: Record) -> None:
    """Remove the candidates' worktrees that hold nothing uncommitted; their branches stay."""
    for c in record.candidates:
        path = Path(c.worktree)
        if path.is_dir() and not gitrepo.is_dirty(path):
            gitrepo.remove_worktree(run.root, path)


def owner(name: str) -> str | None:
    """The task whose candidate worktree a folder of ``.specrelay/worktrees`` named ``name`` is, if one is."""
    task, sep, n = name.rpartition(".cand-")
    return task if sep and task and n.isdigit() else None


def trees(root: Path, task_id: str) -> list[Path]:
    """A task's candidate worktrees on disk."""
    folder = paths.worktrees_dir(root)
    return sorted(p for p in folder.glob(f"{task_id}.cand-*") if owner(p.name) == task_id) if folder.is_dir() else []


def branches(root: Path, task_id: str | None = None) -> dict[str, list[str]]:
    """Candidate branches by task (of ``task_id`` alone when given), in one git call."""
    pattern = f"refs/heads/{gitrepo.task_branch(task_id or '')}{'.cand-' if task_id else ''}*"
    out = gitrepo.run_git(["for-each-ref", "--format=%(refname:short)", pattern], root).stdout
    found: dict[str, list[str]] = {}
    for branch in out.split():
        task = owner(branch.removeprefix(gitrepo.task_branch("")))
        if task is not None and task_id in (None, task):
            found.setdefault(task, []).append(branch)
    return found


def at_risk(root: Path, task_id: str) -> list[str]:
    """What removing a task's candidates would lose: uncommitted work in their worktrees."""
    risky = []
    for tree in trees(root, task_id):
        dirty = gitrepo.is_dirty(tree) if tree.is_dir() else []
        if dirty:
            risky.append(f"uncommitted changes ({', '.join(dirty[:5])}{' ...' if len(dirty) > 5 else ''}) in {tree}")
    return risky


def remove(root: Path, task_id: str, *, force: bool = False) -> list[str]:
    """Remove a task's candidate worktrees and branches (the branches hold only candidates nobody took);
    the branches removed."""
    for tree in trees(root, task_id):
        gitrepo.remove_worktree(root, tree, force=force)
    gitrepo.prune_worktrees(root)
    gone = branches(root, task_id).get(task_id, [])
    for branch in gone:
        gitrepo.delete_branch(root, branch, force=True)
    return gone
