"""Second opinion: another model checks spec.md against the request and the research before anything is
built, and either approves or sends its findings back to the planner for one revision.

Its answer is schema-checked JSON (:mod:`specrelay.engine.opinion`; one repair request when it is not),
kept as ``second_opinion.json`` and ``second_opinion.md``; a reply that is not valid even after the repair
is kept as ``rejected_second_opinion.md`` and fails the step. When its findings block (a blocker or major)
and the plan has not been revised yet, the plan step before it runs again with the findings (its previous
spec kept as ``spec_before_opinion.md``), then this step checks the revision; after one revision it lets
the build go on, its remaining findings noted.
"""

from __future__ import annotations

import specrelay.engine.context as C
from specrelay.engine.opinion import OPINION_JSON_SHAPE, Opinion, render, to_json
from specrelay.engine.prompts import prompt
from specrelay.engine.steps.kind import Outcome, Reopen
from specrelay.engine.steps.plan import OPINION_FIX as FIX
from specrelay.engine.steps.plan import OPINION_MD
from specrelay.engine.steps.run import StepRun
from specrelay.errors import InvalidReply, StepFailed
from specrelay.workflow import kinds
from specrelay.workflow.kinds import KindSpec

OPINION_JSON = "second_opinion.json"


def system() -> str:
    """The second opinion's system prompt, with the JSON it must answer."""
    return prompt("second_opinion") + "\n" + OPINION_JSON_SHAPE


def last_plan_before(run: StepRun) -> int | None:
    """The index of the last plan step before this one: where the findings go back to."""
    if run.workflow is None:
        return None
    for i in range(run.index - 1, -1, -1):
        found = kinds.spec(run.workflow.steps[i].kind)
        if found is not None and found.plans:
            return i
    return None


def _context(run: StepRun, spec: str) -> C.Context:
    ctx = C.Context()
    ctx.add("rules", "Project rules", C.read_rules(run.worktree, run.root))
    ctx.add("request", "Request", run.task.request)
    research = run.read_artifact("research.md")
    if research:
        ctx.add("research", "Research notes (research.md)", research)
    ctx.add("spec", f"The plan ({run.spec_name})", spec)
    ctx.add("instruction", "Step instruction", run.step.body)
    return ctx


async def ask_opinion(run: StepRun) -> Opinion:
    """The second opinion on the spec, validated; a reply invalid twice is kept and fails the step."""
    spec = run.read_artifact(run.spec_name)
    if not spec or not spec.strip():
        raise StepFailed(f"step '{run.step.title}': there is no {run.spec_name} to check; put a plan step "
                         "before it")
    preset = run.step.presets[0]
    try:
        result = await run.call(preset, system(), _context(run, spec), schema=Opinion)
    except InvalidReply as exc:
        kept = run.write_artifact("rejected_second_opinion.md", (exc.reply or "").strip() + "\n")
        raise StepFailed(f"step '{run.step.title}': {exc}; the reply is kept in {kept}") from None
    opinion = result.value
    assert isinstance(opinion, Opinion)
    run.write_artifact(OPINION_JSON, to_json(opinion, preset=result.preset))
    run.write_artifact(run.step.writes[0] if run.step.writes else OPINION_MD, render(opinion, preset=result.preset))
    return opinion


class SecondOpinionStep:
    """Another model checks the plan; blocking findings send it back to the planner once."""

    spec = KindSpec("second-opinion", title_words=("opinion", "oracle"), reads=("spec.md",),
                    writes=(OPINION_MD,), always_writes=(OPINION_JSON,))

    async def run(self, step_run: StepRun) -> Outcome:
        opinion = await ask_opinion(step_run)
        state = step_run.state
        detail = {"verdict": opinion.decided, "findings": len(opinion.findings),
                  "blocking": [f.title for f in opinion.blocking], "revisions": state.revisions}
        own = opinion.note()
        notes: tuple[str, ...] = (own,) if own else ()
        if opinion.decided == "approve":
            return Outcome(detail=detail, notes=notes)
        plan = last_plan_before(step_run)
        titles = "; ".join(f.title for f in opinion.blocking)
        if plan is None or state.revisions >= 1:
            why = "after one revision" if plan is not None else "with no plan step before it to revise"
            return Outcome(detail=detail, notes=(*notes, f"second opinion: findings remain {why}, the build goes "
                                                        f"on: {titles}"))
        # Generation bumped: the plan's call is made afresh (with the findings) instead of replayed.
        revised = state.with_(fix=FIX, revisions=state.revisions + 1, gen=state.gen + 1)
        return Outcome(Reopen(plan, FIX), detail, revised,
                       notes=(*notes, f"second opinion: the plan goes back to the planner once: {titles}"))
