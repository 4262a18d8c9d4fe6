"""What reviews found, as typed values: a task's review rounds, and the on-demand reviews saved under
``.specrelay/reviews/``, each with its verdict, reviewers and findings (who raised each one).

A panel's round is read from ``final_review_rN.json`` (its findings merged by agreement); a lone
reviewer's from ``review_rN.json``, whose findings are all that reviewer's. A file that cannot be read
is left out: a face shows what there is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specrelay import paths
from specrelay.app.tasks import task_of
from specrelay.app.workspace import ledger_of
from specrelay.engine.summary import spec_has
from specrelay.errors import UserError

__all__ = ["Finding", "ReviewRound", "SavedReview", "review_rounds", "saved_review", "saved_reviews"]

#: Severities a lone reviewer's finding blocks at (a panel's report says so per finding).
_BLOCKS = ("blocker", "major")
_ROUND = re.compile(r"^(final_review|review)_r(\d+)\.json$")
#: A saved review's id: ``20260101-120000-ab12`` (the folder's name).
_REVIEW_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")


@dataclass(frozen=True)
class Finding:
    """One problem a review found: where, how bad, what, and the reviewers who raised it."""

    severity: str
    where: str
    category: str
    title: str
    detail: str
    suggestion: str
    reviewers: list[str]
    blocking: bool


@dataclass(frozen=True)
class Reviewer:
    """One reviewer of a round: its verdict (None when it failed), cost and latency."""

    preset: str
    model: str | None
    verdict: str | None
    error: str | None
    cost_usd: float | None
    latency_s: float | None


@dataclass(frozen=True)
class ReviewRound:
    """One round's review: the decided verdict and why, the reviewers, the findings (most agreed first)."""

    round: int
    verdict: str
    reason: str
    summary: str
    reviewers: list[Reviewer]
    findings: list[Finding]
    #: The artifact it was read from (``final_review_r1.json``, ``review_r2.json``).
    artifact: str


@dataclass(frozen=True)
class SavedReview:
    """An on-demand review (``specrelay review``) kept in ``.specrelay/reviews/<id>/``."""

    id: str
    label: str
    files: list[str]
    verdict: str
    reason: str
    cost_usd: float | None
    reviewers: list[Reviewer]
    findings: list[Finding]
    folder: Path

    @property
    def markdown(self) -> str | None:
        """Its ``final_review.md``, when there is one."""
        return _read_text(self.folder / "final_review.md")

    @property
    def diff(self) -> str | None:
        """The diff it reviewed (``diff.patch``), when it was kept."""
        return _read_text(self.folder / "diff.patch")


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _where(item: dict[str, Any]) -> str:
    file, line = item.get("file") or "", item.get("line")
    if not file:
        return "(general)"
    return f"{file}:{line}" if line else str(file)


def _finding(item: dict[str, Any], default_reviewers: list[str]) -> Finding:
    severity = str(item.get("severity") or "minor")
    reviewers = [str(r) for r in item.get("reviewers") or default_reviewers]
    blocking = item.get("blocking")
    return Finding(severity=severity, where=_where(item), category=str(item.get("category") or "other"),
                   title=str(item.get("title") or ""), detail=str(item.get("detail") or ""),
                   suggestion=str(item.get("suggestion") or ""), reviewers=reviewers,
                   blocking=bool(blocking) if blocking is not None else severity in _BLOCKS)


def _reviewers(data: dict[str, Any]) -> list[Reviewer]:
    out = []
    for r in data.get("reviewers") or []:
        if isinstance(r, dict):
            out.append(Reviewer(str(r.get("preset") or "?"), r.get("model"), r.get("verdict"), r.get("error"),
                                r.get("cost_usd"), r.get("latency_s")))
    return out


def _findings(data: dict[str, Any], default_reviewers: list[str]) -> list[Finding]:
    return [_finding(f, default_reviewers) for f in data.get("findings") or [] if isinstance(f, dict)]


def review_rounds(root: Path, task_id: str) -> list[ReviewRound]:
    """Every review round of the task, first round first: a panel's merged report where there is one,
    else the lone reviewer's review (its findings credited to the review step's preset)."""
    task = task_of(root, task_id)
    with ledger_of(root, readonly=True) as ledger:
        lone = next((list(s.presets) for s in ledger.steps(task.id)
                     if spec_has(s.kind, lambda k: k.loops_back == "findings")), [])
    found: dict[int, tuple[str, str]] = {}
    try:
        names = sorted(p.name for p in task.folder.iterdir())
    except OSError:
        return []
    for name in names:
        match = _ROUND.match(name)
        if match and (match[1] == "final_review" or int(match[2]) not in found):
            found[int(match[2])] = (match[1], name)
    rounds = []
    for n in sorted(found):
        kind, name = found[n]
        data = _read_json(task.folder / name)
        if data is None:
            continue
        reviewers = _reviewers(data)
        if kind == "review" and not reviewers:
            reviewers = [Reviewer(p, None, data.get("reviewer_verdict") or data.get("verdict"), None, None, None)
                         for p in lone[:1]]
        rounds.append(ReviewRound(round=n, verdict=str(data.get("verdict") or "?"),
                                  reason=str(data.get("reason") or ""), summary=str(data.get("summary") or ""),
                                  reviewers=reviewers, findings=_findings(data, [r.preset for r in reviewers]),
                                  artifact=name))
    return rounds


def _saved(folder: Path) -> SavedReview | None:
    data = _read_json(folder / "final_review.json")
    if data is None:
        return None
    target = data.get("target") if isinstance(data.get("target"), dict) else {}
    assert isinstance(target, dict)
    reviewers = _reviewers(data)
    return SavedReview(id=folder.name, label=str(target.get("label") or folder.name),
                       files=[str(f) for f in target.get("files") or []], verdict=str(data.get("verdict") or "?"),
                       reason=str(data.get("reason") or ""), cost_usd=data.get("cost_usd"), reviewers=reviewers,
                       findings=_findings(data, [r.preset for r in reviewers]), folder=folder)


def saved_reviews(root: Path) -> list[SavedReview]:
    """The on-demand reviews kept in the repository, newest first."""
    where = paths.reviews_dir(root)
    try:
        folders = sorted((p for p in where.iterdir() if p.is_dir() and _REVIEW_ID.match(p.name)), reverse=True)
    except OSError:
        return []
    return [r for r in map(_saved, folders) if r is not None]


def saved_review(root: Path, review_id: str) -> SavedReview:
    """One saved on-demand review, by its id (the folder's name)."""
    folder = paths.reviews_dir(root) / review_id
    found = _saved(folder) if _REVIEW_ID.match(review_id) else None
    if found is None:
        raise UserError(f"no saved review '{review_id}' in {paths.reviews_dir(root)}; `specrelay review` makes one.")
    return found
