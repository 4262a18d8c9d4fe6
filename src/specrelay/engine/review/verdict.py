"""The one rule that decides a review's verdict from its findings, whoever reviewed: one reviewer or a
panel, inside a task or on demand (``specrelay review``).

``request_changes`` when anyone raises a blocker, or when a major finding is rated major or worse by
at least ``min_agreement`` reviewers (always 1 for a single reviewer); otherwise ``approve``.

The reviewers' own verdicts do not decide, their findings do: a reviewer that says "approve" while
listing a blocker is overridden (a blocker is never approved), and one that says "request_changes"
with only minor findings and nits is counted as approving (those findings are advice, and no fix
round is spent on them). Either way the reviewer's own word stays visible in the report, with why
it did not count (:func:`stated_note`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from specrelay.engine.review.document import SEVERITY_RANK, Review
from specrelay.text import plural

Verdict = Literal["approve", "request_changes"]


def counted(n: int, noun: str) -> str:
    """``1 finding``, ``2 findings`` (:func:`specrelay.text.plural`)."""
    return plural(n, noun)


def requests_changes(verdict: str) -> bool:
    """Whether a decided verdict asks for another build round."""
    return verdict == "request_changes"


def default_agreement(answered: int) -> int:
    """``min_agreement`` when none is configured: 2 for a panel of three or more, else 1."""
    return 2 if answered >= 3 else 1


def blocks(severity: str, severe_raters: int, min_agreement: int) -> bool:
    """Whether one finding requests changes: a blocker always; a major one when at least
    ``min_agreement`` reviewers rated it major or worse (``severe_raters``)."""
    if severity == "blocker":
        return True
    return severity == "major" and severe_raters >= min_agreement


@dataclass(frozen=True)
class Raised:
    """A finding as the rule sees it: its severity (the highest given), and how many reviewers rated
    it major or worse (a minor remark merged into someone's major finding is not agreement)."""

    severity: str
    severe_raters: int


@dataclass(frozen=True)
class Decision:
    """The decided verdict, why, and which findings (positions in the input) request changes."""

    verdict: Verdict
    reason: str
    blocking: tuple[int, ...]


def decide(findings: Sequence[Raised], *, min_agreement: int, answered: int) -> Decision:
    """The verdict of a review whose ``answered`` reviewers raised ``findings``."""
    blocking = tuple(i for i, f in enumerate(findings) if blocks(f.severity, f.severe_raters, min_agreement))
    verdict: Verdict = "request_changes" if blocking else "approve"
    return Decision(verdict, _reason(findings, blocking, min_agreement, answered), blocking)


def _reason(findings: Sequence[Raised], blocking: tuple[int, ...], min_agreement: int, answered: int) -> str:
    blockers = sum(1 for i in blocking if findings[i].severity == "blocker")
    majors = len(blocking) - blockers
    weak = sum(1 for f in findings if f.severity == "major") - majors
    if answered == 1:  # one reviewer: no agreement to speak of
        if not blocking:
            return "Approved: no blocker or major finding."
        parts = [counted(blockers, "blocker")] * bool(blockers) + [counted(majors, "major finding")] * bool(majors)
        return "Changes requested: " + " and ".join(parts) + "."
    if blocking:
        parts = [f"{counted(blockers, 'blocker')} (one reviewer is enough)"] * bool(blockers) + [
            f"{counted(majors, 'major finding')} raised by at least {min_agreement} of {answered} reviewers"
        ] * bool(majors)
        return "Changes requested: " + " and ".join(parts) + "."
    if weak:
        return (f"Approved: no blocker, and none of the {counted(weak, 'major finding')} was raised by at least "
                f"{min_agreement} of {answered} reviewers.")
    return f"Approved: none of the {answered} reviewers raised a blocker or a major finding."


def stated_note(stated: str, severities: Iterable[str], *, alone: bool) -> str | None:
    """Why a reviewer's own verdict did not count, when its own findings say otherwise; None when
    they agree. ``alone``: the reviewer is the only one (its major finding then blocks by itself).
    Worded for the report: "said approve; a blocker finding overrides it"."""
    worst = min((SEVERITY_RANK[s] for s in severities), default=len(SEVERITY_RANK))
    if stated == "approve" and (worst == SEVERITY_RANK["blocker"] or (alone and worst == SEVERITY_RANK["major"])):
        word = "blocker" if worst == SEVERITY_RANK["blocker"] else "major"
        return f"said approve; a {word} finding overrides it"
    if stated == "approve" and worst == SEVERITY_RANK["major"]:
        return "said approve, but its major finding counts toward agreement like any other"
    if stated == "request_changes" and worst > SEVERITY_RANK["major"]:
        return "said request_changes, but raised no blocker or major finding; counted as approve"
    return None


def decide_alone(review: Review) -> tuple[Decision, str | None]:
    """The decision on one reviewer's review (``min_agreement`` 1), and why its own verdict did not
    count when it did not (:func:`stated_note`)."""
    raised = [Raised(f.severity, int(f.blocking)) for f in review.findings]
    note = stated_note(review.verdict, (f.severity for f in review.findings), alone=True)
    return decide(raised, min_agreement=1, answered=1), note
