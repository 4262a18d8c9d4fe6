"""On-demand review of any diff (uncommitted changes, ``A..B``, a branch, a task) by one reviewer or a
panel, with the one verdict rule a task's review follows."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specrelay.app.workspace import ledger_of, worktree_top
from specrelay.config import load_config
from specrelay.engine.events import EventSink
from specrelay.engine.review.on_demand import (
    DEFAULT_REVIEWER,
    check_panel,
    check_review,
    nothing_to_review,
    resolve_target,
    review_target,
)
from specrelay.engine.signals import sigterm_as_ctrl_c
from specrelay.errors import UserError


@dataclass(frozen=True)
class ReviewResult:
    """A finished review: the decided verdict and ``final_review.json``'s report.

    ``folder`` is where the report was saved; None when there was nothing to review (no reviewer
    was asked, nothing was paid).
    """

    verdict: str
    label: str
    files: list[str]
    report: dict[str, Any]
    folder: Path | None

    @property
    def approved(self) -> bool:
        return self.verdict == "approve"

    @property
    def exit_code(self) -> int:
        """0 approve (or nothing to review), 1 changes requested: a CI or pre-commit gate."""
        return 0 if self.approved else 1

    def to_json(self) -> dict[str, Any]:
        return self.report


def reviewers(root: Path, *, panel: Sequence[str] | None = None, preset: str | None = None) -> list[str]:
    """The reviewer presets: the panel, else ``preset``, else ``[routes] review``, else the default; each
    checked to exist."""
    if panel and preset:
        raise UserError("give either --panel P1,P2,... or --preset P, not both.")
    config = load_config(root)
    if panel is not None:
        presets = list(panel)
        if not presets:
            raise UserError("--panel: name at least one preset, e.g. --panel gpt-reviewer,gemini-reviewer.")
    else:
        presets = [preset or config.routes.review or DEFAULT_REVIEWER]
    check_panel(presets)
    for name in presets:  # a misspelt preset is an error even when there turns out to be nothing to review
        config.preset(name)
    return presets


def review(root: Path, *, where: Path | None = None, range_: str | None = None,
           panel: Sequence[str] | None = None, preset: str | None = None, spec: Path | None = None,
           emit: EventSink | None = None) -> ReviewResult:
    """Review ``range_`` (default: the uncommitted changes) of the working tree ``where`` is in (default:
    the current directory; a linked worktree too), against ``spec`` when given. ``emit`` hears each
    reviewer start and finish."""
    presets = reviewers(root, panel=panel, preset=preset)
    config = load_config(root)
    here = worktree_top(where or Path.cwd())
    with ledger_of(root, readonly=True) as reading:
        target = resolve_target(root, here, reading, range_, spec)
    if not target.diff.strip():
        report = nothing_to_review(target, presets, config.review.min_agreement)
        return ReviewResult("approve", target.label, target.files, report, None)
    context = check_review(root, config, target, presets)
    # Only now, with something to record: a refused review creates nothing. SIGTERM stops it as Ctrl-C does.
    with ledger_of(root) as ledger, sigterm_as_ctrl_c():
        outcome, folder = asyncio.run(review_target(root, config, ledger, target, presets, context, emit=emit))
    return ReviewResult(outcome.verdict, target.label, target.files, outcome.report, folder)
