"""Review: a reviewer reads the rules, spec.md, the diff base..HEAD and the verification results,
and answers a schema-checked JSON review, written as review.json and review.md."""

from __future__ import annotations

from specrelay import gitrepo
from specrelay.engine import context as C
from specrelay.engine.phases.base import StepRun, prompt
from specrelay.engine.phases.verify import verify_summary
from specrelay.engine.reviewdoc import REVIEW_JSON_SHAPE, Review, render_review

DIFF_TOKENS = 30000


def review_context(run: StepRun) -> C.Context:
    ctx = C.Context()
    ctx.add("rules", "Project rules", C.read_rules(run.worktree))
    ctx.add("spec", "spec.md", run.read_artifact("spec.md") or run.task.request)
    ctx.add("instruction", "Step instruction", run.step.body)
    diff = gitrepo.diff(run.worktree, run.task.base_sha)
    ctx.add("diff", f"Diff {run.task.base_sha[:10]}..HEAD", C.cut_to_tokens(diff, DIFF_TOKENS) or "(empty diff)")
    ctx.add("verify", "Verification results", verify_summary(run))
    return ctx


async def run_review(run: StepRun) -> Review:
    preset = run.step.presets[0]
    result = await run.call(preset, prompt("review") + "\n" + REVIEW_JSON_SHAPE, review_context(run),
                            schema=Review)
    review: Review = result.value
    target = run.step.writes[0] if run.step.writes else "review.md"
    stem = target.rsplit(".", 1)[0]
    data = review.model_dump_json(indent=2)
    run.write_artifact(f"{stem}.json", data)
    run.write_artifact(f"{stem}_r{run.round}.json", data)
    run.write_artifact(target, render_review(review, reviewer=f"{result.preset} ({result.model})",
                                             round_no=run.round))
    return review
