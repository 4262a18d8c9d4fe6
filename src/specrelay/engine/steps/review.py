"""Review: reviewers read the rules, spec.md, the diff base..HEAD and the verification results, and
answer schema-checked JSON reviews.

One reviewer writes ``review.json`` and ``review.md``. A panel (``agents:``) runs its reviewers
concurrently on the same fresh context; each writes ``review_worker_N.json``, and the deterministic
consolidation by agreement writes ``final_review.json`` and ``final_review.md``. Either way the
verdict is decided from the findings by the one verdict rule (:mod:`specrelay.engine.verdict`), the
outcome is a :class:`ReviewOutcome`, and the findings the builder must fix are
written to ``fix_findings.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import specrelay.engine.context as C
from specrelay import gitrepo
from specrelay.engine.events import Note
from specrelay.engine.panel import PanelRequest, run_panel
from specrelay.engine.reviewdoc import REVIEW_JSON_SHAPE, Review, render_findings_for_builder, render_review
from specrelay.engine.steps.kind import Finish, Outcome, Reopen
from specrelay.engine.steps.run import StepRun, prompt
from specrelay.engine.steps.verify import verify_summary
from specrelay.engine.verdict import counted, decide_alone
from specrelay.ledger import TaskStatus
from specrelay.text import plural
from specrelay.workflow.kinds import KindSpec

DIFF_TOKENS = 30000
#: What a review leaves for the next build round to fix.
FIX_FINDINGS = "fix_findings.md"
#: Review→fix rounds when a review step names no ``max-rounds:``.
DEFAULT_MAX_ROUNDS = 3


@dataclass(frozen=True)
class ReviewOutcome:
    """What the runner needs from a review step, whichever way it was reviewed. ``verdict`` is the
    one decided by the verdict rule (:mod:`specrelay.engine.verdict`); ``note`` says why a reviewer's
    own verdict did not count, when it differed."""

    verdict: str
    findings: int
    open_items: list[str]
    note: str | None = None

    @property
    def wants_changes(self) -> bool:
        """Another build round is needed: the decided verdict requests changes."""
        return self.verdict == "request_changes"


def review_system() -> str:
    return prompt("review") + "\n" + REVIEW_JSON_SHAPE


def review_context(run: StepRun) -> C.Context:
    ctx = C.Context()
    ctx.add("rules", "Project rules", C.read_rules(run.worktree, run.root))
    ctx.add("spec", run.spec_name, run.read_artifact(run.spec_name) or run.task.request)
    ctx.add("instruction", "Step instruction", run.step.body)
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
    preset = run.step.presets[0]
    result = await run.call(preset, review_system(), review_context(run), schema=Review)
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
    return ReviewOutcome(decision.verdict, len(review.findings),
                         [f"[{f.severity}] {f.title} ({f.where()})" for f in blocking],
                         note=f"the reviewer {note}" if note else None)


async def _panel_review(run: StepRun) -> ReviewOutcome:
    ctx = review_context(run)
    request = PanelRequest(presets=run.step.presets, system=review_system(), context=ctx,
                           min_agreement=run.config.review.min_agreement,
                           diff_files=gitrepo.changed_files(run.worktree, run.task.base_sha),
                           consolidate_preset=run.config.review.consolidate)
    panel = await run_panel(request, run.call, folder=run.folder, round_no=run.round, emit=run.emit)
    run.write_artifact(FIX_FINDINGS, panel.builder_text)
    return ReviewOutcome(panel.verdict, panel.findings, panel.open_items, note=panel.note)


class ReviewStep:
    """Reviewers judge the diff; changes requested send the findings back to the builder in a new round."""

    spec = KindSpec("review", title_words=("review", "audit"), reads=("spec.md",), writes=("review.md",),
                    always_writes=(FIX_FINDINGS,), panel=True, loops_back="findings", bounds_rounds=True,
                    needs_build=True)

    async def run(self, step_run: StepRun) -> Outcome:
        review = await run_review(step_run)
        detail: dict[str, Any] = {"verdict": review.verdict, "findings": review.findings}
        if review.note:  # the reviewer's own verdict did not count: say so where the verdict is shown
            detail["note"] = review.note
            step_run.emit(Note(review.note))
        state = step_run.state.with_(verdict=review.verdict)
        if not review.wants_changes:
            return Outcome(detail=detail, state=state)
        impl, rnd = step_run.loop_start(), step_run.round
        if impl is None or rnd >= (step_run.step.max_rounds or DEFAULT_MAX_ROUNDS) + state.extra_rounds:
            message = f"changes still requested after {plural(rnd, 'round')}: {'; '.join(review.open_items)}"
            return Outcome(Finish(TaskStatus.NEEDS_ATTENTION, message), detail, state)
        step_run.emit(Note(f"review requested changes ({counted(len(review.open_items), 'blocking finding')}); "
                           f"round {rnd + 1}"))
        return Outcome(Reopen(impl, "findings", new_round=True), detail, state.new_round("findings"))

