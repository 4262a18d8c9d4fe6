"""The parsed shape of a workflow: steps bound to presets (what each kind implies is in :mod:`.kinds`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: Artifacts every task folder holds from the start, for any step to read.
TASK_ARTIFACTS: tuple[str, ...] = ("request.md",)

@dataclass(frozen=True)
class Step:
    """One ``### [ ] Step: Title`` section of a workflow.

    ``presets`` holds one name for ``agent:`` and two or more for ``agents:`` (a panel);
    it is empty for a verify step that only runs commands. ``line`` is the 1-based line
    of the heading. ``directives`` maps each directive key given in the file to the line
    it was written on, so errors can point at it.
    """

    title: str
    #: The name of a registered kind (:mod:`specrelay.workflow.kinds`).
    kind: str
    presets: tuple[str, ...]
    body: str
    line: int
    checked: bool = False
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    run: tuple[str, ...] = ()
    max_rounds: int | None = None
    #: ``mode:``: "agent" runs the step in specrelay's tool loop, "answer" as one reply (None: the preset's).
    mode: str | None = None
    #: ``max-turns:``: the most turns of the tool loop (None: the preset's ``max_turns``).
    max_turns: int | None = None
    #: ``parallel:``: what a build step splits among builders at once (``workstreams``, ``findings``).
    parallel: tuple[str, ...] = ()
    directives: tuple[tuple[str, int], ...] = field(default=(), repr=False)
    #: The presets of :attr:`team` as the file wrote them, when a route (``@plan``) stood for one (else empty).
    written: tuple[str, ...] = ()
    #: ``agent: a > b > c``: ``presets`` is a cheap-first cascade, tried in order (see ``engine/cascade.py``).
    cascade: bool = False
    #: ``escalate-after:``: review rounds a cascade's preset may be rejected before the next one takes over.
    escalate_after: int | None = None
    #: ``challenger:``: the preset that argues against the step's own (a debate's), None when not given.
    challenger: str | None = None
    #: ``per:``: what a build step goes through one at a time, each built, verified and reviewed before the
    #: next (``milestone``: the spec's milestones); None: the whole spec at once.
    per: str | None = None

    @property
    def team(self) -> tuple[str, ...]:
        """Every preset the step runs: its ``agent:`` or ``agents:``, then its challenger (what a task
        records for the step, and what a resume keeps)."""
        return self.presets + ((self.challenger,) if self.challenger else ())

    @property
    def is_panel(self) -> bool:
        """True when the step runs several presets in parallel (``agents:``)."""
        return len(self.presets) > 1 and not self.cascade

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
