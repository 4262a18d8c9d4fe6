"""The review step's work: reviewers read the rules, spec.md, the diff base..HEAD and the verification results, and
answer schema-checked JSON reviews.

One reviewer writes ``review.json`` and ``review.md``. A panel (``agents:``) runs its reviewers
concurrently on the same fresh context; each writes ``review_worker_N.json``, and the deterministic
consolidation by agreement writes ``final_review.json`` and ``final_review.md``. Either way the
verdict is decided from the findings by the one verdict rule (:mod:`specrelay.engine.review.verdict`), the
outcome is a :class:`ReviewOutcome`, and the findings the builder must fix are
written to ``fix_findings.md``. A reply that is no usable review is kept as ``rejected_review_rN.md``
(a panel's, ``rejected_review_rN_PRESET.md``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import specrelay.engine.context as C
from specrelay import gitrepo
from specrelay.engine.milestones import being_built
from specrelay.engine.prompts import prompt
from specrelay.engine.review.document import REVIEW_JSON_SHAPE, Review, render_findings_for_builder, render_review
from specrelay.engine.review.panel import PanelRequest, run_panel
from specrelay.engine.review.rejected import UNUSABLE, keep_rejected, kept_message, rejected_name
from specrelay.engine.review.verdict import decide_alone, requests_changes
from specrelay.errors import StepFailed

if TYPE_CHECKING:
    # Not at run time: importing engine.steps registers every kind, and the build step's module
    # imports this one (for FIX_FINDINGS); `specrelay review` must be able to import this module first.
    from specrelay.engine.steps.run import StepRun

DIFF_TOKENS = 30000
#: What a review leaves for the next build round to fix.
FIX_FINDINGS = "fix_findings.md"
#: The file each of those findings is about, in their order (for fixers split by file).
FIX_FILES = "fix_findings.json"


@dataclass(frozen=True)
class ReviewOutcome:
    """What the runner needs from a review step, whichever way it was reviewed. ``verdict`` is the
    one decided by the verdict rule (:mod:`specrelay.engine.review.verdict`); ``note`` says why a reviewer's
    own verdict did not count, when it differed."""

    verdict: str
    findings: int
    open_items: list[str]
    note: str | None = None

    @property
    def wants_changes(self) -> bool:
        """Another build round is needed: the decided verdict requests changes."""
        return requests_changes(self.verdict)


def review_system() -> str:
    """A reviewer's system prompt: the shipped ``review`` prompt and the JSON it must answer."""
    return prompt("review") + "\n" + REVIEW_JSON_SHAPE


def review_context(run: StepRun) -> C.Context:
    from specrelay.engine.steps.verify import verify_summary

    ctx = C.Context()
    ctx.add("rules", "Project rules", C.read_rules(run.worktree, run.root))
    ctx.add("spec", run.spec_name, run.read_artifact(run.spec_name) or run.task.request)
    ctx.add("instruction", "Step instruction", run.step.body)
    current = being_built(run)
    if current is not None:
        milestone, total = current
        ctx.add("milestone", "The milestone under review", milestone.brief(total) + (
            "\nReview this milestone: the diff holds the earlier ones too, each reviewed and approved already."))
    diff = gitrepo.diff(run.worktree, run.task.base_sha)
    shown = C.cut_to_tokens(diff, DIFF_TOKENS)
    if shown != diff:  # say so: a reviewer must not approve what it was never shown
        unseen = [f for f in gitrepo.changed_files(run.worktree, run.task.base_sha) if f"b/{f}" not in shown]
        shown += (f"\n\n(The diff was cut at about {DIFF_TOKENS:,} tokens. Files not shown: "
                  f"{', '.join(unseen) or 'parts of the last file'}. Say so in your summary, and do not "
                  "approve what you could not see.)")
    ctx.add("diff", f"Diff {run.task.base_sha[:10]}..HEAD", shown or "(empty diff)")
    ctx.add("verify", "Verification results", verify_summary(run))
    return ctx


async def run_review(run: StepRun) -> ReviewOutcome:
    if run.step.is_panel:
        return await _panel_review(run)
    from specrelay.engine.agent.step import review_caller

    preset = run.step.presets[0]
    call = review_caller(run)
    try:
        result = await call(preset, review_system(), review_context(run), schema=Review)
    except UNUSABLE as exc:
        kept = keep_rejected(run.artifact(rejected_name(run.round)), exc, round_no=run.round)
        raise StepFailed(f"step '{run.step.title}': {kept_message(exc, kept)}") from None
    review: Review = result.value
    decision, note = decide_alone(review)
    target = run.step.writes[0] if run.step.writes else "review.md"
    stem = target.rsplit(".", 1)[0]
    # The decided verdict is the recorded one; the reviewer's own stays beside it.
    data = json.dumps({"verdict": decision.verdict, "reason": decision.reason, "reviewer_verdict": review.verdict,
                       "note": note, **review.model_dump(mode="json", exclude={"verdict"})}, indent=2)
    run.write_artifact(f"{stem}.json", data)
    run.write_artifact(f"{stem}_r{run.round}.json", data)
    run.write_artifact(target, render_review(review, reviewer=f"{result.preset} ({result.model})",
                                             round_no=run.round, verdict=decision.verdict, reason=decision.reason,
                                             note=note))
    blocking = [review.findings[i] for i in decision.blocking]
    run.write_artifact(FIX_FINDINGS, render_findings_for_builder(blocking))
    run.write_artifact(FIX_FILES, json.dumps([f.file for f in blocking]))
    return ReviewOutcome(decision.verdict, len(review.findings),
                         [f"[{f.severity}] {f.title} ({f.where()})" for f in blocking],
                         note=f"the reviewer {note}" if note else None)


async def _panel_review(run: StepRun) -> ReviewOutcome:
    ctx = review_context(run)
    request = PanelRequest(presets=run.step.presets, system=review_system(), context=ctx,
                           min_agreement=run.config.review.min_agreement,
                           diff_files=gitrepo.changed_files(run.worktree, run.task.base_sha),
                           consolidate_preset=run.config.review.consolidate)
    from specrelay.engine.agent.step import review_caller

    panel = await run_panel(request, review_caller(run), folder=run.folder, round_no=run.round, emit=run.emit)
    run.write_artifact(FIX_FINDINGS, panel.builder_text)
    from specrelay.engine.review.agreement import blocking_findings

    run.write_artifact(FIX_FILES, json.dumps([f.file for f in blocking_findings(panel.consolidated)]))
    return ReviewOutcome(panel.verdict, panel.findings, panel.open_items, note=panel.note)
