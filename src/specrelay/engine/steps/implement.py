"""Implement: the builder answers SEARCH/REPLACE blocks against spec.md; they are applied and committed.

A reply whose blocks do not apply is sent back with the failing blocks and why each failed (line
numbers, closest candidates), bounded (``correction.py``), for corrected versions of those blocks, a
bounded number of times; the blocks that would have applied are kept and applied with them
(``kept.py``). Nothing is half-applied: a set of blocks applies whole or not at all, and a reply cut
off at its output cap is not applied at all: the step fails at once, saying which cap to raise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import specrelay.engine.context as C
import specrelay.engine.leftovers as leftovers
from specrelay import gitrepo
from specrelay.engine import cascade, parallel
from specrelay.engine.agent import step as agent
from specrelay.engine.events import Note
from specrelay.engine.milestones import being_built
from specrelay.engine.prompts import prompt
from specrelay.engine.review.in_task import FIX_FINDINGS
from specrelay.engine.steps.agent_build import build_with_agent, edits_worktree
from specrelay.engine.steps.correction import correction
from specrelay.engine.steps.kept import Carried, Placed, render
from specrelay.engine.steps.kind import Outcome, Reopen
from specrelay.engine.steps.run import StepRun
from specrelay.engine.steps.verify import failing_output as failing_verification
from specrelay.errors import EditError, EditsNotApplied, StepFailed
from specrelay.llm.cutoff import cut_off
from specrelay.workflow.kinds import KindSpec

if TYPE_CHECKING:  # the edits package is loaded when the step runs
    from specrelay.edits import ApplyResult, EditBlock

#: How many corrected replies a builder may send after its first one fails to apply.
MAX_CORRECTIONS = 2
#: A commit subject longer than this is cut at a word (git's own advice is about 50-72 characters).
SUBJECT_CHARS = 72

_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
_GENERIC_TITLES = {"goal", "spec", "spec.md", "specification", "plan"}
_SPEC_LABEL = re.compile(r"^(?:spec(?:ification)?|plan)\s*[:\u2014-]\s*", re.IGNORECASE)


def build_context(run: StepRun, findings: str | None, failing_output: str | None) -> C.Context:
    spec = run.spec_text()
    files = C.affected_files(spec)
    ctx = C.Context()
    ctx.add("rules", "Project rules", C.read_rules(run.worktree, run.root))
    ctx.add("spec", run.spec_name, spec or run.task.request)
    ctx.add("instruction", "Step instruction", run.step.body)
    current = being_built(run)
    if current is not None:
        milestone, total = current
        ctx.add("milestone", "The milestone to build now", milestone.brief(total) + (
            "\nBuild this milestone only: the earlier ones are committed already, the later ones come after "
            "this one is reviewed."))
    if findings:
        ctx.add("findings", "Review findings to fix in this round", findings)
    if failing_output:
        ctx.add("verify", "Failing verification output to fix", failing_output)
    ctx.add("files", "Current contents of the affected files", C.file_contents(run.worktree, files))
    if not files:
        ctx.add("map", "Repository map", C.repo_map(run.worktree))
    return ctx


def commit_message(spec: str, request: str, step: str, round_: int, *, findings: bool,
                   failing: bool) -> str:
    """The commit's subject (what changed, from the spec) and body (which step, round and why).

    The subject is spec.md's first heading, else the first sentence of its Goal, else the
    request's first line. The trailers are added by the caller and never change: crash-resume
    finds a step's commit by them.
    """
    why = ("fixes the review findings and the failing verification" if findings and failing
           else "fixes the review findings" if findings
           else "fixes the failing verification" if failing
           else "implements the spec" if spec.strip() else "implements the request")
    subject = _subject(spec) or _first_sentence(request) or step
    if findings or failing:
        subject = f"Fix {'review findings' if findings else 'failing verification'}: {subject}"
    return f"{_cut(subject)}\n\nspecrelay: {step} (round {round_}) {why}.\n"


def _subject(spec: str) -> str:
    """spec.md's title: its first heading, or the first sentence of its Goal section."""
    lines = spec.splitlines()
    headings = [(i, m.group(1).strip("*_` ")) for i, m in enumerate(map(_HEADING.match, lines)) if m]
    if headings and headings[0][1].lower() not in _GENERIC_TITLES:
        return _SPEC_LABEL.sub("", headings[0][1])
    goal = next((i for i, title in headings if title.lower() == "goal"), None)
    if goal is None:
        return ""
    following = [i for i, _ in headings if i > goal]
    body = lines[goal + 1:following[0] if following else len(lines)]
    return _first_sentence(" ".join(body))


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    end = re.search(r"[.!?](?:\s|$)", text)
    return (text[:end.start()] if end else text).strip()


def _cut(subject: str) -> str:
    """One line of at most SUBJECT_CHARS characters, cut at a word."""
    subject = " ".join(subject.split())
    if len(subject) <= SUBJECT_CHARS:
        return subject
    cut = subject[:SUBJECT_CHARS - 3].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "..."


def _failures(carried: Carried, exc: EditError) -> list[str]:
    """Why a set of edits was refused, for the user: each failing block named, with the applier's reason."""
    from specrelay.edits import EditsRejected

    if not isinstance(exc, EditsRejected):
        return [str(exc)]
    return [f"{t.placed.label()}: {t.report.message}" for t in carried.failing]


def _gist(reasons: list[str]) -> str:
    """The reasons in one line, without the code they quote."""
    firsts = [next((line.strip() for line in r.splitlines() if line.strip()), "") for r in reasons]
    return "; ".join(line.removesuffix("; closest:").rstrip(":") for line in firsts)


def refuse_ignored(worktree: Path, paths: Sequence[str]) -> None:
    """Refuse edits to files git ignores (and does not track): their commit would fail, or leave
    them behind. An EditError, so the builder is asked again, told why."""
    ignored = gitrepo.ignored(worktree, sorted(set(paths)))
    if ignored:
        raise EditError(f"{', '.join(ignored)} {'is' if len(ignored) == 1 else 'are'} ignored by git "
                        "(.gitignore or .git/info/exclude), so the change would never be committed; "
                        "edit or create files the repository keeps")


def _keep_rejected(run: StepRun, why: str, reply: str, earlier: Sequence[EditBlock] = ()) -> Path:
    """Keep a reply whose edits were not applied, with why (and the blocks kept from earlier replies,
    which were refused with it), as ``rejected_edits_rN.md``."""
    kept = "".join(f"\n\n{render(block)}" for block in earlier)
    if kept:
        kept = f"\n## Blocks kept from earlier replies, applied before the last reply's{kept}\n"
    escalated = f"_e{run.level}" if run.level else ""  # each preset of a cascade keeps its own
    part = f"_{run.part}" if run.part else ""  # and each part (a workstream, a candidate) its own
    return run.write_artifact(f"rejected_edits_r{run.round}{escalated}{part}.md",
                              f"# Edits that could not be applied\n\n{why}\n\n## The last reply\n\n{reply}\n{kept}")


def _already_committed(run: StepRun) -> str | None:
    """The commit this very step execution made before an interruption, if HEAD is it."""
    out = gitrepo.run_git(["log", "-1", "--format=%H%n%(trailers:key=Specrelay-Step,valueonly)"],
                          run.worktree).stdout.split("\n")
    return out[0] if len(out) > 1 and out[1].strip() == run.key else None


def _set_aside_leftovers(run: StepRun, of: str = "an interrupted step") -> str | None:
    """Edits left by an interrupted execution (or ``of`` what else) are kept on a ref of specrelay's own
    (never deleted, never in the user's stash) before the step is redone; the ref, or None when the
    worktree was clean."""
    if not gitrepo.is_dirty(run.worktree):
        return None
    ref = leftovers.set_aside(run.root, run.worktree, run.task.id,
                              f"specrelay {run.task.id}: uncommitted changes of {of}, before step {run.key}")
    if ref:
        run.emit(Note(f"uncommitted changes of {of} were kept at {ref}"))
    return ref


async def _apply_with_corrections(run: StepRun, ctx: C.Context) -> tuple[ApplyResult, str]:
    """The builder's edits applied, after up to ``MAX_CORRECTIONS`` corrections; and the model that made them.

    A refused set's blocks that would have applied are kept and applied again with the corrected
    reply's (``kept.py``): the correction asks only for the failing ones.
    """
    from specrelay.edits import EditsRejected, apply_blocks, parse_blocks

    preset = run.step.presets[0]
    carried = Carried()
    for attempt in range(MAX_CORRECTIONS + 1):
        result = await run.call(preset, prompt("implement"), ctx)
        if result.truncated:  # half a set of edits is never applied, nor sent back at the same cap
            report = _keep_rejected(run, "The reply was cut off at its output cap, so none of it was applied.",
                                    result.text, carried.earlier)
            raise cut_off(run.config, result, f"step '{run.step.title}': the builder's reply", kept=str(report))
        placed: list[Placed] = []
        try:
            blocks = parse_blocks(result.text)
            if not blocks:
                raise EditError("the reply holds no SEARCH/REPLACE blocks")
            placed = carried.with_reply(blocks)
            refuse_ignored(run.worktree, [p.block.path for p in placed])
            return apply_blocks(run.worktree, [p.block for p in placed]), result.model
        except EditError as exc:
            earlier = carried.earlier
            if isinstance(exc, EditsRejected):
                carried.rejected(placed, exc.result)
                earlier = [p.block for p in placed if not p.in_reply]
            reasons = _failures(carried, exc)
            if attempt == MAX_CORRECTIONS:
                report = _keep_rejected(run, "\n\n".join(reasons), result.text, earlier)
                raise EditsNotApplied(f"step '{run.step.title}': the builder's edits could not be applied after "
                                      f"{MAX_CORRECTIONS} corrections: {_gist(reasons)}. The full report: {report}",
                                      gist=_gist(reasons)) from None
            more = f" and {len(reasons) - 1} more" if len(reasons) > 1 else ""
            run.emit(Note(f"edits did not apply ({_gist(reasons[:1])}{more}); asking for "
                          + (f"the failing blocks corrected, keeping the {len(carried.kept)} that would have applied"
                             if carried.kept else "a fix")))
            previous, problem = correction(result.text, carried, exc)
            ctx.add("previous", "What failed in your previous reply, and what is kept", previous)
            ctx.add("problem", "Why it could not be applied (nothing was changed)", problem)
    raise AssertionError("unreachable: the last attempt returns or raises")


async def run_implement(run: StepRun, findings: str | None = None, failing_output: str | None = None) -> str:
    """Apply the builder's edits and commit them; returns the commit sha."""
    kept = None
    if run.interrupted:  # the cut-off run's `git commit` may still be running its hooks, about to land
        gitrepo.wait_for_commits(run.worktree)
        done = _already_committed(run)
        if done:
            return done
        kept = _set_aside_leftovers(run)
    message = commit_message(run.spec_text(), run.task.request, run.step.title, run.round,
                             findings=bool(findings), failing=bool(failing_output))
    current = being_built(run)
    if current is not None:  # each milestone its own commit, named for it
        milestone, total = current
        rest = message[message.find("\n"):] if "\n" in message else ""
        message = f"{milestone.title} (milestone {milestone.number} of {total})"[:SUBJECT_CHARS] + rest
    ctx = build_context(run, findings, failing_output)
    if edits_worktree(run.config, run.step.presets[0]):
        # specrelay commits all that the agent leaves changed: what was there before it ran (a failed
        # attempt's edits, a check's output) is set aside first, so only the agent's work is in its commit.
        kept = kept or _set_aside_leftovers(run, "earlier steps")
        built = await build_with_agent(run, ctx, message)
        if kept and leftovers.drop_if_reproduced(run.root, kept, built):
            run.emit(Note("the redone step committed exactly the leftovers; their copy was dropped"))
        return built
    if agent.agent_mode(run):
        # A loop redone after a failure finds the edits it left: set aside, so it starts from HEAD.
        kept = kept or _set_aside_leftovers(run)
        changed, model = await agent.implement(run, ctx)
    else:
        applied, model = await _apply_with_corrections(run, ctx)
        changed = sorted(set(applied.changed) | set(applied.created))
    run.emit(Note(f"applied edits to {', '.join(changed) or 'no files'}"))
    sha = gitrepo.commit_all(run.worktree, message, {
        "Specrelay-Task": run.task.id, "Specrelay-Model": model, "Specrelay-Step": run.key},
        paths=changed)
    if sha is None:
        raise StepFailed(f"step '{run.step.title}': the builder's edits changed nothing in the worktree; "
                         f"see its reply with `specrelay show {run.task.id}`.")
    if kept and leftovers.drop_if_reproduced(run.root, kept, sha):
        run.emit(Note("the redone step committed exactly the leftovers; their copy was dropped"))
    return sha


class ImplementStep:
    """The builder edits the worktree and commits; on a fix round it sees what it must fix."""

    spec = KindSpec("implement", title_words=("implement", "implementation", "build", "code", "fix"),
                    reads=("spec.md",), builds=True, attempts=True, agent_loop=True, best_of=True,
                    distinct_presets=False)

    async def run(self, step_run: StepRun) -> Outcome:
        # A fix round sees this round's review findings and, after a failed verification, its output; the
        # first round of a new milestone has none to fix.
        fixing = step_run.round > 1 and step_run.state.fix != "milestone"
        findings = step_run.read_artifact(FIX_FINDINGS) if fixing else None
        failing = failing_verification(step_run) if step_run.state.fix == "verify" else None
        if step_run.step.is_panel:  # agents: best-of-N builds the spec; its winner's preset builds the fixes
            from specrelay.engine import candidates

            if not (findings or failing):
                detail, notes = await candidates.best_of(step_run, run_implement)
                return Outcome(detail=detail, state=step_run.state.with_(fix=None), notes=notes)
            step_run = replace(step_run, step=replace(step_run.step, presets=(candidates.winner_preset(step_run),)))

        try:
            parts = parallel.parts_for(step_run, findings or None, failing)
            if parts:
                await parallel.build_parts(step_run, parts, failing, run_implement)
            else:
                await run_implement(step_run, findings or None, failing)
        except EditsNotApplied as exc:
            why = f"could not get its edits applied ({exc.gist})"
            moved = cascade.escalate(step_run, step_run.index, step_run.state, "edits", why, step_run.round)
            if moved is None:
                tried = cascade.tried(step_run, step_run.index, step_run.state, why)
                raise (EditsNotApplied(f"{exc} {tried}", gist=exc.gist) if tried else exc) from None
            state, note = moved
            # This step again, on the next preset, fixing what this one was to fix.
            return Outcome(Reopen(step_run.index, step_run.state.fix or "spec"), state=state, notes=(note,))
        return Outcome(state=step_run.state.with_(fix=None))

