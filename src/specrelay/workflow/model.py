"""The parsed shape of a workflow: steps bound to presets, and the defaults each step kind implies."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class StepKind(StrEnum):
    """What a step does; the engine picks its runner by kind."""

    PLAN = "plan"
    IMPLEMENT = "implement"
    VERIFY = "verify"
    REVIEW = "review"
    DEBATE = "debate"


#: Title words that imply a kind when a step has no ``<!-- kind: ... -->``.
TITLE_WORDS: dict[str, StepKind] = {
    **dict.fromkeys(("plan", "planning", "spec", "specification", "design"), StepKind.PLAN),
    **dict.fromkeys(("implement", "implementation", "build", "code", "fix"), StepKind.IMPLEMENT),
    **dict.fromkeys(("test", "tests", "verify", "verification", "check"), StepKind.VERIFY),
    **dict.fromkeys(("review", "audit"), StepKind.REVIEW),
    "debate": StepKind.DEBATE,
}

#: Artifacts a step reads when it names none.
DEFAULT_READS: dict[StepKind, tuple[str, ...]] = {
    StepKind.PLAN: (),
    StepKind.IMPLEMENT: ("spec.md",),
    StepKind.VERIFY: (),
    StepKind.REVIEW: ("spec.md",),
    StepKind.DEBATE: (),
}

#: Artifacts a step writes when it names none (verify steps only leave logs).
DEFAULT_WRITES: dict[StepKind, tuple[str, ...]] = {
    StepKind.PLAN: ("spec.md",),
    StepKind.IMPLEMENT: (),
    StepKind.VERIFY: (),
    StepKind.REVIEW: ("review.md",),
    StepKind.DEBATE: (),
}


#: Artifacts every task folder holds from the start, for any step to read.
TASK_ARTIFACTS: tuple[str, ...] = ("request.md",)

#: Artifacts a step of a kind writes whatever its ``writes:`` says (what a later ``reads:`` may name).
ALWAYS_WRITES: dict[StepKind, tuple[str, ...]] = {
    StepKind.VERIFY: ("verify.json",),
    StepKind.REVIEW: ("fix_findings.md",),
}


@dataclass(frozen=True)
class Step:
    """One ``### [ ] Step: Title`` section of a workflow.

    ``presets`` holds one name for ``agent:`` and two or more for ``agents:`` (a panel);
    it is empty for a verify step that only runs commands. ``line`` is the 1-based line
    of the heading. ``directives`` maps each directive key given in the file to the line
    it was written on, so errors can point at it.
    """

    title: str
    kind: StepKind
    presets: tuple[str, ...]
    body: str
    line: int
    checked: bool = False
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    run: tuple[str, ...] = ()
    max_rounds: int | None = None
    directives: tuple[tuple[str, int], ...] = field(default=(), repr=False)

    @property
    def is_panel(self) -> bool:
        """True when the step runs several presets in parallel (``agents:``)."""
        return len(self.presets) > 1

    def line_of(self, key: str) -> int:
        """The line of directive ``key``, or of the heading when the key was not given."""
        return dict(self.directives).get(key, self.line)


@dataclass(frozen=True)
class Workflow:
    """A parsed workflow file: its prose description and its ordered steps."""

    name: str
    path: Path | None
    source: str
    description: str
    steps: tuple[Step, ...]

    @property
    def label(self) -> str:
        """How error messages name this workflow: its path, else its name."""
        return str(self.path) if self.path is not None else self.name

    @property
    def summary(self) -> str:
        """The first sentence of the description's first paragraph of prose (for listings), or ``""``."""
        for paragraph in self.description.split("\n\n"):
            text = " ".join(line.strip() for line in paragraph.splitlines() if line.strip())
            if text and not text.startswith("#"):
                first, dot, _ = text.partition(". ")
                return first + "." if dot else text
        return ""

    def step(self, title: str) -> Step:
        """The step called ``title``; raises ``KeyError`` when there is none."""
        for step in self.steps:
            if step.title == title:
                return step
        raise KeyError(title)

    def pending(self) -> tuple[Step, ...]:
        """The steps not yet ticked, in order: where a run or a resume starts."""
        return tuple(step for step in self.steps if not step.checked)
