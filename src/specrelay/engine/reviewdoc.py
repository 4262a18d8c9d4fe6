"""The review document: the JSON schema reviewers answer in, and its Markdown rendering."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Severity = Literal["blocker", "major", "minor", "nit"]
SEVERITY_RANK: dict[str, int] = {"blocker": 0, "major": 1, "minor": 2, "nit": 3}
SCORE_NAMES = ("semantic_resolution", "contract_adherence", "regression_safety", "scope_discipline")


class Finding(BaseModel):
    """One problem a reviewer found."""

    model_config = ConfigDict(extra="ignore")

    file: str = ""
    line: int | None = None
    severity: Severity
    category: str = "other"
    title: str = Field(min_length=1)
    detail: str = ""
    suggestion: str = ""

    @field_validator("severity", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("line", mode="before")
    @classmethod
    def _sane_line(cls, value: object) -> object:
        # A negative, zero or absurd line number points nowhere: keep the finding, drop the line.
        if isinstance(value, int) and not 0 < value < 10_000_000:
            return None
        return value

    @property
    def blocking(self) -> bool:
        return self.severity in ("blocker", "major")

    def where(self) -> str:
        if not self.file:
            return "(general)"
        return f"{self.file}:{self.line}" if self.line else self.file


class Scores(BaseModel):
    """Rubric scores, 1 (poor) to 5 (excellent)."""

    model_config = ConfigDict(extra="ignore")

    semantic_resolution: int = Field(ge=1, le=5)
    contract_adherence: int = Field(ge=1, le=5)
    regression_safety: int = Field(ge=1, le=5)
    scope_discipline: int = Field(ge=1, le=5)


class Review(BaseModel):
    """What a reviewer answers."""

    model_config = ConfigDict(extra="ignore")

    verdict: Literal["approve", "request_changes"]
    summary: str = ""
    scores: Scores
    findings: list[Finding] = Field(default_factory=list)

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]

    @property
    def wants_changes(self) -> bool:
        """Another build round is needed: changes requested with at least one blocker or major finding."""
        return self.verdict == "request_changes" and bool(self.blocking)


REVIEW_JSON_SHAPE = """{
  "verdict": "approve" | "request_changes",
  "summary": "two or three sentences",
  "scores": {"semantic_resolution": 1-5, "contract_adherence": 1-5, "regression_safety": 1-5,
             "scope_discipline": 1-5},
  "findings": [
    {"file": "path/in/repo.py", "line": 42, "severity": "blocker" | "major" | "minor" | "nit",
     "category": "correctness" | "tests" | "security" | "performance" | "style" | "scope" | "other",
     "title": "short statement of the problem", "detail": "why it is a problem",
     "suggestion": "how to fix it"}
  ]
}"""


def render_review(review: Review, *, reviewer: str, round_no: int) -> str:
    """review.md: the verdict, the scores and the findings, most severe first."""
    lines = [f"# Review (round {round_no})", "", f"- Reviewer: {reviewer}",
             f"- Verdict: **{review.verdict}**", ""]
    if review.summary:
        lines += [review.summary.strip(), ""]
    lines += ["## Scores", ""]
    lines += [f"- {name.replace('_', ' ')}: {getattr(review.scores, name)}/5" for name in SCORE_NAMES]
    lines += ["", f"## Findings ({len(review.findings)})", ""]
    if not review.findings:
        lines.append("None.")
    for i, f in enumerate(sorted(review.findings, key=lambda f: SEVERITY_RANK[f.severity]), 1):
        lines.append(f"{i}. **[{f.severity}] {f.title}** — `{f.where()}` ({f.category})")
        if f.detail:
            lines.append(f"   {f.detail.strip()}")
        if f.suggestion:
            lines.append(f"   Suggestion: {f.suggestion.strip()}")
    return "\n".join(lines) + "\n"


def render_findings_for_builder(findings: list[Finding]) -> str:
    """The findings a fix round must address, as the builder sees them."""
    out = []
    for i, f in enumerate(findings, 1):
        out.append(f"{i}. [{f.severity}] {f.title} ({f.where()})")
        if f.detail:
            out.append(f"   Why: {f.detail.strip()}")
        if f.suggestion:
            out.append(f"   Suggested fix: {f.suggestion.strip()}")
    return "\n".join(out)
