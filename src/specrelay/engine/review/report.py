"""How a consolidated review (a panel's, or one reviewer's on demand) is written out:
final_review.json, final_review.md, and the blocking findings as the builder sees them in a fix round."""

from __future__ import annotations

from typing import Any

from specrelay.engine.review.agreement import Consolidated, ReviewerReport, blocking_findings, is_blocking
from specrelay.engine.review.document import SCORE_NAMES
from specrelay.engine.review.verdict import counted


def to_json(c: Consolidated) -> dict[str, Any]:
    """final_review.json: the verdict and why, the reviewers, scores, and the ranked findings."""
    costs = [r["cost_usd"] for r in c.reviewers]
    findings = [{"file": m.file, "line": m.line, "lines": list(m.lines), "severity": m.severity,
                 "category": m.category, "title": m.title, "detail": m.detail, "suggestion": m.suggestion,
                 "agreement": m.agreement, "reviewers": list(m.reviewers), "outside_diff": m.outside_diff,
                 "blocking": is_blocking(m, c.min_agreement), "wordings": [dict(w) for w in m.wordings]}
                for m in c.findings]
    return {"verdict": c.verdict, "reason": c.reason, "min_agreement": c.min_agreement, "answered": c.answered,
            "cost_usd": None if None in costs else round(sum(x for x in costs if x is not None), 6),
            "reviewers": [dict(r) for r in c.reviewers], "median_scores": dict(c.median_scores),
            "scores": {k: dict(v) for k, v in c.scores.items()}, "notes": list(c.notes), "findings": findings}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _cost(r: ReviewerReport) -> str:
    return "unknown" if r["cost_usd"] is None else f"${r['cost_usd']:.4f}"


def _latency(r: ReviewerReport) -> str:
    return "—" if r["latency_s"] is None else f"{r['latency_s']:.1f} s"


def _tables(c: Consolidated) -> list[str]:
    rows = ["| reviewer | model | verdict | findings | cost | latency |", "|---|---|---|---|---|---|"]
    for r in c.reviewers:
        if r["error"] is not None:
            rows.append(f"| {_cell(r['preset'])} | {_cell(r['model'] or '—')} | FAILED: {_cell(r['error'])} | | | |")
            continue
        verdict = r["verdict"] or ""
        if r["note"]:  # its own verdict did not count; the note under the table says why
            verdict += " (counted as approve)" if verdict == "request_changes" else " (its findings count)"
        rows.append(f"| {_cell(r['preset'])} | {_cell(r['model'])} | {verdict} | {r['findings']} | {_cost(r)} "
                    f"| {_latency(r)} |")
    rows += ["", *(f"- {n}" for n in c.notes), *([""] if c.notes else []), "## Scores", ""]
    if not c.median_scores:
        return [*rows, "No reviewer gave scores."]
    names = list(c.scores)
    rows += ["| score | median | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    for score, median in c.median_scores.items():
        per = " | ".join(str(c.scores[n].get(score, "—")) for n in names)
        rows.append(f"| {score.replace('_', ' ')} | {median:g} | {per} |")
    return rows


def _alone(c: Consolidated) -> list[str]:
    """The reviewer and scores of a one-reviewer review: no table, no agreement."""
    [r] = c.reviewers
    lines = [f"- Reviewer: {r['preset']} ({r['model']}) · {_cost(r)} · {_latency(r)}"]
    lines += [f"- The reviewer {r['note']}." if r["note"] else f"- The reviewer said {r['verdict']}."]
    lines += [f"- {n}" for n in c.notes if n != f"{r['preset']} {r['note']}."]
    given = next(iter(c.scores.values()), {})
    lines += ["", "## Scores", ""]
    lines += [f"- {name.replace('_', ' ')}: {given[name]}/5" if name in given
              else f"- {name.replace('_', ' ')}: not given" for name in SCORE_NAMES]
    return lines


def findings_heading(n: int) -> str:
    """``No findings``, ``1 finding``, ``2 findings``."""
    return "No findings" if not n else counted(n, "finding")


def render_markdown(c: Consolidated, *, round_no: int | None = None) -> str:
    """final_review.md: verdict and reason, the reviewer(s) and scores, then the findings ranked.
    A review by one reviewer is titled and worded for one (no agreement counts, no tables)."""
    alone = len(c.reviewers) == 1
    head = ("# Review" if alone else "# Panel review") + (f" (round {round_no})" if round_no is not None else "")
    lines = [head, "", f"**Verdict: {c.verdict}** — {c.reason}", ""]
    lines += _alone(c) if alone else ["## Reviewers", "", *_tables(c)]
    lines += ["", f"## {findings_heading(len(c.findings))}", ""]
    for i, m in enumerate(c.findings, 1):
        flags = [m.category, *["blocking"] * is_blocking(m, c.min_agreement), *["outside the diff"] * m.outside_diff]
        lines += [f"### {i}. [{m.severity}] {m.title} — `{m.where()}`", ""]
        if alone:  # one wording, the reviewer's own: no agreement to report
            lines += [f"({'; '.join(flags)})", ""]
            lines += [m.detail.strip(), ""] if m.detail.strip() else []
            lines += [f"Suggestion: {m.suggestion.strip()}", ""] if m.suggestion.strip() else []
            continue
        lines += [f"Raised by {m.agreement} of {c.answered}: {', '.join(m.reviewers)} ({'; '.join(flags)})", ""]
        for w in m.wordings:
            at = f", line {w['line']}" if w["line"] else ""
            detail = f" — {w['detail'].strip()}" if w["detail"].strip() else ""
            fix = f" Suggestion: {w['suggestion'].strip()}" if w["suggestion"].strip() else ""
            lines.append(f"- **{w['reviewer']}** ({w['severity']}{at}): {w['title']}{detail}{fix}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_blocking_for_builder(c: Consolidated) -> str:
    """The blocking merged findings a fix round must address, as the builder sees them."""
    out = []
    for i, m in enumerate(blocking_findings(c), 1):
        raised = "" if c.answered == 1 else f" — raised by {m.agreement} of {c.answered} reviewers"
        out.append(f"{i}. [{m.severity}] {m.title} ({m.where()}){raised}")
        out += [f"   Why: {m.detail.strip()}"] * bool(m.detail.strip())
        out += [f"   Suggested fix: {m.suggestion.strip()}"] * bool(m.suggestion.strip())
        out += [f"   Also put as ({w['reviewer']}): {w['title']}" for w in m.wordings if w["title"] != m.title]
    return "\n".join(out)
