"""Merge a review panel's findings by agreement: deterministic, fast, no model.

Findings of different reviewers that point at the same problem become one :class:`MergedFinding`
listing who raised it, how many agree, the highest severity given and each reviewer's wording.
Two findings are one problem when their places match (the same file, paths compared without
``./``, ``a/``, ``b/``; a finding naming no file matches any, at a small penalty; lines at most
:data:`NEAR_LINES` apart, or one has none) and their words overlap (:func:`_overlap`: the stemmed
content words of title and detail, each weighted by how rare it is in the panel) by at least
:data:`MERGE_AT`, less :data:`KIND_PENALTY` when their categories name different kinds of problem.
Clusters grow greedily from the best pair down, never hold two findings of one reviewer, and every
pair inside one must clear the bar, so two distinct problems on adjacent lines stay apart unless
their wordings share telling words. A reviewer that repeats itself (near-identical findings at one
place, compared with rapidfuzz) is deduplicated first. The constants were tuned on the odd cases
of ``tests/data/panel_labelled.json`` (``bench/panel_merge.py``; scores in ``bench/RESULTS.md``).

The verdict is decided from the merged findings by the one verdict rule
(:func:`specrelay.engine.review.verdict.decide`), not by the reviewers' own verdicts; a reviewer whose own
verdict its findings contradict keeps it in the report, with a note saying why it did not count.
Findings on files outside the diff (when ``diff_files`` is given) are kept, flagged ``outside_diff``
and count like any other (a change can break a file it does not touch).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, TypedDict

from rapidfuzz import fuzz

from specrelay.engine.review.document import SCORE_NAMES, SEVERITY_RANK, Finding, Review, Severity
from specrelay.engine.review.verdict import Raised, Verdict, blocks, counted, decide, default_agreement, stated_note

#: How far apart two findings' lines may be and still be one problem (reviewers miscount a little).
NEAR_LINES = 4
#: Word overlap (0-100) from which two findings at the same place are one problem.
MERGE_AT = 10.0
#: Subtracted when only one of the two findings names a file.
NO_FILE_PENALTY = 5.0
#: Subtracted when the two categories name different kinds of problem (tests and docs, style and security).
KIND_PENALTY = 10.0
#: Within one reviewer, findings at one place whose words are this alike (rapidfuzz ratio) are one said twice.
DUPLICATE_AT = 90.0

#: The kind of problem each common category names; a category not listed goes with any kind.
CATEGORY_KINDS: dict[str, str] = {name: kind for kind, names in {
    "tests": "tests test testing ci", "docs": "docs doc documentation comments",
    "style": "style naming readability formatting", "security": "security", "performance": "performance perf",
    "correctness": "correctness bug logic reliability robustness concurrency error-handling",
    "i18n": "i18n localization localisation l10n", "scope": "scope"}.items() for name in names.split()}

_STOP = frozenset("""a an the is are be been was were to of in on for and or this that it its with as at by from into
which will would should could can may might there here than then so also when if not no never without missing lack
lacks use instead add does do doesn t s""".split())
_WORD = re.compile(r"[a-z0-9]+")


class Wording(TypedDict):
    """How one reviewer put a merged finding; ``indices`` are positions in its findings list."""

    reviewer: str
    severity: str
    category: str
    title: str
    detail: str
    suggestion: str
    file: str
    line: int | None
    indices: list[int]


class ReviewerReport(TypedDict):
    """One panel member in the report; ``verdict`` is None and ``error`` set when it failed."""

    preset: str
    model: str
    verdict: str | None
    error: str | None
    cost_usd: float | None
    latency_s: float | None
    findings: int
    note: str | None


@dataclass(frozen=True)
class ReviewerResult:
    """What one panel member returned: a review, or the error that stopped it."""

    preset: str
    model: str
    review: Review | None
    error: str | None = None
    cost_usd: float | None = None
    latency_s: float | None = None


@dataclass(frozen=True)
class MergedFinding:
    """One problem as raised by one or more reviewers; title, detail and suggestion are the wording
    of the most severe (then most detailed) of them, ``line`` the smallest of ``lines``."""

    file: str
    line: int | None
    lines: tuple[int, ...]
    severity: Severity
    category: str
    title: str
    detail: str
    suggestion: str
    reviewers: tuple[str, ...]
    agreement: int
    wordings: tuple[Wording, ...]
    outside_diff: bool = False

    def where(self) -> str:
        """``file:line``, ``file``, or ``(general)``."""
        if not self.file:
            return "(general)"
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Consolidated:
    """The panel's merged review: verdict and why, ranked findings, scores, and who took part."""

    verdict: Verdict
    reason: str
    findings: tuple[MergedFinding, ...]
    scores: dict[str, dict[str, int]]
    median_scores: dict[str, float]
    reviewers: tuple[ReviewerReport, ...]
    min_agreement: int
    notes: tuple[str, ...] = ()

    @property
    def answered(self) -> int:
        """How many reviewers returned a review."""
        return sum(1 for r in self.reviewers if r["error"] is None)


# -- matching ------------------------------------------------------------------------------------


def normalise_path(path: str) -> str:
    """A path as reviewers' paths are compared: forward slashes, no leading ``./``, ``/``, ``a/``, ``b/``."""
    p = path.strip().strip("`").replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    p = p.lstrip("/")
    return p[2:] if p[:2] in ("a/", "b/") and len(p) > 2 else p


def _canonical(path: str, diff: dict[str, str] | None) -> str:
    """The diff's own spelling of a path when it names a changed file (also by a unique suffix)."""
    p = normalise_path(path)
    if not p or diff is None or p in diff:
        return diff[p] if diff and p in diff else p
    tails = [v for k, v in diff.items() if k.endswith("/" + p)]
    return tails[0] if len(tails) == 1 else p


def _stem(word: str) -> str:
    """A crude English stem, enough for "tested", "tests", "testing" or "shared", "share" to meet."""
    if len(word) <= 3:
        return word
    if word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ation", "ing", "ion", "ed", "er", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def _words(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP and (len(w) > 1 or w.isdigit()))


@dataclass
class _Item:
    """One reviewer's finding prepared for matching (several, if the reviewer repeated itself)."""

    reviewer: str
    finding: Finding
    file: str
    indices: list[int]
    lines: list[int]
    words: frozenset[str] = field(init=False)
    weight: float = 0.0

    def __post_init__(self) -> None:
        self.words = _words(self.finding.title + " " + self.finding.detail)

    def sort_key(self) -> tuple[Any, ...]:
        return (self.reviewer, self.file, self.lines[0] if self.lines else 0, *_voice(self.finding))


def _voice(f: Finding) -> tuple[Any, ...]:
    """Orders wordings: the one that speaks for a group is the most severe, then the most detailed."""
    return (SEVERITY_RANK[f.severity], -len(f.detail), f.title, f.detail, f.suggestion, f.category)


def _near(a: _Item, b: _Item) -> bool:
    if a.file and b.file and a.file != b.file:
        return False
    return not (a.lines and b.lines) or min(abs(x - y) for x in a.lines for y in b.lines) <= NEAR_LINES


def _overlap(a: _Item, b: _Item, idf: dict[str, float]) -> float:
    """Dice coefficient of two findings' content words weighted by rarity in the panel, 0-100."""
    total = a.weight + b.weight
    return 200.0 * sum(idf[w] for w in a.words & b.words) / total if total else 0.0


def _score(a: _Item, b: _Item, idf: dict[str, float]) -> float:
    """How surely two findings are one problem; below 0 when their places rule it out."""
    if not _near(a, b):
        return -1.0
    kind_a, kind_b = CATEGORY_KINDS.get(a.finding.category), CATEGORY_KINDS.get(b.finding.category)
    penalty = (NO_FILE_PENALTY if bool(a.file) != bool(b.file) else 0.0) + (
        KIND_PENALTY if kind_a and kind_b and kind_a != kind_b else 0.0)
    return _overlap(a, b, idf) - penalty


def _said_twice(a: Finding, b: Finding) -> bool:
    """Near-identical titles and near-identical title-and-detail, word for word (case, punctuation and
    word order aside): "no test for a zero limit" and "no test for a negative limit" stay two."""
    def text(*parts: str) -> str:
        return " ".join(sorted(_words(" ".join(parts))))
    return (fuzz.ratio(text(a.title), text(b.title)) >= DUPLICATE_AT
            and fuzz.ratio(text(a.title, a.detail), text(b.title, b.detail)) >= DUPLICATE_AT)


def _items(reviewer: str, review: Review, diff: dict[str, str] | None) -> list[_Item]:
    """A reviewer's findings as items, near-identical repeats at one place folded into one."""
    raw = [_Item(reviewer, f, _canonical(f.file, diff), [i], [f.line] if f.line else [])
           for i, f in enumerate(review.findings)]
    kept: list[_Item] = []
    for item in sorted(raw, key=_Item.sort_key):
        twin = next((k for k in kept if k.file == item.file and _near(k, item)
                     and _said_twice(k.finding, item.finding)), None)
        if twin is None:
            kept.append(item)
            continue
        twin.indices = sorted(twin.indices + item.indices)
        twin.lines = sorted(set(twin.lines + item.lines))
        twin.finding = min(twin.finding, item.finding, key=_voice)
    return kept


def _pairs(items: list[_Item]) -> Iterator[tuple[int, int]]:
    """Index pairs (i < j) of different reviewers that can share a place: same file, or one with none."""
    by_file: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        by_file.setdefault(it.file, []).append(i)
    general = by_file.get("", [])
    for file, members in by_file.items():
        pairs = [*combinations(members, 2), *((min(g, i), max(g, i)) for g in general for i in members if file)]
        yield from ((i, j) for i, j in pairs if items[i].reviewer != items[j].reviewer)


def _cluster(items: list[_Item]) -> list[list[_Item]]:
    """Greedy agglomeration over pairs, best first: clusters join while they share no reviewer and
    every pair across them scores at least :data:`MERGE_AT` (complete linkage)."""
    df: dict[str, int] = {}
    for it in items:
        for w in it.words:
            df[w] = df.get(w, 0) + 1
    idf = {w: math.log(1 + len(items) / n) for w, n in df.items()}
    for it in items:
        it.weight = sum(idf[w] for w in it.words)
    cache: dict[tuple[int, int], float] = {}

    def score(i: int, j: int) -> float:
        key = (i, j) if i < j else (j, i)
        if key not in cache:
            cache[key] = _score(items[key[0]], items[key[1]], idf)
        return cache[key]

    edges = sorted((-s, i, j) for i, j in _pairs(items) if (s := score(i, j)) >= MERGE_AT)
    group = list(range(len(items)))
    members: dict[int, list[int]] = {i: [i] for i in range(len(items))}
    for _, i, j in edges:
        gi, gj = group[i], group[j]
        a, b = members[gi], members[gj]
        if gi == gj or {items[x].reviewer for x in a} & {items[y].reviewer for y in b}:
            continue
        if all(score(x, y) >= MERGE_AT for x in a for y in b):
            for y in b:
                group[y] = gi
            members[gi] = a + b
            del members[gj]
    return [[items[x] for x in sorted(m)] for _, m in sorted(members.items())]


# -- merging and the verdict ---------------------------------------------------------------------


def _merge(cluster: list[_Item], order: dict[str, int], diff: dict[str, str] | None) -> MergedFinding:
    cluster = sorted(cluster, key=lambda it: order[it.reviewer])
    best = min((it.finding for it in cluster), key=_voice)
    lines = tuple(sorted({n for it in cluster for n in it.lines}))
    file = next((it.file for it in cluster if it.file), "")
    categories = sorted(it.finding.category for it in cluster if it.finding.category != "other")
    wordings = tuple(Wording(reviewer=it.reviewer, severity=it.finding.severity, category=it.finding.category,
                             title=it.finding.title, detail=it.finding.detail, suggestion=it.finding.suggestion,
                             file=it.finding.file, line=it.lines[0] if it.lines else None, indices=it.indices)
                     for it in cluster)
    return MergedFinding(
        file=file, line=lines[0] if lines else None, lines=lines, severity=best.severity,
        category=max(categories, key=categories.count) if categories else "other",
        title=best.title, detail=best.detail, suggestion=best.suggestion,
        reviewers=tuple(it.reviewer for it in cluster), agreement=len(cluster), wordings=wordings,
        outside_diff=bool(diff is not None and file and file not in diff.values()))


def _labels(results: Sequence[ReviewerResult]) -> list[str]:
    """Each result's name: its preset, with ``#2``, ``#3`` for repeats numbered independently of input order."""
    def key(i: int) -> tuple[str, str, str, str]:
        r = results[i]
        return (r.preset, r.model, r.review.model_dump_json() if r.review else "", r.error or "")
    seen: dict[str, int] = {}
    out = [""] * len(results)
    for i in sorted(range(len(results)), key=key):
        seen[results[i].preset] = n = seen.get(results[i].preset, 0) + 1
        out[i] = results[i].preset if n == 1 else f"{results[i].preset}#{n}"
    return out


def severe_raters(m: MergedFinding) -> int:
    """How many reviewers rated a merged finding major or worse: only they agree that it blocks."""
    return len({w["reviewer"] for w in m.wordings if SEVERITY_RANK[w["severity"]] <= SEVERITY_RANK["major"]})


def is_blocking(m: MergedFinding, min_agreement: int) -> bool:
    """Whether a merged finding requests changes under the verdict rule
    (:func:`specrelay.engine.review.verdict.blocks`)."""
    return blocks(m.severity, severe_raters(m), min_agreement)


def blocking_findings(c: Consolidated) -> list[MergedFinding]:
    """The merged findings that drive the fix loop, in rank order."""
    return [m for m in c.findings if is_blocking(m, c.min_agreement)]


def consolidate(results: Sequence[ReviewerResult], *, min_agreement: int | None = None,
                diff_files: Collection[str] | None = None) -> Consolidated:
    """Merge the panel's reviews by agreement.

    ``min_agreement``: how many reviewers must raise a major finding for it to request changes;
    None means 2 when at least three reviewers answered, else 1; clamped to 1..answered (noted).
    ``diff_files``: the files the diff touches; findings elsewhere are flagged ``outside_diff``.
    Failed results (``review`` None) are reported and otherwise left out. Raises ValueError when
    no reviewer answered: there is nothing to decide on (the caller decides how many are enough).
    """
    labels = _labels(results)
    answered = [(label, r.review) for label, r in zip(labels, results, strict=True) if r.review is not None]
    if not answered:
        raise ValueError("consolidate: no reviewer returned a review")
    notes: list[str] = []
    agreement = default_agreement(len(answered))
    if min_agreement is not None:
        agreement = max(1, min(min_agreement, len(answered)))
        # One reviewer asked: its agreement is 1 by definition, nothing worth a note.
        if agreement != min_agreement and len(results) > 1:
            who = counted(len(answered), "answering reviewer")
            notes.append(f"min_agreement {min_agreement} is not possible with {who}; used {agreement}.")
    diff = None if diff_files is None else {normalise_path(f): f for f in diff_files}
    items = sorted((it for label, review in answered for it in _items(label, review, diff)), key=_Item.sort_key)
    order = {label: i for i, label in enumerate(labels)}
    merged = sorted((_merge(c, order, diff) for c in _cluster(items)),
                    key=lambda m: (-m.agreement, SEVERITY_RANK[m.severity], m.file, m.line or 0, m.title))
    alone = len(answered) == 1
    reports = tuple(_report(label, r, notes, alone=alone) for label, r in zip(labels, results, strict=True))
    if outside := sum(1 for m in merged if m.outside_diff):
        notes.append(f"{counted(outside, 'finding')} {'points' if outside == 1 else 'point'} at "
                     f"{'a file' if outside == 1 else 'files'} outside the diff.")
    scores = {label: review.scores.given() if review.scores else {} for label, review in answered}
    medians = {name: float(statistics.median(vals)) for name in SCORE_NAMES
               if (vals := [s[name] for s in scores.values() if name in s])}
    decision = decide([Raised(m.severity, severe_raters(m)) for m in merged], min_agreement=agreement,
                      answered=len(answered))
    return Consolidated(verdict=decision.verdict, reason=decision.reason, findings=tuple(merged),
                        scores=scores, median_scores=medians, reviewers=reports, min_agreement=agreement,
                        notes=tuple(notes))


def _report(label: str, r: ReviewerResult, notes: list[str], *, alone: bool) -> ReviewerReport:
    note = None
    if r.review is None:
        notes.append(f"{label} failed: {r.error or 'no review'}")
    elif note := stated_note(r.review.verdict, (f.severity for f in r.review.findings), alone=alone):
        notes.append(f"{label} {note}.")
    return ReviewerReport(preset=label, model=r.model, verdict=r.review.verdict if r.review else None,
                          error=None if r.review else (r.error or "no review"), cost_usd=r.cost_usd,
                          latency_s=r.latency_s, findings=len(r.review.findings) if r.review else 0, note=note)


# How the result is written out (final_review.json / .md, the builder's text): review_report.py.
