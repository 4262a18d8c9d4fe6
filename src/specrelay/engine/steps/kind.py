"""The step-kind protocol: a spec, and ``run(step_run) -> Outcome`` carrying a typed transition.

A kind never writes the ledger: it returns what happened (its ``detail``, the loop state that
follows, notes for the user) and where the run goes next (:data:`Transition`); the runner applies
that in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from specrelay.ledger import TaskStatus
from specrelay.workflow.kinds import KindSpec

if TYPE_CHECKING:
    from specrelay.engine.loopstate import LoopState
    from specrelay.engine.steps.run import StepRun


@dataclass(frozen=True)
class Advance:
    """Go on to the next unfinished step."""


@dataclass(frozen=True)
class Reopen:
    """Send the work back: steps ``start`` through this one run again. ``why`` is what the build
    fixes (``"findings"`` or ``"verify"``); ``new_round`` starts a new review→fix round."""

    start: int
    why: str
    new_round: bool = False


@dataclass(frozen=True)
class Finish:
    """End the task here with ``status`` and ``message``.

    Only needs_attention: a task is done when its last step has run and its checks pass (the runner
    decides that), and the other statuses belong to the runner (running, paused, failed) or to the
    user (merged, discarded). A kind that could finish a task as done would skip those checks.
    """

    status: TaskStatus
    message: str

    def __post_init__(self) -> None:
        if self.status is not TaskStatus.NEEDS_ATTENTION:
            raise ValueError(f"a step may end its task only as needs_attention, not {self.status}")


Transition = Advance | Reopen | Finish


@dataclass(frozen=True)
class Outcome:
    """What one execution of a step did: its ``transition``, what the ledger records of it
    (``detail``), the loop state after it (None: unchanged), and ``notes`` shown once it is recorded."""

    transition: Transition = field(default_factory=Advance)
    detail: dict[str, Any] | None = None
    state: LoopState | None = None
    notes: tuple[str, ...] = ()


class StepKind(Protocol):
    """One kind of workflow step."""

    spec: KindSpec

    async def run(self, step_run: StepRun) -> Outcome:
        """Do the step; raise a :class:`~specrelay.errors.RunError` when it cannot be done."""
        ...
