"""Review: the step kind whose reviewers judge the diff (:mod:`specrelay.engine.review.in_task` does the
reviewing); changes requested send the findings back to the last build step, in a new round, up to
the step's ``max-rounds:``.
"""

from __future__ import annotations

from typing import Any

from specrelay.engine import cascade
from specrelay.engine.events import Note
from specrelay.engine.milestones import milestones
from specrelay.engine.review.in_task import FIX_FINDINGS, run_review
from specrelay.engine.review.verdict import counted
from specrelay.engine.steps.kind import Finish, Outcome, Reopen
from specrelay.engine.steps.run import StepRun
from specrelay.ledger import TaskStatus
from specrelay.text import plural
from specrelay.workflow.kinds import KindSpec

#: Review→fix rounds when a review step names no ``max-rounds:``.
DEFAULT_MAX_ROUNDS = 3


class ReviewStep:
    """Reviewers judge the diff; changes requested send the findings back to the builder in a new round."""

    spec = KindSpec("review", title_words=("review", "audit"), reads=("spec.md",), writes=("review.md",),
                    always_writes=(FIX_FINDINGS,), panel=True, loops_back="findings", bounds_rounds=True,
                    needs_build=True, agent_loop=True)

    async def run(self, step_run: StepRun) -> Outcome:
        review = await run_review(step_run)
        detail: dict[str, Any] = {"verdict": review.verdict, "findings": review.findings}
        if review.note:  # the reviewer's own verdict did not count: say so where the verdict is shown
            detail["note"] = review.note
            step_run.emit(Note(review.note))
        state = step_run.state.with_(verdict=review.verdict)
        impl, rnd = step_run.loop_start(), step_run.round
        if not review.wants_changes:
            following = next_milestone(step_run, impl)
            if following is None:
                return Outcome(detail=detail, state=state)
            step_run.emit(Note(f"milestone {state.milestone + 1} approved; building milestone {following + 1} "
                               f"in round {rnd + 1}"))
            detail["milestone"] = state.milestone + 1
            state = state.new_round("milestone").with_(milestone=following, milestone_round=rnd + 1)
            assert impl is not None
            return Outcome(Reopen(impl, "milestone", new_round=True), detail, state)
        rounds = rnd - state.milestone_round + 1 if uses_milestones(step_run, impl) else rnd
        if impl is None or rounds >= (step_run.step.max_rounds or DEFAULT_MAX_ROUNDS) + state.extra_rounds:
            message = f"changes still requested after {plural(rounds, 'round')}: {'; '.join(review.open_items)}"
            if impl is not None:
                tried = cascade.tried(step_run, impl, state, cascade.review_why(cascade.rounds_on(state, impl, rnd)))
                message = f"{message}. {tried}" if tried else message
            return Outcome(Finish(TaskStatus.NEEDS_ATTENTION, message), detail, state)
        step_run.emit(Note(f"review requested changes ({counted(len(review.open_items), 'blocking finding')}); "
                           f"round {rnd + 1}"))
        state = state.new_round("findings")
        notes: tuple[str, ...] = ()
        moved = cascade.escalate(step_run, impl, state, "review",
                                 cascade.review_why(cascade.rounds_on(state, impl, rnd)), rnd + 1)
        if moved is not None:
            state, notes = moved[0], (moved[1],)
        return Outcome(Reopen(impl, "findings", new_round=True), detail, state, notes=notes)


def uses_milestones(step_run: StepRun, impl: int | None) -> bool:
    """Whether the loop's build step goes through the spec's milestones one at a time."""
    return impl is not None and step_run.workflow is not None and step_run.workflow.steps[impl].per == "milestone"


def next_milestone(step_run: StepRun, impl: int | None) -> int | None:
    """The index of the milestone to build after the one just approved, or None when it was the last
    (or the build step does not go by milestones)."""
    if not uses_milestones(step_run, impl):
        return None
    following = step_run.state.milestone + 1
    return following if following < len(milestones(step_run.spec_text())) else None
