"""On-demand review (``specrelay review``): a panel or one reviewer on any diff, no task needed.

RANGE is the uncommitted changes against HEAD (default), ``A..B``, a branch (its changes since it
left HEAD's history), or a task id (the task's branch against its base, with its spec.md).
Reports are saved under ``.specrelay/reviews/<id>/``.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import specrelay.engine.context as C
from specrelay import gitrepo, paths
from specrelay.config import Config
from specrelay.engine.events import EventSink
from specrelay.engine.review.in_task import DIFF_TOKENS, review_system
from specrelay.engine.review.panel import PanelOutcome, PanelRequest, run_panel
from specrelay.engine.task import LAST, check_preset_keys, matching_task_ids
from specrelay.errors import GitError, UserError
from specrelay.fsutil import atomic_write_text, read_user_text
from specrelay.ledger import Ledger, TaskRow
from specrelay.llm import CallResult, Client, estimate_tokens
from specrelay.workflow.validate import ONCE_WHY, named_twice

DEFAULT_REVIEWER = "sonnet-reviewer"


@dataclass(frozen=True)
class Target:
    """What is being reviewed."""

    label: str
    diff: str
    files: list[str]
    spec: str | None


def _task_named(here: Path, ledger: Ledger, ref: str) -> TaskRow | None:
    """The task row ``ref`` names: its id, ``last``, or a unique prefix of an id that is not also a git ref."""
    matches = matching_task_ids(ledger, ref) if ".." not in ref else []
    if len(matches) != 1:
        return None
    if matches[0] != ref and ref != LAST:
        try:
            gitrepo.resolve_ref(here, ref)
            return None  # a branch or commit of that name wins over a task id's prefix
        except GitError:
            pass
    return ledger.task(matches[0])


def resolve_target(root: Path, here: Path, ledger: Ledger, range_: str | None,
                   spec_file: Path | None) -> Target:
    """What to review. ``here`` is the working tree the command runs in (the user's main tree or
    one of their linked worktrees); ``root`` is the main tree, where tasks are recorded."""
    spec = _read_spec(spec_file)
    if range_ is None:
        return Target("the uncommitted changes against HEAD", gitrepo.diff_uncommitted(here),
                      _uncommitted_files(here), spec)
    task = _task_named(here, ledger, range_)
    if task is not None:
        worktree = Path(task.worktree)
        where = worktree if worktree.is_dir() else root
        task_spec = paths.task_dir(root, task.id) / "spec.md"
        if spec is None and task_spec.is_file():
            spec = task_spec.read_text(encoding="utf-8")
        return _between(where, task.base_sha, task.branch, f"task {task.id} against its base", spec)
    if "..." in range_:
        base, _, head = range_.partition("...")
        base, head = base or "HEAD", head or "HEAD"
        gitrepo.resolve_ref(here, base), gitrepo.resolve_ref(here, head)
        fork = gitrepo.run_git(["merge-base", base, head], here).stdout.strip()
        return _between(here, fork, head, f"{range_} ({head} since it left {base})", spec)
    if ".." in range_:
        base, _, head = range_.partition("..")
        base, head = base or "HEAD", head or "HEAD"
        gitrepo.resolve_ref(here, base), gitrepo.resolve_ref(here, head)
        return _between(here, base, head, range_, spec)
    ref = gitrepo.resolve_ref(here, range_)
    fork = gitrepo.run_git(["merge-base", "HEAD", range_], here).stdout.strip()
    if fork == ref and ref != gitrepo.head_sha(here):
        # An ancestor of HEAD (say origin/main from a feature branch): review HEAD since it.
        return _between(here, ref, "HEAD", f"HEAD since {range_}", spec)
    return _between(here, fork, range_, f"{range_} since it left HEAD's history", spec)


def _between(where: Path, base: str, head: str, label: str, spec: str | None) -> Target:
    return Target(label, gitrepo.diff(where, base, head), gitrepo.changed_files(where, base, head), spec)


def _uncommitted_files(here: Path) -> list[str]:
    """Changed (staged or not) and untracked files; NUL-separated, so any file name works."""
    against = ["HEAD"] if gitrepo.has_commits(here) else ["--cached"]
    out = gitrepo.run_git(["diff", "--name-only", "-z", *against], here).stdout
    return sorted({f for f in out.split("\0") if f} | set(gitrepo.untracked_files(here)))


def _read_spec(spec_file: Path | None) -> str | None:
    if spec_file is None:
        return None
    return read_user_text(spec_file, "--spec", "give the path of the spec to review against")


def review_context(root: Path, target: Target) -> C.Context:
    size = estimate_tokens(target.diff)
    if size > DIFF_TOKENS:
        raise UserError(f"the diff ({target.label}) is about {size:,} tokens, more than a reviewer is shown at "
                        f"once ({DIFF_TOKENS:,}); review a smaller range, e.g. one commit at a time.")
    ctx = C.Context()
    ctx.add("rules", "Project rules", C.read_rules(root))
    ctx.add("spec", "spec.md", target.spec or "No spec was given: review the change on its own merits and "
                                                "against the project's rules.")
    ctx.add("diff", f"Diff ({target.label})", target.diff)
    ctx.add("verify", "Verification results", "Not run (on-demand review).")
    return ctx


def review_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]


def nothing_to_review(target: Target, presets: list[str], min_agreement: int | None) -> dict[str, Any]:
    """The report of a review with no changes to look at: approve, with the same keys as
    final_review.json (no reviewer was asked, nothing was paid, no report folder was made, so
    ``id`` and ``folder`` are null). ``min_agreement`` is the one the panel would have used."""
    from specrelay.engine.review.verdict import default_agreement

    agreement = default_agreement(len(presets)) if min_agreement is None else max(1, min(min_agreement,
                                                                                          len(presets)))
    return {"verdict": "approve", "reason": f"nothing to review: no changes in {target.label}",
            "min_agreement": agreement, "answered": 0, "cost_usd": 0.0, "reviewers": [],
            "median_scores": {}, "scores": {}, "notes": [], "findings": [], "id": None, "folder": None,
            "target": {"label": target.label, "files": target.files}}


def check_panel(presets: list[str], given: str | None = None) -> None:
    """Refuse a panel that names a reviewer twice (``given``: the ``--panel`` value as typed)."""
    if named_twice(presets):
        raise UserError(f"--panel {given or ','.join(presets)}: each reviewer may appear once ({ONCE_WHY}).")


def check_review(root: Path, config: Config, target: Target, presets: list[str]) -> C.Context:
    """Everything that can refuse a review before anything is recorded: a reviewer named twice, a
    missing key, a bad replies file, a diff too large. Returns the reviewers' context."""
    check_panel(presets)
    check_preset_keys(config, [*presets, *([config.review.consolidate] if config.review.consolidate else [])],
                      fix="pass --preset P or --panel P1,P2 with presets you have keys for (`specrelay presets`)",
                      called=presets)
    return review_context(root, target)


async def review_target(root: Path, config: Config, ledger: Ledger, target: Target, presets: list[str],
                        context: C.Context, *, emit: EventSink | None = None) -> tuple[PanelOutcome, Path]:
    """Run the panel (or one reviewer) on ``target`` with the ``context`` :func:`check_review` gave;
    returns the outcome and the report folder. The verdict is the one rule's
    (:mod:`specrelay.engine.review.verdict`), as in a task. ``emit`` hears each reviewer start and finish
    (see :mod:`specrelay.engine.review.panel`)."""
    rid = review_id()
    folder = paths.reviews_dir(root) / rid
    folder.mkdir(parents=True)
    client = Client(config, ledger, run_id=f"review-{rid}")

    async def call(preset: str, system: str, ctx: C.Context, schema: Any = None) -> CallResult:
        kwargs: dict[str, Any] = {"phase": "review", "step": "on-demand review", "context": ctx.token_counts()}
        if schema is None:
            return await client.call(preset, system, ctx.render(), **kwargs)
        return await client.call_json(preset, system, ctx.render(), schema, **kwargs)

    request = PanelRequest(presets=presets, system=review_system(), context=context,
                           min_agreement=config.review.min_agreement, diff_files=target.files,
                           consolidate_preset=config.review.consolidate)
    try:
        outcome = await run_panel(request, call, folder=folder, emit=emit)
    except BaseException:
        if not any(folder.iterdir()):
            folder.rmdir()
        raise
    outcome.report.update(id=rid, folder=str(folder), target={"label": target.label, "files": target.files})
    atomic_write_text(folder / "final_review.json", json.dumps(outcome.report, indent=2))
    atomic_write_text(folder / "diff.patch", target.diff)
    return outcome, folder
