"""Plan: the planner reads the rules, the request, a repo map and the README, and writes spec.md."""

from __future__ import annotations

import specrelay.engine.context as C
from specrelay.engine.prompts import prompt
from specrelay.engine.steps.kind import Outcome
from specrelay.engine.steps.run import StepRun
from specrelay.errors import StepFailed
from specrelay.llm import CallResult
from specrelay.llm.cutoff import cut_off
from specrelay.workflow.kinds import KindSpec

SPEC = "spec.md"
#: The loop state's ``fix`` when a second opinion sent the plan back, and the findings it wrote.
OPINION_FIX = "opinion"
OPINION_MD = "second_opinion.md"


#: What a plan step reads as research when its ``reads:`` names nothing else: a research step's notes.
RESEARCH = "research.md"


def research_notes(run: StepRun) -> list[tuple[str, str]]:
    """The research the planner reads, (artifact, text) each: the step's ``reads:`` other than the
    request, else ``research.md``, those an earlier step wrote."""
    names = [r for r in run.step.reads if r != "request.md"] or [RESEARCH]
    found = [(name, run.read_artifact(name)) for name in names]
    return [(name, text) for name, text in found if text and text.strip()]


def base_context(run: StepRun) -> C.Context:
    """The planner's context: rules, request, instruction, then the research notes when a research step
    wrote them (instead of the repository map and README: the scouts read the repository for it), else
    the map and the README."""
    ctx = C.Context()
    ctx.add("rules", "Project rules", C.read_rules(run.worktree, run.root))
    ctx.add("request", "Request", run.task.request)
    ctx.add("instruction", "Step instruction", run.step.body)
    research = research_notes(run)
    for i, (name, text) in enumerate(research):
        ctx.add("research" if i == 0 else f"research:{name}", f"Research notes ({name})", text)
    if not research:
        ctx.add("map", "Repository map", C.repo_map(run.worktree))
        ctx.add("readme", "README", C.read_readme(run.worktree))
    return ctx


async def run_plan(run: StepRun) -> str:
    """Write spec.md; a spec without an affected-files section is sent back once, then the step fails.
    A spec cut off at the output cap fails the step at once (it is kept, never built on)."""
    preset = run.step.presets[0]
    target = run.step.writes[0] if run.step.writes else SPEC
    ctx = base_context(run)
    revising = run.state.fix == OPINION_FIX
    if revising:  # a second opinion sent the plan back: the planner revises its spec with the findings
        before = f"{target.removesuffix('.md')}_before_opinion.md"
        # Kept once: a revision redone after a crash revises the same spec, not its own half-done output.
        previous = run.read_artifact(before)
        if previous is None:
            previous = run.read_artifact(target) or ""
            run.write_artifact(before, previous)
        ctx.add("previous", f"Your previous {target}", previous)
        ctx.add("opinion", "A second opinion's findings on it", run.read_artifact(OPINION_MD) or "")
        ctx.add("revise", "What to do", f"Revise {target} for the findings above: fix what they show is missing "
                "or wrong, drop what is out of scope, and keep the rest. Write the whole spec again.")
    result = await _spec(run, preset, ctx, target)
    spec = result.text.strip()
    if C.spec_section(spec, "affected files") is None:
        ctx.add("previous", "Your previous spec.md", spec)
        ctx.add("problem", "Why it was sent back",
                "It has no '## Affected files' section. Every spec must list the files to change or create, "
                "one per line, as relative paths in backticks. Write the whole spec again.")
        spec = (await _spec(run, preset, ctx, target)).text.strip()
        if C.spec_section(spec, "affected files") is None:
            run.write_artifact(f"rejected_{target}", spec + "\n")
            raise StepFailed(f"step '{run.step.title}': the planner's spec has no 'Affected files' section, "
                             f"even after being asked again; it is kept in {run.artifact('rejected_' + target)}.")
    run.write_artifact(target, spec + "\n")
    return target


async def _spec(run: StepRun, preset: str, ctx: C.Context, target: str) -> CallResult:
    """One call for the spec; one cut off at its output cap is kept as ``rejected_<target>`` and fails."""
    result = await run.call(preset, prompt("plan"), ctx)
    if result.truncated:
        kept = run.write_artifact(f"rejected_{target}", result.text.strip() + "\n")
        raise cut_off(run.config, result, f"step '{run.step.title}': the planner's reply", kept=str(kept))
    return result


class PlanStep:
    """The planner writes the spec the build works from."""

    spec = KindSpec("plan", title_words=("plan", "planning", "spec", "specification", "design"),
                    writes=(SPEC,), plans=True)

    async def run(self, step_run: StepRun) -> Outcome:
        await run_plan(step_run)
        return Outcome(state=step_run.state.with_(fix=None))

