"""The state of a task's build→verify→review loop, kept in the ledger's ``tasks.state`` column.

It used to be a bare JSON dict; it is the same JSON, read into :class:`LoopState` and written back
whole, so a ledger written before still loads (a missing key takes its default).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Escalation:
    """A cheap-first cascade moved build step ``step`` from one preset to the next: why (``reason``: edits,
    verify or review, and ``why`` in words) and the round its next preset starts in."""

    step: int
    from_preset: str
    to_preset: str
    reason: str
    why: str
    round: int

    @classmethod
    def load(cls, data: dict[str, Any]) -> Escalation:
        return cls(int(data["step"]), str(data["from_preset"]), str(data["to_preset"]), str(data["reason"]),
                   str(data.get("why", "")), int(data["round"]))


@dataclass(frozen=True)
class LoopState:
    """Where the loop is: the verification attempt in this round, what the next build fixes, the
    generation (bumped when a step fails or the base moves, so that calls are made afresh instead of
    replayed), the last decided review verdict, and fix rounds granted beyond a step's bound."""

    attempt: int = 0
    fix: str | None = None
    gen: int = 0
    verdict: str | None = None
    extra_rounds: int = 0
    #: Times a second opinion sent the plan back to the planner (it does once at most).
    revisions: int = 0
    #: ``run --serialize``: before building, wait for running tasks that touch the same files.
    serialize: bool = False
    #: Every escalation of a cheap-first cascade, in order: a resumed task goes on with the preset they reached.
    escalations: tuple[Escalation, ...] = ()
    #: A build step ``per: milestone``: the index of the milestone being built, and the round it began in
    #: (its fix rounds are counted from there).
    milestone: int = 0
    milestone_round: int = 1

    @classmethod
    def load(cls, text: str | None) -> LoopState:
        """The state from its JSON (None or empty: a new task's)."""
        data: dict[str, Any] = json.loads(text) if text else {}
        return cls(attempt=int(data.get("attempt", 0)), fix=data.get("fix"), gen=int(data.get("gen", 0)),
                   verdict=data.get("verdict"), extra_rounds=int(data.get("extra_rounds", 0)),
                   revisions=int(data.get("revisions", 0)), serialize=bool(data.get("serialize", False)),
                   escalations=tuple(Escalation.load(e) for e in data.get("escalations", ())),
                   milestone=int(data.get("milestone", 0)), milestone_round=int(data.get("milestone_round", 1)))

    def dump(self) -> str:
        """The JSON the ledger keeps."""
        return json.dumps(asdict(self))

    def with_(self, **changes: Any) -> LoopState:
        """A copy with ``changes``."""
        return replace(self, **changes)

    def new_round(self, fix: str) -> LoopState:
        """The state a new fix round starts from: attempts counted afresh, no verdict yet."""
        return LoopState(attempt=0, fix=fix, gen=self.gen, extra_rounds=self.extra_rounds, revisions=self.revisions,
                         serialize=self.serialize, escalations=self.escalations, milestone=self.milestone,
                         milestone_round=self.milestone_round)

    def done_message(self) -> str:
        """What a task whose every step finished says: approved, when a review approved it last."""
        # A decided "request_changes" never reaches here: it reopens the build step or needs attention.
        return "approved" if self.verdict == "approve" else "all steps finished"
