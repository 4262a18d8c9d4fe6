"""A step kind defined outside specrelay that ends the task: its transition is a finish, not an advance."""

from __future__ import annotations

from specrelay.engine.steps import Finish, KindSpec, Outcome, StepRun, register
from specrelay.ledger import TaskStatus


class HaltStep:
    """Stops the task for a person to look, with the step's instruction as the message; runs no model."""

    spec = KindSpec("halt", title_words=("halt",), needs_agent=False)

    async def run(self, step_run: StepRun) -> Outcome:
        return Outcome(Finish(TaskStatus.NEEDS_ATTENTION, step_run.step.body.strip()), detail={"halted": True})


register(HaltStep())
