"""An evaluation report as text and as a picture: the per-workflow table and the paired differences (the
same rows for the terminal, ``report.md`` and the dashboard), the whole ``report.md``, and the chart of
pass rates (with their intervals) and costs per case."""

from __future__ import annotations

from datetime import UTC, datetime

from specrelay.app.charts import Bar, Panel, panels_svg
from specrelay.app.evalfigures import Pair, Report, WorkflowStats
from specrelay.engine import evalstats
from specrelay.engine.evalfindings import LINE_SLACK

#: The per-workflow table's columns; those holding numbers are right-aligned.
COLUMNS = ["workflow", "cells", "checked", "passed", "pass rate (95% CI)", "cost/case", "cost/pass", "tokens",
           "impl. share", "rounds", "escalations", "wall (median)", "caught"]
NUMERIC = tuple(COLUMNS[1:])
PAIR_COLUMNS = ["a − b", "cases", "pass rate diff (95% CI)", "a better", "b better", "cost/case diff",
                "a's misses b flagged", "b's misses a flagged"]


def money(value: float | None, *, simulated: bool = False, unknown: int = 0) -> str:
    """``$0.0123``, ``$4.56``, ``unknown``; a star when simulated, ``+N unpriced`` when calls had no price."""
    if value is None:
        return "unknown"
    sign, size = ("-" if value < 0 else ""), abs(value)
    text = f"{sign}${size:,.4f}" if size < 1 else f"{sign}${size:,.2f}"
    return text + (f" +{unknown} unpriced" if unknown else "") + ("*" if simulated else "")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def interval(i: evalstats.Interval | None, *, signed: bool = False) -> str:
    """``75% [50%, 100%]``, or with a sign for a difference: ``+25 pts [-10, +50]``."""
    if i is None:
        return "—"
    if signed:
        return f"{100 * i.value:+.0f} pts [{100 * i.low:+.0f}, {100 * i.high:+.0f}]"
    return f"{percent(i.value)} [{percent(i.low)}, {percent(i.high)}]"


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def workflow_row(w: WorkflowStats) -> list[str]:
    """One workflow's row of the table (:data:`COLUMNS`)."""
    def cost(value: float | None) -> str:
        return money(value, simulated=w.simulated, unknown=w.unknown_cost_calls)

    return [w.workflow, str(w.cells), str(w.checked), str(w.passed), interval(w.pass_rate),
            cost(w.cost_per_case_usd), cost(w.cost_per_pass_usd) if w.passed else "—", f"{w.tokens:,}",
            percent(w.implementation_share), "—" if w.mean_rounds is None else f"{w.mean_rounds:.1f}",
            str(w.escalations), seconds(w.median_wall_s),
            f"{w.caught}/{w.failure_places}" if w.failure_places else "—"]


def pair_row(p: Pair) -> list[str]:
    """One pair's row (:data:`PAIR_COLUMNS`)."""
    d = p.paired
    cost = "—" if p.cost_difference_usd is None else (
        ("+" if p.cost_difference_usd >= 0 else "") + money(p.cost_difference_usd))
    return [f"{p.a} − {p.b}", str(d.cases if d else 0), interval(d.difference if d else None, signed=True),
            str(d.a_better if d else 0), str(d.b_better if d else 0), cost,
            f"{p.a_missed_b_flagged}/{p.a_missed}" if p.a_missed else "—",
            f"{p.b_missed_a_flagged}/{p.b_missed}" if p.b_missed else "—"]


def _md_table(columns: list[str], rows: list[list[str]], right: tuple[str, ...] = ()) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(columns), "|" + "|".join("---:" if c in right else "---" for c in columns) + "|", *map(line, rows)]


def markdown(report: Report) -> str:
    """``report.md``: the tables, how the figures are made, tokens by phase, and every cell."""
    when = (datetime.fromtimestamp(report.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
            if report.created_at is not None else "unknown time")
    out = [f"# Evaluation report: suite {report.suite}, run {report.run_id}", "",
           f"Run at {when}; {report.repeat} repeat{'' if report.repeat == 1 else 's'} per case"
           + (f"; budget ${report.budget_usd:g}" if report.budget_usd is not None else "") + ".", "",
           "## Workflows", "", *_md_table(COLUMNS, [workflow_row(w) for w in report.workflows], NUMERIC), ""]
    if report.pairs:
        out += ["## Paired differences (same cases)", "",
                *_md_table(PAIR_COLUMNS, [pair_row(p) for p in report.pairs], tuple(PAIR_COLUMNS[1:])), ""]
    out += ["## Tokens by phase (input + output)", ""]
    phases = sorted({p for w in report.workflows for p in w.tokens_by_phase})
    out += _md_table(["workflow", *phases],
                     [[w.workflow, *(f"{w.tokens_by_phase.get(p, 0):,}" for p in phases)] for w in report.workflows],
                     tuple(phases))
    out += ["", "## Cells", ""]
    out += _md_table(["case", "workflow", "repeat", "task", "task status", "check", "cost", "rounds", "failed at",
                      "caught"],
                     [[c.case, c.workflow, str(c.repeat), c.task_id or "—", c.task_status, c.check or "not checked",
                       money(c.cost_usd, simulated=c.simulated, unknown=c.unknown_cost_calls) if c.recorded else "—",
                       "—" if c.rounds is None else str(c.rounds), ", ".join(map(str, c.places)) or "—",
                       f"{len(c.caught)}/{len(c.places)}" if c.places else "—"] for c in report.cells])
    out += ["", "## How to read it", "",
            "- Pass rate: passed hidden checks over checked cells; a check that could not run (error) and a cell "
            "never checked are left out. The interval is a 95% percentile bootstrap over cases (a case's repeats "
            f"drawn together; {report.resamples} resamples, seed {report.seed}).",
            "- Paired difference: per case, a's pass rate minus b's, on the cases both checked; its mean and a "
            "bootstrap interval over those cases.",
            "- Cost per case: the known cost of the workflow's tasks over the cells that ran one; per pass: over "
            "the passed cells.",
            "- Impl. share: the implementation phase's part of all tokens. Rounds: build rounds per task. Wall: a "
            "task's first record to its last.",
            f"- Caught: of the non-test `path:line` places a failed check's output names, those a reviewer of the "
            f"same task had flagged (same file, within {LINE_SLACK} lines). A's misses b flagged: of the places "
            "a's reviewers missed, those b's reviewers flagged on the same case (same file, within "
            f"{LINE_SLACK} lines of b's own branch, which may hold other code there: a hint, not a proof).", ""]
    if report.notes:
        out += ["## Notes", "", *(f"- {n}" for n in report.notes), ""]
    return "\n".join(out)


def chart_svg(report: Report, *, standalone: bool = False) -> str:
    """Pass rate with its interval, and cost per case, one bar per workflow."""
    rates = [Bar(w.workflow, w.pass_rate.value if w.pass_rate else None, "a",
                 w.pass_rate.low if w.pass_rate else None, w.pass_rate.high if w.pass_rate else None,
                 interval(w.pass_rate)) for w in report.workflows]
    costs = [Bar(w.workflow, w.cost_per_case_usd, "b",
                 text=money(w.cost_per_case_usd, simulated=w.simulated, unknown=w.unknown_cost_calls))
             for w in report.workflows]
    return panels_svg([Panel("Pass rate (95% CI)", rates, percent, top=1.0),
                       Panel("Cost per case", costs, lambda v: money(v))],
                      title=f"Evaluation {report.suite} {report.run_id}", standalone=standalone)
