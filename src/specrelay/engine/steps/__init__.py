"""Step kinds: one module each, registered through :func:`register` (the built-in ones too).

A kind is a :class:`StepKind`: a :class:`~specrelay.workflow.kinds.KindSpec` (what the workflow
layer reads: title words, default artifacts, panel or not, where it loops back) and
``async run(step_run) -> Outcome``. Importing this package registers the built-in kinds, then the
kinds installed packages declare as ``specrelay.step_kinds`` entry points.
"""

from specrelay.engine.prompts import prompt
from specrelay.engine.steps.debate import DebateStep
from specrelay.engine.steps.implement import ImplementStep
from specrelay.engine.steps.kind import Advance, Finish, Outcome, Reopen, StepKind, Transition
from specrelay.engine.steps.plan import PlanStep
from specrelay.engine.steps.registry import kind_of, load_plugins, register, spec_of, unregister
from specrelay.engine.steps.research import ResearchStep
from specrelay.engine.steps.review import ReviewStep
from specrelay.engine.steps.run import StepRun
from specrelay.engine.steps.second_opinion import SecondOpinionStep
from specrelay.engine.steps.verify import VerifyStep
from specrelay.workflow.kinds import KindSpec, last_build_before

# The built-in kinds, through the same door as any other, in the order messages list them.
for _kind in (PlanStep(), ImplementStep(), VerifyStep(), ReviewStep(), ResearchStep(),
              SecondOpinionStep(), DebateStep()):
    register(_kind)
load_plugins()  # then those of installed packages (entry points in ``specrelay.step_kinds``)

__all__ = [
    "Advance",
    "Finish",
    "KindSpec",
    "Outcome",
    "Reopen",
    "StepKind",
    "StepRun",
    "Transition",
    "kind_of",
    "last_build_before",
    "prompt",
    "register",
    "spec_of",
    "unregister",
]
