"""Debate: the proposer (``agent:``) writes a proposal, a challenger of another family (``challenger:``)
argues against it point by point, and the proposer writes the consensus as spec.md.

1. The proposer writes ``proposal.md`` (the planner's context and prompt, told a challenger will read it).
2. The challenger answers in schema-checked JSON (:mod:`specrelay.engine.debate`; one repair request):
   each point tagged agree, disagree or change, rendered to ``counter.md``.
3. While a point is contested, up to ``max-rounds`` follow-up rounds (default 1): the proposer answers
   each open point (``reply_N.md``), then the challenger tags each one again (``counter_N.md``).
4. The proposer writes the consensus, ``spec.md`` (or the step's ``writes:``), from its proposal and the
   debate; specrelay adds the section that lists what was contested and how it was resolved, drawn from
   the record (``debate.json``) rather than from the proposer's account. When the challenger agreed with
   every point and asked for no change, the proposal is the spec, and no consensus call is made.

A debate that does not converge within its rounds still ends with a spec: the points left open are
listed in it, the proposer's position stands on them (it planned, it decides), the step's note says
so, and the build goes on. A reply that is not valid JSON even after the repair is kept as
``rejected_<artifact>.md`` and fails the step. Every call is keyed, so a resumed debate replays the calls
already paid for. A second opinion after a debate that sends the plan back has the proposer revise the
consensus spec, as a plan step would.
"""

from __future__ import annotations

from typing import Any

import specrelay.engine.context as C
import specrelay.engine.debate as D
from specrelay.engine.prompts import prompt
from specrelay.engine.steps.kind import Outcome
from specrelay.engine.steps.plan import OPINION_FIX, SPEC, base_context, research_notes, run_plan
from specrelay.engine.steps.run import StepRun
from specrelay.errors import InvalidReply, ReplyCutOff, StepFailed
from specrelay.llm import CallResult
from specrelay.llm.cutoff import cut_off
from specrelay.workflow.kinds import KindSpec

PROPOSAL = "proposal.md"
COUNTER = "counter.md"
RECORD = "debate.json"
#: Follow-up rounds when the step sets no ``max-rounds:``.
DEFAULT_MAX_ROUNDS = 1


class DebateStep:
    """Two models of different families argue a plan out; the proposer writes the consensus spec."""

    spec = KindSpec("debate", title_words=("debate",), writes=(SPEC,),
                    always_writes=(PROPOSAL, COUNTER, RECORD), challenger=True, bounds_rounds=True, plans=True)

    async def run(self, step_run: StepRun) -> Outcome:
        if step_run.state.fix == OPINION_FIX:  # a second opinion sent the consensus back: revise it once
            await run_plan(step_run)
            return Outcome(state=step_run.state.with_(fix=None),
                           notes=(f"debate: {step_run.step.presets[0]} revised the consensus for the second "
                                  "opinion's findings",))
        debate = await hold(step_run)
        return Outcome(detail=debate.detail(), notes=(note(debate, target(step_run)),))


def target(run: StepRun) -> str:
    """The artifact the consensus is written to."""
    return run.step.writes[0] if run.step.writes else SPEC


def note(debate: D.Debate, spec: str) -> str:
    """What the run says of the debate once it is recorded."""
    if not debate.contested:
        return f"debate: {debate.challenger} agreed with {debate.proposer}'s proposal"
    if debate.converged:
        return (f"debate: {len(debate.contested)} contested point(s) resolved in {debate.rounds} follow-up "
                "round(s)")
    titles = "; ".join(i.title for i in debate.open)
    return (f"debate: not converged within {debate.max_rounds} follow-up round(s); {len(debate.open)} point(s) "
            f"left open ({titles}) are listed in {spec} under '{D.SECTION}', the proposer's position stands "
            "and the build goes on")


async def hold(run: StepRun) -> D.Debate:
    """The whole debate, its artifacts written as it goes; returns its record."""
    proposer, challenger = run.step.presets[0], run.step.challenger
    if challenger is None:  # validation refuses such a step; a hand-edited task copy may still hold one
        raise StepFailed(f"step '{run.step.title}': a debate needs a challenger; add '<!-- challenger: PRESET "
                         f"-->' under its heading (line {run.step.line} of {run.task.workflow_path})")
    debate = D.Debate(proposer, challenger, run.step.max_rounds or DEFAULT_MAX_ROUNDS)
    proposal = await _markdown(run, proposer, prompt("plan") + prompt("debate_propose"), base_context(run),
                               PROPOSAL, "the proposer's proposal")
    run.write_artifact(PROPOSAL, proposal + "\n")
    counter = await _json(run, challenger, _challenger_system(D.COUNTER_SHAPE), _challenger_context(run, proposal),
                          D.Counter, COUNTER)
    _took_counter(run, debate, counter, 0, COUNTER)
    while debate.open and debate.rounds < debate.max_rounds:
        rnd = debate.rounds + 1
        numbers = [i.number for i in debate.open]
        reply = await _json(run, proposer, prompt("debate_reply") + "\n" + D.REPLY_SHAPE,
                            _reply_context(run, debate, proposal), D.reply_schema(numbers), f"reply_{rnd}.md")
        debate.take_reply(reply, rnd)
        run.write_artifact(f"reply_{rnd}.md", D.render_reply(debate, reply, rnd))
        ctx = _challenger_context(run, proposal)
        ctx.add("points", "The open points, with the proposer's answers", D.open_points(debate))
        follow_up = await _json(run, challenger, _challenger_system(D.FOLLOW_UP_SHAPE), ctx,
                                D.follow_up_schema(numbers, len(debate.issues)), f"counter_{rnd}.md")
        _took_counter(run, debate, follow_up, rnd, f"counter_{rnd}.md")
    stands = debate.agreed_as_is and C.spec_section(proposal, "affected files") is not None
    spec = proposal if stands else await _consensus(run, debate, proposal)
    run.write_artifact(target(run), D.without_section(spec) + "\n\n" + D.resolution(debate))
    return debate


def _took_counter(run: StepRun, debate: D.Debate, counter: D.Counter, rnd: int, name: str) -> None:
    debate.take_counter(counter, rnd)
    run.write_artifact(name, D.render_counter(debate, counter, rnd))
    run.write_artifact(RECORD, debate.to_json())


def _challenger_system(shape: str) -> str:
    return prompt("debate_counter") + "\n" + shape


def _challenger_context(run: StepRun, proposal: str) -> C.Context:
    ctx = C.Context()
    ctx.add("rules", "Project rules", C.read_rules(run.worktree, run.root))
    ctx.add("request", "Request", run.task.request)
    for i, (name, text) in enumerate(research_notes(run)):
        ctx.add("research" if i == 0 else f"research:{name}", f"Research notes ({name})", text)
    ctx.add("proposal", f"The proposal ({PROPOSAL})", proposal)
    ctx.add("instruction", "Step instruction", run.step.body)
    return ctx


def _reply_context(run: StepRun, debate: D.Debate, proposal: str) -> C.Context:
    ctx = C.Context()
    ctx.add("rules", "Project rules", C.read_rules(run.worktree, run.root))
    ctx.add("request", "Request", run.task.request)
    ctx.add("proposal", f"Your proposal ({PROPOSAL})", proposal)
    ctx.add("points", f"The points {debate.challenger} contests", D.open_points(debate))
    return ctx


async def _consensus(run: StepRun, debate: D.Debate, proposal: str) -> str:
    """The proposer's consensus spec; one without an affected-files section is sent back once."""
    ctx = base_context(run)
    ctx.add("proposal", f"Your proposal ({PROPOSAL})", proposal)
    ctx.add("debate", f"The debate with {debate.challenger}", D.every_point(debate))
    system = prompt("plan") + prompt("debate_consensus")
    name = target(run)
    spec = await _markdown(run, debate.proposer, system, ctx, name, "the proposer's consensus")
    if C.spec_section(spec, "affected files") is None:
        ctx.add("previous", f"Your previous {name}", spec)
        ctx.add("problem", "Why it was sent back",
                "It has no '## Affected files' section. Every spec must list the files to change or create, "
                "one per line, as relative paths in backticks. Write the whole spec again.")
        spec = await _markdown(run, debate.proposer, system, ctx, name, "the proposer's consensus")
        if C.spec_section(spec, "affected files") is None:
            kept = run.write_artifact(f"rejected_{name}", spec + "\n")
            raise StepFailed(f"step '{run.step.title}': the consensus spec has no 'Affected files' section, even "
                             f"after being asked again; it is kept in {kept}.")
    return spec


async def _markdown(run: StepRun, preset: str, system: str, ctx: C.Context, name: str, what: str) -> str:
    """One call answered in Markdown; a reply cut off at its output cap is kept and fails the step."""
    result: CallResult = await run.call(preset, system, ctx)
    if result.truncated:
        kept = run.write_artifact(f"rejected_{name}", result.text.strip() + "\n")
        raise cut_off(run.config, result, f"step '{run.step.title}': {what}", kept=str(kept))
    return result.text.strip()


async def _json(run: StepRun, preset: str, system: str, ctx: C.Context, schema: type[Any], name: str) -> Any:
    """One schema-checked answer (one repair request); a reply still invalid is kept and fails the step."""
    try:
        result = await run.call(preset, system, ctx, schema=schema)
    except (InvalidReply, ReplyCutOff) as exc:
        kept = run.write_artifact(f"rejected_{name}", (exc.reply or "").strip() + "\n")
        raise StepFailed(f"step '{run.step.title}': {exc}; the reply is kept in {kept}") from None
    return result.value
