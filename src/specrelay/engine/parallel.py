"""Parallel builds: one builder per part of a build step (a workstream of the spec, a group of a fix
round's findings), all at once, each in its own worktree and branch off the task branch; then the
parts are merged into the task branch in order.

Each part's builder is the implement step's own (``run_implement``) on a :class:`StepRun` of its
own: its worktree (``.specrelay/parts/<task>/<part>``, on branch ``specrelay/<task>.<part>``), its
part of the spec, its calls keyed, recorded and reported under the part's name, through the task's
one client (so the budget, the ledger and each provider's ``max_concurrency`` hold across them).

Merging never leaves a half-merged tree: each part is first checked against the task branch with
``git merge-tree`` (no checkout). A part that conflicts with the parts merged before it is sent back
to its builder: the merged task branch is merged into the part's branch with the conflicting files
taking the merged side, and the builder, told which files and shown both sides, makes its change
again on top (at most ``MAX_RESOLVE_TRIES`` tries). When it cannot, the step fails naming the files,
the task branch is put back where the step started, and every part's branch is kept.

Crash safety: a part's commits carry the key of the execution that made them, so a resumed run
skips the parts already built (their calls were in the ledger anyway), sets aside what an
interrupted builder left in its worktree, and merges what is not merged yet.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import specrelay.engine.leftovers as leftovers
from specrelay import gitrepo, paths
from specrelay.engine.events import Note
from specrelay.engine.fixgroups import fix_groups
from specrelay.engine.steps.run import StepRun
from specrelay.engine.workstreams import narrowed, parse_workstreams, spec_for
from specrelay.errors import StepFailed
from specrelay.text import plural

#: How many times a part whose merge conflicts is sent back to its builder before the step fails.
MAX_RESOLVE_TRIES = 2
_STEP = "Specrelay-Step"
_CONFLICTS = "Specrelay-Conflicts"


@dataclass(frozen=True)
class Part:
    """One part of a parallel build: its ``name`` (``ws-1``), title, files, the spec its builder sees,
    and (a fix round) the findings it fixes."""

    name: str
    title: str
    files: tuple[str, ...]
    spec: str
    findings: str | None = None


def parts_for(run: StepRun, findings: str | None, failing: str | None) -> list[Part]:
    """The parts this execution of a build step splits into (empty: one builder, as always).

    ``parallel: workstreams`` splits a first build by the spec's workstreams (two or more);
    ``parallel: findings`` splits a fix round by the findings' files (two or more disjoint groups).
    A build that fixes a failing verification is one builder's.
    """
    if failing:
        return []
    if not findings and "workstreams" in run.step.parallel:
        spec = run.read_artifact(run.spec_name) or ""
        streams = parse_workstreams(spec)
        if len(streams) >= 2:
            return [Part(s.name, s.title, s.files, spec_for(spec, s, streams)) for s in streams]
    if findings and "findings" in run.step.parallel:
        return _fix_parts(run, findings)
    return []


def _fix_parts(run: StepRun, findings: str) -> list[Part]:
    """One part per group of findings about the same file, when there are two or more groups."""
    from specrelay.engine.review.in_task import FIX_FILES

    groups = fix_groups(findings, run.read_artifact(FIX_FILES))
    if len(groups) < 2:
        return []
    spec = run.read_artifact(run.spec_name) or ""
    out = []
    for group in groups:
        others = ", ".join(f for g in groups if g is not group for f in g.files)
        note = (f"## Your part of this fix round: {', '.join(group.files)}\n\nOther fixers fix the findings "
                f"about {others} at the same time. Fix only the findings below, in your own files.\n")
        out.append(Part(f"fix-r{run.round}-{group.name.removeprefix('fix-')}", ", ".join(group.files),
                        group.files, narrowed(spec, note, group.files), group.findings))
    return out


def record_name(round_: int) -> str:
    """The artifact that lists a round's parts, their branches and worktrees."""
    return f"parts_r{round_}.json"


def _suffix(run: StepRun, part: str) -> str:
    extra = (f".a{run.attempt}" if run.attempt else "") + (f".g{run.generation}" if run.generation else "")
    return f"{part}{extra}"


def part_branch(run: StepRun, part: str) -> str:
    """``specrelay/<task>.<part>``: a sibling of the task branch (git cannot nest a branch under one)."""
    return f"{run.task.branch}.{_suffix(run, part)}"


def part_worktree(run: StepRun, part: str) -> Path:
    return paths.parts_dir(run.root, run.task.id) / _suffix(run, part)


#: The implement step's builder (``run_implement``): a step run, its findings and failing output in, the
#: commit out. Passed in, so that this module does not import the step that calls it.
Builder = Callable[[StepRun, str | None, str | None], Awaitable[str]]


async def build_parts(run: StepRun, parts: list[Part], failing: str | None, run_implement: Builder) -> str:
    """Build every part at once with ``run_implement``, then merge them into the task branch in order;
    the task's new HEAD."""

    if run.interrupted:
        _clean_task_worktree(run)
    base = gitrepo.head_sha(run.worktree)
    # Worktrees made side by side (git runs as child processes): their checkouts overlap.
    runs = list(await asyncio.gather(*(asyncio.to_thread(_prepare, run, part, base) for part in parts)))
    run.emit(Note(f"{len(parts)} builders at once: " + ", ".join(f"{p.name} ({p.title})" for p in parts)))

    async def build(part: Part, part_run: StepRun) -> str:
        done = _commit_with(part_run.worktree, part_run.key)
        if done is not None:  # built before an interruption: kept on its branch
            return done
        sha = await run_implement(part_run, part.findings, failing)
        run.emit(Note(f"{part.name} built on {part_run.task.branch} ({sha[:10]})"))
        return sha

    results = await asyncio.gather(*(build(p, r) for p, r in zip(parts, runs, strict=True)),
                                   return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:  # an interruption first (the run pauses), else the first part's failure
        raise next((e for e in errors if not isinstance(e, Exception)), errors[0])
    _record(run, parts, runs, [r for r in results if isinstance(r, str)])
    try:
        for part, part_run in zip(parts, runs, strict=True):
            await _merge_in(run, part, part_run, run_implement)
    except StepFailed:
        # The task branch goes back to where the step began; every part's branch is kept.
        gitrepo.run_git(["reset", "--quiet", "--keep", base], run.worktree)
        raise
    _record(run, parts, runs)
    return gitrepo.head_sha(run.worktree)


def _clean_task_worktree(run: StepRun) -> None:
    """A merge cut off in the task's worktree is aborted; other leftovers there are set aside."""
    gitrepo.wait_for_commits(run.worktree)
    if gitrepo.run_git(["rev-parse", "--verify", "--quiet", "MERGE_HEAD"], run.worktree, check=False).returncode == 0:
        gitrepo.run_git(["merge", "--abort"], run.worktree, check=False)
    if gitrepo.is_dirty(run.worktree):
        ref = leftovers.set_aside(run.root, run.worktree, run.task.id,
                                  f"specrelay {run.task.id}: uncommitted changes of an interrupted step, "
                                  f"before step {run.key}")
        if ref:
            run.emit(Note(f"uncommitted changes of an interrupted step were kept at {ref}"))


def _prepare(run: StepRun, part: Part, base: str) -> StepRun:
    """The part's worktree and branch (made off ``base``, or found again on a resume), and its run."""
    path, branch = part_worktree(run, part.name), part_branch(run, part.name)
    if not path.is_dir():
        paths.make_dir(path.parent)
        if gitrepo.branch_exists(run.root, branch):
            gitrepo.attach_worktree(run.root, path, branch)
        else:
            gitrepo.add_worktree(run.root, path, branch, base)
    task = dataclasses.replace(run.task, worktree=path, branch=branch)
    return dataclasses.replace(run, task=task, part=part.name, part_spec=part.spec, calls=0)


def _commit_with(worktree: Path, key: str) -> str | None:
    """The commit on ``worktree``'s branch that the execution ``key`` made, if any."""
    out = gitrepo.run_git(["log", "-n", "200", f"--format=%H%x00%(trailers:key={_STEP},valueonly,separator=%x20)"],
                          worktree).stdout
    for line in out.splitlines():
        sha, _, keys = line.partition("\0")
        if key in keys.split():
            return sha
    return None


def _head_trailers(worktree: Path) -> tuple[str, list[str]]:
    out = gitrepo.run_git(["log", "-1", f"--format=%(trailers:key={_STEP},valueonly,separator=%x20)%x00"
                           f"%(trailers:key={_CONFLICTS},valueonly,separator=%x20)"], worktree).stdout
    step, _, files = out.strip("\n").partition("\0")
    return step.strip(), files.split()


async def _merge_in(run: StepRun, part: Part, part_run: StepRun, run_implement: Builder) -> None:
    """Merge one part's branch into the task branch, sending it back to its builder on a conflict."""
    branch = part_run.task.branch
    # A part built in this very run is neither merged nor half resolved yet: no need to ask git.
    fresh = not run.interrupted
    while fresh or not gitrepo.is_merged(run.worktree, branch, "HEAD"):
        step, files = ("", []) if fresh else _head_trailers(part_run.worktree)
        fresh = False
        if step != f"{part_run.key}.merged":  # no conflict being resolved: does it merge as it is?
            files = gitrepo.merge_conflicts(run.worktree, "HEAD", branch)
            if not files:
                gitrepo.merge(run.root, branch, worktree=run.worktree,
                              message=f"Merge {part.name} ({part.title}) into {run.task.branch}")
                run.emit(Note(f"merged {part.name} into {run.task.branch}"))
                return
            if step.startswith(f"{part_run.key}.resolve"):  # resolved once, and it conflicts again
                raise _unresolved(run, part, files, branch)
            run.emit(Note(f"{part.name} conflicts with the parts merged before it in {', '.join(files)}; "
                          "sent back to its builder"))
            _take_merged(run, part_run, files)
        await _resolve(run, part, part_run, files, run_implement)


def _take_merged(run: StepRun, part_run: StepRun, files: list[str]) -> None:
    """Merge the task branch into the part's, the conflicting files taking the task branch's side."""
    wt = part_run.worktree
    head = gitrepo.head_sha(run.worktree)
    gitrepo.run_git(["merge", "--no-ff", "--no-commit", "--end-of-options", head], wt, check=False)
    for name in files:
        if gitrepo.run_git(["checkout", "--theirs", "--", name], wt, check=False).returncode != 0:
            gitrepo.run_git(["rm", "--quiet", "--force", "--", name], wt, check=False)  # gone on that side
    gitrepo.commit_all(wt, f"Merge {run.task.branch} into {part_run.task.branch}, taking its side of "
                       f"{', '.join(files)}\n", {"Specrelay-Task": run.task.id, _STEP: f"{part_run.key}.merged",
                                                 _CONFLICTS: " ".join(files)})


def _conflict_section(part_run: StepRun, files: list[str]) -> str:
    """What the resolving builder is told: the files, its own change to them, the other side's."""
    wt = part_run.worktree
    mine = gitrepo.run_git(["diff", "HEAD^2...HEAD^1", "--", *files], wt, check=False).stdout
    theirs = gitrepo.run_git(["diff", "HEAD^1...HEAD^2", "--", *files], wt, check=False).stdout
    listed = "\n".join(f"- `{f}`" for f in files)
    return (f"## Merge conflict to resolve\n\nYour workstream was built, but merging it into the task branch "
            f"conflicts with the work of the builders merged before it, in:\n\n{listed}\n\nThose files now "
            "hold the merged task branch's version (their current contents are shown below). Make your "
            "workstream's change to them again, on top of that version, keeping the other side's changes.\n\n"
            f"### Your change, which conflicted\n\n```diff\n{mine.strip()}\n```\n\n"
            f"### The other side's change (already merged)\n\n```diff\n{theirs.strip()}\n```\n")


async def _resolve(run: StepRun, part: Part, part_run: StepRun, files: list[str], run_implement: Builder) -> None:
    """The part's builder makes its change again on the merged version (``MAX_RESOLVE_TRIES`` tries)."""

    extra = "".join(f"- `{f}`\n" for f in files if f not in part.files)
    spec = part.spec.rstrip() + "\n" + extra + "\n" + _conflict_section(part_run, files)
    why = ""
    for attempt in range(1, MAX_RESOLVE_TRIES + 1):
        again = dataclasses.replace(part_run, part=f"{part.name}.resolve{attempt}", part_spec=spec, calls=0)
        if _commit_with(again.worktree, again.key) is not None:
            return
        try:
            sha = await run_implement(again, None, None)
        except StepFailed as exc:
            why = str(exc)
            run.emit(Note(f"{part.name}'s builder could not resolve the conflict (try {attempt} of "
                          f"{MAX_RESOLVE_TRIES}): {why.splitlines()[0]}"))
            continue
        run.emit(Note(f"{part.name}'s builder resolved the conflict in {', '.join(files)} ({sha[:10]})"))
        return
    raise _unresolved(run, part, files, part_run.task.branch, why)


def _unresolved(run: StepRun, part: Part, files: list[str], branch: str, why: str = "") -> StepFailed:
    kept = ", ".join(sorted({part_branch(run, name) for name in _names(run)} | {branch}))
    because = f" ({why.splitlines()[0]})" if why else ""
    return StepFailed(f"step '{run.step.title}': {part.name} ({part.title}) still conflicts with the parts merged "
                      f"before it in {', '.join(files)} after {plural(MAX_RESOLVE_TRIES, 'try', 'tries')}"
                      f"{because}. The task branch is as it was before the step; every part's branch is kept "
                      f"({kept}): merge {branch} by hand, or change the spec's workstreams and resume.")


def _names(run: StepRun) -> list[str]:
    found = run.read_artifact(record_name(run.round))
    return [p["name"] for p in json.loads(found)["parts"]] if found else []


def recorded_parts(folder: Path) -> list[dict[str, object]]:
    """Every part the task's parallel builds recorded, round by round (``parts_rN.json``)."""
    found: list[dict[str, object]] = []
    files = sorted(folder.glob("parts_r*.json"), key=lambda p: (len(p.name), p.name))
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found += [{**p, "round": data.get("round"), "step": data.get("step")} for p in data.get("parts", [])]
    return found


def _record(run: StepRun, parts: list[Part], runs: list[StepRun], heads: list[str] | None = None) -> None:
    """``parts_rN.json``: each part, its files, branch, worktree and head, for ``show``."""
    heads = heads or [gitrepo.head_sha(r.worktree) for r in runs]
    rows = [{"name": p.name, "title": p.title, "files": list(p.files), "branch": r.task.branch,
             "worktree": str(r.worktree), "head": head, "label": r.label}
            for p, r, head in zip(parts, runs, heads, strict=True)]
    run.write_artifact(record_name(run.round), json.dumps({"step": run.step.title, "round": run.round,
                                                           "parts": rows}, indent=2) + "\n")
