"""The review document: the JSON schema reviewers answer in, and its Markdown rendering."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Severity = Literal["blocker", "major", "minor", "nit"]
SEVERITY_RANK: dict[str, int] = {"blocker": 0, "major": 1, "minor": 2, "nit": 3}
SCORE_NAMES = ("semantic_resolution", "contract_adherence", "regression_safety", "scope_discipline")
#: What reviewers write instead of our four severities (compared lower-case). Anything else is
#: "major": an unrecognised word ("severe", "must-fix") must not quietly stop a finding from blocking.
SEVERITY_SYNONYMS: dict[str, str] = {
    "critical": "blocker", "blocking": "blocker", "severe": "blocker", "high": "major", "error": "major",
    "medium": "minor", "moderate": "minor",
    "low": "nit", "info": "nit", "informational": "nit", "trivial": "nit", "style": "nit",
}
VERDICT_SYNONYMS: dict[str, str] = {
    "approved": "approve", "accept": "approve", "accepted": "approve", "lgtm": "approve", "pass": "approve",
    "changes_requested": "request_changes", "request_change": "request_changes",
    "needs_changes": "request_changes", "reject": "request_changes", "rejected": "request_changes",
}
_FIRST_INT = re.compile(r"\d+")


def _normal_severity(value: object) -> str:
    """One of our severities for whatever a reviewer wrote: synonyms mapped, anything unknown "major";
    a missing severity is "minor"."""
    word = value.strip().lower() if isinstance(value, str) else ""
    if word in SEVERITY_RANK:
        return word
    if not word:
        return "minor"
    return SEVERITY_SYNONYMS.get(word, "major")


def _first_int(value: object) -> object:
    """An int out of "12", "L12", "12-14" or 12.0; None when there is none; anything else unchanged."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return round(value) if value == value and abs(value) < 1e12 else None
    if isinstance(value, str):
        match = _FIRST_INT.search(value)
        return int(match.group()) if match else None
    return value


class Finding(BaseModel):
    """One problem a reviewer found.

    Input is taken forgivingly, because one malformed finding should not cost a whole review:
    severities are matched case-insensitively and common synonyms mapped (critical → blocker,
    high → major, medium/moderate → minor, low/info/trivial/style → nit, an unknown word → major
    so that it is not silently non-blocking, a missing one → minor);
    a missing or blank category is "other"; a missing title is taken from the detail's first line;
    ``null`` text fields are empty; a line number is read out of "L12" or "12-14", and a negative,
    zero or absurd one is dropped to None.
    """

    model_config = ConfigDict(extra="ignore")

    file: str = ""
    line: int | None = None
    severity: Severity = "minor"
    category: str = "other"
    title: str = Field(min_length=1)
    detail: str = ""
    suggestion: str = ""

    @model_validator(mode="before")
    @classmethod
    def _fill_gaps(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = {**data}
        for key in ("file", "detail", "suggestion", "title"):
            if data.get(key) is None:
                data[key] = ""
        if not str(data["title"]).strip() and str(data["detail"]).strip():
            first = str(data["detail"]).strip().splitlines()[0]
            data["title"] = first if len(first) <= 80 else first[:79].rstrip() + "…"
        return data

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: object) -> str:
        return _normal_severity(value)

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return "other"
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("title", "file", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("line", mode="before")
    @classmethod
    def _sane_line(cls, value: object) -> object:
        value = _first_int(value)
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
    """Rubric scores, 1 (poor) to 5 (excellent); a score left out, or outside 1-5, is None (not given)."""

    model_config = ConfigDict(extra="ignore")

    semantic_resolution: int | None = Field(default=None, ge=1, le=5)
    contract_adherence: int | None = Field(default=None, ge=1, le=5)
    regression_safety: int | None = Field(default=None, ge=1, le=5)
    scope_discipline: int | None = Field(default=None, ge=1, le=5)

    @field_validator(*SCORE_NAMES, mode="before")
    @classmethod
    def _sane_score(cls, value: object) -> object:
        value = _first_int(value)
        if isinstance(value, int) and not 1 <= value <= 5:
            return None
        return value

    def given(self) -> dict[str, int]:
        """The scores the reviewer gave, by name, in :data:`SCORE_NAMES` order."""
        return {name: score for name in SCORE_NAMES if (score := getattr(self, name)) is not None}


class Review(BaseModel):
    """What a reviewer answers. ``scores`` is None when the reviewer gave none; the verdict's
    common spellings ("Approved", "changes requested") are accepted."""

    model_config = ConfigDict(extra="ignore")

    verdict: Literal["approve", "request_changes"]
    summary: str = ""
    scores: Scores | None = None
    findings: list[Finding] = Field(default_factory=list)

    @field_validator("verdict", mode="before")
    @classmethod
    def _verdict(cls, value: object) -> object:
        # "Approved", "request changes", "CHANGES_REQUESTED": the intent is clear; an unknown word still fails.
        if not isinstance(value, str):
            return value
        word = re.sub(r"[\s-]+", "_", value.strip().lower())
        return VERDICT_SYNONYMS.get(word, word)

    @field_validator("summary", mode="before")
    @classmethod
    def _no_null_summary(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("findings", mode="before")
    @classmethod
    def _no_null_findings(cls, value: object) -> object:
        return [] if value is None else value

    @property
    def blocking(self) -> list[Finding]:
        """The blocker and major findings. Whether they request changes is the verdict rule's call
        (:mod:`specrelay.engine.review.verdict`), not this review's own ``verdict``."""
        return [f for f in self.findings if f.blocking]


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


def render_review(review: Review, *, reviewer: str, round_no: int, verdict: str, reason: str,
                  note: str | None = None) -> str:
    """review.md for one reviewer: the decided ``verdict`` and ``reason`` (and, in ``note``, why the
    reviewer's own verdict did not count when it differed), the scores and the findings, most severe first."""
    lines = [f"# Review (round {round_no})", "", f"- Reviewer: {reviewer}", f"- Verdict: **{verdict}** — {reason}"]
    if note:
        lines.append(f"- The reviewer {note}.")
    lines.append("")
    if review.summary:
        lines += [review.summary.strip(), ""]
    lines += ["## Scores", ""]
    given = review.scores.given() if review.scores else {}
    lines += [f"- {name.replace('_', ' ')}: {given[name]}/5" if name in given
              else f"- {name.replace('_', ' ')}: not given" for name in SCORE_NAMES]
    count = len(review.findings)
    lines += ["", "## No findings" if not count else f"## {count} finding" + ("" if count == 1 else "s"), ""]
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
