"""On-demand review (``specrelay review``): a panel or one reviewer on any diff, no task needed.

RANGE is the uncommitted changes against HEAD (default), ``A..B``, a branch (its changes since it
left HEAD's history), or a task id (the task's branch against its base, with its spec.md).
Reports are saved under ``.specrelay/reviews/<id>/``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specrelay import gitrepo, paths
from specrelay.config import Config
from specrelay.engine import context as C
from specrelay.engine.panel import PanelOutcome, PanelRequest, run_panel
from specrelay.engine.phases.review import DIFF_TOKENS, review_system
from specrelay.errors import UserError
from specrelay.ledger import Ledger
from specrelay.llm import CallResult, Client

DEFAULT_REVIEWER = "sonnet-reviewer"


@dataclass(frozen=True)
class Target:
    """What is being reviewed."""

    label: str
    diff: str
    files: list[str]
    spec: str | None


def resolve_target(root: Path, ledger: Ledger, range_: str | None, spec_file: Path | None) -> Target:
    spec = _read_spec(spec_file)
    if range_ is None:
        diff = gitrepo.diff_uncommitted(root)
        files = sorted(set(gitrepo.run_git(["diff", "--name-only", "HEAD"], root).stdout.split())
                       | set(gitrepo.untracked_files(root)))
        return Target("uncommitted changes against HEAD", diff, files, spec)
    task = ledger.task(range_) if ledger is not None else None
    if task is not None:
        worktree = Path(task["worktree"])
        where = worktree if worktree.is_dir() else root
        task_spec = paths.task_dir(root, task["id"]) / "spec.md"
        if spec is None and task_spec.is_file():
            spec = task_spec.read_text(encoding="utf-8")
        return Target(f"task {task['id']} ({task['branch']} against its base)",
                      gitrepo.diff(where, task["base_sha"], task["branch"]),
                      gitrepo.changed_files(where, task["base_sha"], task["branch"]), spec)
    if ".." in range_:
        base, _, head = range_.partition("...") if "..." in range_ else range_.partition("..")
        base, head = base or "HEAD", head or "HEAD"
        gitrepo.resolve_ref(root, base), gitrepo.resolve_ref(root, head)
        return Target(range_, gitrepo.diff(root, base, head), gitrepo.changed_files(root, base, head), spec)
    gitrepo.resolve_ref(root, range_)
    base = gitrepo.run_git(["merge-base", "HEAD", range_], root).stdout.strip()
    return Target(f"{range_} since it left HEAD's history", gitrepo.diff(root, base, range_),
                  gitrepo.changed_files(root, base, range_), spec)


def _read_spec(spec_file: Path | None) -> str | None:
    if spec_file is None:
        return None
    try:
        return spec_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--spec {spec_file}: cannot read it as UTF-8 text ({exc}).") from None


def review_context(root: Path, target: Target) -> C.Context:
    ctx = C.Context()
    ctx.add("rules", "Project rules", C.read_rules(root))
    ctx.add("spec", "spec.md", target.spec or "No spec was given: review the change on its own merits and "
                                                "against the project's rules.")
    ctx.add("diff", f"Diff ({target.label})", C.cut_to_tokens(target.diff, DIFF_TOKENS))
    ctx.add("verify", "Verification results", "Not run (on-demand review).")
    return ctx


def review_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]


async def review_target(root: Path, config: Config, ledger: Ledger, target: Target, presets: list[str],
                        *, emit: Any = None) -> tuple[PanelOutcome, Path]:
    """Run the panel (or one reviewer) on ``target``; returns the outcome and the report folder."""
    for name in presets:
        config.preset(name)  # unknown presets fail before anything runs
    rid = review_id()
    folder = paths.reviews_dir(root) / rid
    folder.mkdir(parents=True)
    client = Client(config, ledger, run_id=f"review-{rid}")

    async def call(preset: str, system: str, ctx: C.Context, schema: Any = None) -> CallResult:
        if emit:
            emit("call_started", {"preset": preset})
        kwargs: dict[str, Any] = {"phase": "review", "step": "on-demand review", "context": ctx.token_counts()}
        if schema is None:
            return await client.call(preset, system, ctx.render(), **kwargs)
        return await client.call_json(preset, system, ctx.render(), schema, **kwargs)

    request = PanelRequest(presets=presets, system=review_system(), context=review_context(root, target),
                           min_agreement=config.review.min_agreement, diff_files=target.files,
                           consolidate_preset=config.review.consolidate)
    return await run_panel(request, call, folder=folder), folder
