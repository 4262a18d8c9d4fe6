"""``routes suggest``: the user's own ledger, read per step kind and preset, and the cheapest preset that did
as well as the current one. It only reads: the config is never changed.

For each finished task and each step of it that ran a preset, the preset that did the step is credited
with the task's outcome: approved (the task is done or merged and its last review approved), the rounds it
took, the escalations away from it (a cascade's preset that was escalated from did not do the work, so that
task is not approved for it), and what that step's calls of the preset cost. A preset is suggested for a
kind when it rests on at least :data:`MIN_TASKS` tasks, approved at least as often as the current preset
(the route's, else the one used most lately), took no more rounds on average, and cost less per task.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from specrelay.app.workspace import ledger_of
from specrelay.config import load_config
from specrelay.engine.loopstate import LoopState
from specrelay.ledger import Ledger, TaskStatus

#: The fewest tasks a preset's figures must rest on, for it or the current preset, before anything is suggested.
MIN_TASKS = 3
#: The statuses of a task whose outcome is known.
_ENDED = (TaskStatus.DONE, TaskStatus.MERGED, TaskStatus.NEEDS_ATTENTION, TaskStatus.FAILED)
_APPROVED = (TaskStatus.DONE, TaskStatus.MERGED)


@dataclass(frozen=True)
class Evidence:
    """What one preset did on one step kind, over ``tasks`` ended tasks."""

    preset: str
    tasks: int
    approved: int
    #: Approved tasks over all of them.
    approval_rate: float
    mean_rounds: float
    #: Times a cascade escalated away from this preset.
    escalations: int
    #: What this preset's calls of the step cost, per task (None: some had no known price).
    cost_per_task_usd: float | None


@dataclass(frozen=True)
class KindSuggestion:
    """One step kind: its current preset, every preset's evidence, and the suggestion (or why there is none)."""

    kind: str
    current: str | None
    evidence: list[Evidence]
    #: The preset to route this kind to instead; None when nothing is suggested.
    suggested: str | None
    #: Why (the figures it rests on), or why nothing is suggested.
    reason: str
    #: What the suggestion saves per task, against the current preset.
    saves_per_task_usd: float | None = None
    rests_on: int = 0


@dataclass(frozen=True)
class RouteSuggestions:
    """``routes suggest``'s answer; ``min_tasks`` is the evidence each figure needs."""

    kinds: list[KindSuggestion] = field(default_factory=list)
    tasks: int = 0
    min_tasks: int = MIN_TASKS

    def to_json(self) -> dict[str, Any]:
        return {"tasks": self.tasks, "min_tasks": self.min_tasks, "changes_config": False,
                "kinds": [asdict(k) for k in self.kinds]}


@dataclass
class _Tally:
    tasks: int = 0
    approved: int = 0
    rounds: int = 0
    escalations: int = 0
    cost: float | None = 0.0
    last_used: float = 0.0

    def evidence(self, preset: str) -> Evidence:
        cost = None if self.cost is None else self.cost / self.tasks
        return Evidence(preset, self.tasks, self.approved, self.approved / self.tasks, self.rounds / self.tasks,
                        self.escalations, cost)


def suggest(root: Path | None) -> RouteSuggestions:
    """The suggestions from the ledger of ``root`` (outside a repository: the user's own)."""
    config = load_config(root)
    routes = config.route_table()
    with ledger_of(root, readonly=True) as ledger:
        tallies, tasks = _tallies(ledger)
    kinds = []
    for kind in sorted(tallies):
        by_preset = tallies[kind]
        routed = routes.get(kind)
        current = routed or max(by_preset, key=lambda p: by_preset[p].last_used)
        evidence = sorted((t.evidence(p) for p, t in by_preset.items()),
                          key=lambda e: (e.cost_per_task_usd is None, e.cost_per_task_usd or 0.0, e.preset))
        kinds.append(_decide(kind, current, evidence))
    return RouteSuggestions(kinds, tasks)


def _tallies(ledger: Ledger) -> tuple[dict[str, dict[str, _Tally]], int]:
    """Per step kind and preset, what its ended tasks came to."""
    tallies: dict[str, dict[str, _Tally]] = defaultdict(lambda: defaultdict(_Tally))
    ended = [t for t in ledger.tasks() if t.status in _ENDED]
    for task in ended:
        state = LoopState.load(task.state)
        approved = task.status in _APPROVED and state.verdict == "approve"
        calls = [c for c in ledger.calls(task.id) if c.outcome == "ok"]
        for row in ledger.steps(task.id):
            escalated = {e.from_preset for e in state.escalations if e.step == row.idx}
            for preset in dict.fromkeys(row.presets):
                # A step's parts (workstreams, fix groups, candidates) are recorded as "Title [part]".
                mine = [c for c in calls if c.preset == preset
                        and (c.step == row.title or (c.step or "").startswith(f"{row.title} ["))]
                if not mine:  # a cascade's preset never reached, a route that went unused
                    continue
                tally = tallies[row.kind][preset]
                tally.tasks += 1
                tally.approved += approved and preset not in escalated
                tally.rounds += task.rounds
                tally.escalations += preset in escalated
                spent = [c.cost_usd for c in mine]
                tally.cost = None if tally.cost is None or None in spent else tally.cost + sum(
                    c for c in spent if c is not None)
                tally.last_used = max(tally.last_used, task.created_at)
    return tallies, len(ended)


def _decide(kind: str, current: str | None, evidence: list[Evidence]) -> KindSuggestion:
    now = next((e for e in evidence if e.preset == current), None)
    if now is None or now.tasks < MIN_TASKS:
        had = 0 if now is None else now.tasks
        return KindSuggestion(kind, current, evidence, None,
                              f"too little evidence: the current preset {current} has {had} ended task"
                              f"{'' if had == 1 else 's'} here, {MIN_TASKS} are needed")
    if now.cost_per_task_usd is None:
        return KindSuggestion(kind, current, evidence, None, f"{current}'s cost is unknown, so nothing compares")
    as_good = [e for e in evidence if e.preset != current and e.tasks >= MIN_TASKS
               and e.cost_per_task_usd is not None and e.cost_per_task_usd < now.cost_per_task_usd
               and e.approval_rate >= now.approval_rate and e.mean_rounds <= now.mean_rounds]
    if not as_good:
        thin = [e.preset for e in evidence if e.preset != current and e.tasks < MIN_TASKS]
        why = "no cheaper preset did as well on enough tasks"
        if thin:
            why += f" (too little evidence for {', '.join(thin)}: fewer than {MIN_TASKS} tasks)"
        return KindSuggestion(kind, current, evidence, None, why)
    best = min(as_good, key=lambda e: (e.cost_per_task_usd or 0.0, e.preset))
    assert best.cost_per_task_usd is not None
    saves = now.cost_per_task_usd - best.cost_per_task_usd
    reason = (f"{best.preset} approved {best.approved}/{best.tasks} ({best.approval_rate:.0%}) in "
              f"{best.mean_rounds:.1f} rounds on average at ${best.cost_per_task_usd:.4f} a task; "
              f"{current} approved {now.approved}/{now.tasks} ({now.approval_rate:.0%}) in {now.mean_rounds:.1f} "
              f"rounds at ${now.cost_per_task_usd:.4f}")
    return KindSuggestion(kind, current, evidence, best.preset, reason, saves, best.tasks)
