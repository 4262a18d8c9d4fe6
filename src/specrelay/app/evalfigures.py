"""The figures of an evaluation report, from its cells: per workflow and between each two workflows (what
each figure means: :mod:`specrelay.app.evalreport`). Pure: the cells carry what the ledger recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specrelay.engine import evalstats
from specrelay.engine.evalfindings import Place, flagged

#: The phase whose share of the tokens the report gives.
IMPLEMENT = "implement"


@dataclass(frozen=True)
class CellFacts:
    """One cell of the run (a case under a workflow, one repeat) with what its task recorded."""

    case: str
    workflow: str
    repeat: int
    task_id: str | None
    task_status: str
    check: str | None
    reason: str = ""
    #: Whether the ledger has the task (a cell that ran none, or whose task is gone, has no figures).
    recorded: bool = False
    cost_usd: float | None = None
    unknown_cost_calls: int = 0
    simulated: bool = False
    tokens: dict[str, int] = field(default_factory=dict)
    rounds: int | None = None
    escalations: int = 0
    wall_s: float | None = None
    findings: int = 0
    #: A failed check's non-test places, and those the task's reviewers had flagged.
    places: list[Place] = field(default_factory=list)
    caught: list[Place] = field(default_factory=list)
    #: Every place the task's reviewers pointed at (a finding with a file and a line).
    flagged: list[Place] = field(default_factory=list)

    @property
    def missed(self) -> list[Place]:
        """The failed check's places the task's own reviewers had not flagged."""
        return [p for p in self.places if p not in self.caught]

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "workflow": self.workflow, "repeat": self.repeat, "task_id": self.task_id,
                "task_status": self.task_status, "check": self.check, "reason": self.reason,
                "recorded": self.recorded, "cost_usd": self.cost_usd, "unknown_cost_calls": self.unknown_cost_calls,
                "simulated": self.simulated, "tokens": self.tokens, "rounds": self.rounds,
                "escalations": self.escalations, "wall_s": self.wall_s, "findings": self.findings,
                "places": [str(p) for p in self.places], "caught": [str(p) for p in self.caught],
                "flagged": [str(p) for p in self.flagged]}


@dataclass(frozen=True)
class WorkflowStats:
    """The figures of one workflow over its cells."""

    workflow: str
    cells: int
    checked: int
    passed: int
    errors: int
    unchecked: int
    pass_rate: evalstats.Interval | None
    tasks: int
    cost_usd: float | None
    unknown_cost_calls: int
    simulated: bool
    cost_per_case_usd: float | None
    cost_per_pass_usd: float | None
    tokens_by_phase: dict[str, int]
    implementation_share: float | None
    mean_rounds: float | None
    escalations: int
    median_wall_s: float | None
    findings: int
    failure_places: int
    caught: int

    @property
    def tokens(self) -> int:
        return sum(self.tokens_by_phase.values())

    def to_json(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "cells": self.cells, "checked": self.checked, "passed": self.passed,
                "failed": self.checked - self.passed, "errors": self.errors, "unchecked": self.unchecked,
                "pass_rate": self.pass_rate.to_json() if self.pass_rate else None, "tasks": self.tasks,
                "cost_usd": self.cost_usd, "unknown_cost_calls": self.unknown_cost_calls,
                "simulated": self.simulated, "cost_per_case_usd": self.cost_per_case_usd,
                "cost_per_pass_usd": self.cost_per_pass_usd, "tokens": self.tokens,
                "tokens_by_phase": self.tokens_by_phase, "implementation_share": self.implementation_share,
                "mean_rounds": self.mean_rounds, "escalations": self.escalations,
                "median_wall_s": self.median_wall_s, "findings": self.findings,
                "failure_places": self.failure_places, "caught": self.caught}


@dataclass(frozen=True)
class Pair:
    """Workflow ``a`` against ``b`` on the same cases (a minus b)."""

    a: str
    b: str
    paired: evalstats.Paired | None
    #: The mean per-case difference of cost on the paired cases; None unless every cost there is known.
    cost_difference_usd: float | None
    #: The places of a's failed checks its own reviewers missed, and how many of them b's reviewers
    #: flagged on the same case (and the other way round): what one review missed that the other caught.
    a_missed: int = 0
    a_missed_b_flagged: int = 0
    b_missed: int = 0
    b_missed_a_flagged: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "pass_rate": self.paired.to_json() if self.paired else None,
                "cost_difference_usd": self.cost_difference_usd, "a_missed": self.a_missed,
                "a_missed_b_flagged": self.a_missed_b_flagged, "b_missed": self.b_missed,
                "b_missed_a_flagged": self.b_missed_a_flagged}


@dataclass(frozen=True)
class Report:
    """A run's report: its figures per workflow, between workflows, and per cell."""

    suite: str
    run_id: str
    folder: Path
    created_at: float | None
    repeat: int
    budget_usd: float | None
    workflows: list[WorkflowStats]
    pairs: list[Pair]
    cells: list[CellFacts]
    notes: list[str]
    seed: int = evalstats.SEED
    resamples: int = evalstats.RESAMPLES

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "suite": self.suite, "run": self.run_id, "folder": str(self.folder),
                "created_at": self.created_at, "repeat": self.repeat, "budget_usd": self.budget_usd,
                "bootstrap": {"seed": self.seed, "resamples": self.resamples, "level": evalstats.LEVEL},
                "workflows": [w.to_json() for w in self.workflows], "pairs": [p.to_json() for p in self.pairs],
                "cells": [c.to_json() for c in self.cells], "notes": self.notes}


# -- the figures -----------------------------------------------------------------------------------------


def outcomes(cells: list[CellFacts]) -> dict[str, list[bool]]:
    """Per case, the pass (True) or failure (False) of each checked cell."""
    out: dict[str, list[bool]] = {}
    for c in cells:
        if c.check in ("passed", "failed"):
            out.setdefault(c.case, []).append(c.check == "passed")
    return out


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def workflow_stats(workflow: str, cells: list[CellFacts]) -> WorkflowStats:
    """The figures of one workflow over its cells."""
    ran = [c for c in cells if c.recorded]
    passed = sum(c.check == "passed" for c in cells)
    priced = [c.cost_usd for c in ran if c.cost_usd is not None]
    cost = sum(priced) if priced else None
    tokens: dict[str, int] = {}
    for c in ran:
        for phase, n in c.tokens.items():
            tokens[phase] = tokens.get(phase, 0) + n
    total = sum(tokens.values())
    return WorkflowStats(
        workflow=workflow, cells=len(cells), checked=sum(c.check in ("passed", "failed") for c in cells),
        passed=passed, errors=sum(c.check == "error" for c in cells), unchecked=sum(c.check is None for c in cells),
        pass_rate=evalstats.pass_rate_interval(outcomes(cells)), tasks=len(ran), cost_usd=cost,
        unknown_cost_calls=sum(c.unknown_cost_calls for c in ran), simulated=any(c.simulated for c in ran),
        cost_per_case_usd=cost / len(ran) if cost is not None and ran else None,
        cost_per_pass_usd=cost / passed if cost is not None and passed else None,
        tokens_by_phase=dict(sorted(tokens.items())), implementation_share=tokens.get(IMPLEMENT, 0) / total
        if total else None, mean_rounds=_mean([float(c.rounds) for c in ran if c.rounds is not None]),
        escalations=sum(c.escalations for c in ran),
        median_wall_s=evalstats.median([c.wall_s for c in ran if c.wall_s is not None]),
        findings=sum(c.findings for c in ran), failure_places=sum(len(c.places) for c in cells),
        caught=sum(len(c.caught) for c in cells))


def _case_costs(cells: list[CellFacts]) -> dict[str, float | None]:
    """Per case, the mean cost of its checked cells; None for a case with one of unknown or missing cost."""
    by: dict[str, list[CellFacts]] = {}
    for c in cells:
        if c.check in ("passed", "failed"):  # the cells the pass rate counts, so both columns rest on the same
            by.setdefault(c.case, []).append(c)
    out: dict[str, float | None] = {}
    for case, group in by.items():
        known = all(c.recorded and c.cost_usd is not None and not c.unknown_cost_calls for c in group)
        out[case] = sum(c.cost_usd or 0.0 for c in group) / len(group) if known else None
    return out


def _cross_caught(mine: list[CellFacts], theirs: list[CellFacts]) -> tuple[int, int]:
    """How many failure places my reviewers missed, and how many of those theirs flagged on the same case."""
    by_case: dict[str, list[Place]] = {}
    for c in theirs:
        by_case.setdefault(c.case, []).extend(c.flagged)
    missed = [(c.case, p) for c in mine for p in c.missed]
    return len(missed), sum(flagged(p, by_case.get(case, [])) for case, p in missed)


def pair(a: str, b: str, by: dict[str, list[CellFacts]]) -> Pair:
    """Workflow ``a`` against ``b`` (``by``: each workflow's cells) on the cases both checked."""
    paired = evalstats.paired_difference(outcomes(by[a]), outcomes(by[b]))
    shared = sorted(outcomes(by[a]).keys() & outcomes(by[b]).keys())
    cost_a, cost_b = _case_costs(by[a]), _case_costs(by[b])
    diffs = [(cost_a.get(c), cost_b.get(c)) for c in shared]
    known = [x - y for x, y in diffs if x is not None and y is not None]
    a_missed, b_flagged = _cross_caught(by[a], by[b])
    b_missed, a_flagged = _cross_caught(by[b], by[a])
    return Pair(a, b, paired, sum(known) / len(known) if known and len(known) == len(diffs) else None,
                a_missed, b_flagged, b_missed, a_flagged)
