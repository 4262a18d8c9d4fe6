"""``specrelay eval report``: what a run of a suite measured, per workflow and between workflows.

A run (``.specrelay/eval/SUITE/runs/RUN_ID/run.json``, written by ``eval run``) says, for each case ×
workflow × repeat, which task ran it and how its hidden check ended. The report adds what the ledger
recorded of each task (cost, tokens by phase, rounds, cascade escalations, wall time) and what its
reviewers found, and writes ``report.md``, ``report.json`` and ``chart.svg`` beside ``run.json``.

Figures, per workflow:

- pass rate: passed checks over checked cells (an ``error`` cell, whose check could not run, and a cell
  never checked are left out), with a 95% bootstrap interval over cases (:mod:`specrelay.engine.evalstats`);
- cost per case: the workflow's known cost over its cells that ran a task; per passed case: over the
  passed cells. A call of unknown cost is counted apart (the figure is then a lower bound), and a
  scripted model's simulated cost is said to be one;
- tokens (input + output) by phase, and the implementation phase's share of them;
- mean rounds, escalations (every cascade move of every task), median wall time (a task's first record
  to its last);
- the places a failed check's output points at (non-test ``path:line``) and how many of them the task's
  reviewers had flagged (:mod:`specrelay.engine.evalfindings`).

Between each two workflows: the mean per-case difference of pass rate on the cases both checked, with
its interval, the mean per-case difference of cost on those cases when every cost is known, and what
one's review missed that the other's flagged: of the places a's failed checks point at and a's own
reviewers did not flag, how many b's reviewers flagged on the same case (and the other way round).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specrelay.app.evalfigures import CellFacts, Pair, Report, WorkflowStats, pair, workflow_stats
from specrelay.app.evalrender import chart_svg, markdown
from specrelay.app.findings import review_rounds
from specrelay.app.jsonout import dumps
from specrelay.app.workspace import ledger_of
from specrelay.engine import evalcases, evalruns
from specrelay.engine.evalfindings import Place, failure_places, flagged, parse_where
from specrelay.engine.loopstate import LoopState
from specrelay.errors import UserError
from specrelay.fsutil import atomic_write_text
from specrelay.ledger.rows import CallRow

if TYPE_CHECKING:
    from specrelay.ledger import Ledger

__all__ = ["CellFacts", "Pair", "Report", "RunSummary", "WorkflowStats", "build_report", "list_runs", "write_report"]

REPORT_FILES = ("report.md", "report.json", "chart.svg")


# -- the run ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    """A run as a list shows it: its suite, id, time, workflows and cells (``error``: why its run.json
    cannot be read, and then nothing else is known)."""

    suite: str
    id: str
    created_at: float | None = None
    workflows: list[str] = field(default_factory=list)
    cells: int = 0
    checked: int = 0
    passed: int = 0
    error: str | None = None


def list_runs(root: Path) -> list[RunSummary]:
    """Every suite's runs, newest first within each suite."""
    out = []
    for suite in evalcases.suites(root):
        for run_id in reversed(evalruns.run_ids(root, suite)):
            path = evalruns.runs_dir(root, suite) / run_id / evalruns.RUN_FILE
            try:
                data = evalruns.read_run(path)
            except UserError as exc:
                out.append(RunSummary(suite, run_id, error=str(exc)))
                continue
            checks = [c["check"]["status"] for c in data["cells"] if c.get("check")]
            created = data.get("created_at")
            out.append(RunSummary(suite, run_id, float(created) if isinstance(created, int | float) else None,
                                  list(data["workflows"]), len(data["cells"]),
                                  sum(s in ("passed", "failed") for s in checks), checks.count("passed")))
    return out


def _open_run(root: Path, suite: str, run_id: str | None) -> tuple[Path, dict[str, Any]]:
    """The run's ``run.json`` path and its content, its shape checked."""
    folder = evalcases.suite_dir(root, suite)
    if not folder.is_dir():
        known = ", ".join(evalcases.suites(root)) or "none yet"
        raise UserError(f"no suite {suite!r} in {folder.parent} (suites: {known}); make one with "
                        f"`specrelay eval make {suite} --from-history`.")
    run = evalruns.RunFile.open(root, suite, run_id)
    return run.path, run.data


# -- the cells -------------------------------------------------------------------------------------------


def _unknown_cost(call: CallRow) -> bool:
    """The ledger's rule (see ``ledger.store.UNKNOWN_COST``): no price, and the call may have been billed."""
    return call.cost_usd is None and (call.outcome in ("ok", "interrupted") or call.output_tokens > 0)


def _cell(root: Path, ledger: Ledger, raw: dict[str, Any], notes: list[str]) -> CellFacts:
    check = raw.get("check")
    base = CellFacts(case=raw["case"], workflow=raw["workflow"], repeat=raw["repeat"], task_id=raw.get("task_id"),
                     task_status=str(raw.get("task_status") or "not_started"),
                     check=check["status"] if check else None, reason=str(check.get("reason") or "") if check else "")
    if base.task_id is None:
        return base
    task = ledger.task(base.task_id)
    calls = ledger.calls(base.task_id) if task else []
    if task is None:
        notes.append(f"task {base.task_id} ({base.case}, {base.workflow}) is not in the ledger: its cell has "
                     "no cost, tokens or rounds.")
        return base
    tokens: dict[str, int] = {}
    for c in calls:
        tokens[c.phase] = tokens.get(c.phase, 0) + c.input_tokens + c.output_tokens
    priced = [c.cost_usd for c in calls if c.cost_usd is not None]
    findings: list[Place] = []
    count = 0
    for r in review_rounds(root, task.id):
        count += len(r.findings)
        findings += [p for p in (parse_where(f.where) for f in r.findings) if p is not None]
    places = failure_places(str(check.get("output") or "")) if check and check["status"] == "failed" else []
    return replace(base, recorded=True, cost_usd=sum(priced) if priced else None,
                   unknown_cost_calls=sum(map(_unknown_cost, calls)), simulated=any(c.simulated for c in calls),
                   tokens=tokens, rounds=task.rounds, escalations=len(LoopState.load(task.state).escalations),
                   wall_s=max(0.0, task.updated_at - task.created_at), findings=count,
                   places=places, caught=[p for p in places if flagged(p, findings)], flagged=findings)


def build_report(root: Path, suite: str, run_id: str | None = None) -> Report:
    """The report of the suite's run ``run_id`` (default: its latest)."""
    path, data = _open_run(root, suite, run_id)
    notes: list[str] = []
    with ledger_of(root, readonly=True) as ledger:
        cells = [_cell(root, ledger, raw, notes) for raw in data["cells"]]
    names = list(dict.fromkeys([*data["workflows"], *(c.workflow for c in cells)]))
    by = {w: [c for c in cells if c.workflow == w] for w in names}
    pairs = [pair(a, b, by) for i, a in enumerate(names) for b in names[i + 1:]]
    unchecked = sum(c.check is None for c in cells)
    if unchecked:
        notes.append(f"{unchecked} of {len(cells)} cells have no check result yet (their task did not finish, or "
                     f"was never made): `specrelay eval run {suite} --resume --run {path.parent.name}` goes on "
                     "with them.")
    errors = sum(c.check == "error" for c in cells)
    if errors:
        notes.append(f"{errors} check(s) could not run (error) and are left out of the pass rates; each cell "
                     "says why.")
    if any(c.simulated for c in cells):
        notes.append("Costs marked * are simulated: scripted models priced as the real models they stand for.")
    if any(c.unknown_cost_calls for c in cells):
        notes.append("Some calls have no price: the costs they are in count only the priced calls.")
    created, budget, repeat = data.get("created_at"), data.get("budget_usd"), data.get("repeat")
    return Report(suite=suite, run_id=path.parent.name, folder=path.parent,
                  created_at=float(created) if isinstance(created, int | float) else None,
                  repeat=repeat if isinstance(repeat, int) and repeat > 0 else 1,
                  budget_usd=float(budget) if isinstance(budget, int | float) else None,
                  workflows=[workflow_stats(w, by[w]) for w in names], pairs=pairs, cells=cells, notes=notes)


# -- writing it ------------------------------------------------------------------------------------------


def write_report(root: Path, report: Report) -> list[Path]:
    """``report.md``, ``report.json`` and ``chart.svg`` beside the run's ``run.json``, each written whole."""
    md, js, svg = (report.folder / name for name in REPORT_FILES)
    texts = {js: dumps(report.to_json()) + "\n", svg: chart_svg(report, standalone=True), md: markdown(report)}
    try:
        for path, text in texts.items():
            atomic_write_text(path, text)
    except OSError as exc:
        raise UserError(f"{report.folder}: cannot write the report there ({exc.strerror or exc}); "
                        "make the folder writable and run `specrelay eval report` again.") from None
    return [md, js, svg]

