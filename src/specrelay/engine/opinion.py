"""A second opinion on a plan: the JSON another model answers about spec.md, the rule that decides from its
findings whether the plan goes back to the planner, and how it reads as Markdown.

The step (:mod:`specrelay.engine.steps.second_opinion`) and ``specrelay ask --oracle`` answer the same JSON,
schema-checked with one repair request. One rule decides, as for reviews: a blocker or major finding sends
the plan back; minor ones are advice. The model's own verdict is kept beside the decided one.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: The kinds of problem a second opinion looks for.
FindingKind = Literal["missing_case", "wrong_assumption", "scope_creep", "other"]
Severity = Literal["blocker", "major", "minor"]


class OpinionFinding(BaseModel):
    """One problem with the plan."""

    model_config = ConfigDict(extra="forbid")

    kind: FindingKind
    severity: Severity
    title: str = Field(min_length=1)
    detail: str = ""
    suggestion: str = ""


class Opinion(BaseModel):
    """A second opinion's answer."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["approve", "revise"]
    summary: str = ""
    findings: list[OpinionFinding] = Field(default_factory=list)

    @property
    def blocking(self) -> list[OpinionFinding]:
        """The findings that send the plan back: blockers and majors."""
        return [f for f in self.findings if f.severity in ("blocker", "major")]

    @property
    def decided(self) -> str:
        """The verdict the findings decide: ``revise`` when one blocks, else ``approve`` (whatever the model said)."""
        return "revise" if self.blocking else "approve"

    def note(self) -> str | None:
        """Why the model's own verdict did not count, when it differs from the decided one."""
        if self.verdict == self.decided:
            return None
        if self.decided == "revise":
            return f"the second opinion said approve; its {self.blocking[0].severity} finding overrides it"
        return "the second opinion said revise, with no blocker or major finding: its findings are advice"


#: What the prompt asks the model to answer: the schema as an example.
OPINION_JSON_SHAPE = """Answer with one JSON object and nothing else:

{"verdict": "approve" | "revise",
 "summary": "two or three sentences",
 "findings": [{"kind": "missing_case" | "wrong_assumption" | "scope_creep" | "other",
               "severity": "blocker" | "major" | "minor",
               "title": "one line", "detail": "what is wrong and why", "suggestion": "the fix to the plan"}]}

An empty findings list with "approve" means the plan can be built as it is."""


def render(opinion: Opinion, *, preset: str) -> str:
    """The opinion as Markdown (``second_opinion.md``, what the planner reads on a revision)."""
    lines = [f"# Second opinion ({preset})", "", f"Verdict: **{opinion.decided}**"
             + (f" ({opinion.note()})" if opinion.note() else ""), ""]
    if opinion.summary:
        lines += [opinion.summary, ""]
    if not opinion.findings:
        lines.append("No findings.")
    for n, f in enumerate(opinion.findings, 1):
        lines.append(f"{n}. **[{f.severity}] {f.title}** ({f.kind.replace('_', ' ')})")
        if f.detail:
            lines.append(f"   {f.detail}")
        if f.suggestion:
            lines.append(f"   Fix: {f.suggestion}")
    return "\n".join(lines).rstrip() + "\n"


def to_json(opinion: Opinion, *, preset: str) -> str:
    """``second_opinion.json``: the answer, with the decided verdict beside the model's own."""
    data = {"preset": preset, "verdict": opinion.decided, "model_verdict": opinion.verdict,
            "note": opinion.note(), "summary": opinion.summary,
            "findings": [f.model_dump() for f in opinion.findings]}
    return json.dumps(data, indent=2) + "\n"
