"""``specrelay eval run demo``: the built-in suite, offline, no keys: a sample repository whose history makes
the cases (:mod:`specrelay.engine.evaldemo`), run as any suite is, then its report.

Used when the current repository has no suite named ``demo`` of its own, or outside any repository.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specrelay.app.eval import EvalRun, Made, make_from_history, run_eval
from specrelay.app.evalreport import Report, build_report, write_report
from specrelay.app.evalrun import OnCell
from specrelay.app.run import DEFAULT_JOBS
from specrelay.app.workspace import root_or_none
from specrelay.engine import evalcases
from specrelay.engine.evaldemo import SUITE, WORKFLOWS, prepare_eval_demo
from specrelay.errors import UserError


@dataclass
class EvalDemo:
    """The sample repository, the cases made from its history, the run, and its report."""

    root: Path
    made: Made
    run: EvalRun
    report: Report
    written: list[Path]

    def to_json(self) -> dict[str, Any]:
        """The run's record (as ``eval run --json`` prints it), with where it ran and the report."""
        return {**self.run.to_json(), "root": str(self.root), "report": self.report.to_json(),
                "written": [str(p) for p in self.written]}


def is_builtin(suite: str, start: Path | None = None) -> bool:
    """Whether ``eval run SUITE`` means the built-in suite: ``demo``, where no repository (from ``start``, the
    current folder by default) has a suite of that name."""
    if suite != SUITE:
        return False
    root = root_or_none(start)
    return root is None or not evalcases.suites(root).get(SUITE)


def run_eval_demo(folder: Path | None = None, *, workflows: Sequence[str] = (), repeat: int = 1,
                  jobs: int = DEFAULT_JOBS, budget_usd: float | None = None, on_cell: OnCell | None = None,
                  progress: Callable[[str], None] | None = None,
                  on_ready: Callable[[Path], None] | None = None) -> EvalDemo:
    """Create the sample repository (in ``folder``, new or empty; default: a new temporary one), make the
    suite from its history (each case validated; ``progress`` is told of each), run it under ``workflows``
    (default: all three it is scripted for; ``on_cell`` is told of each cell as it ends) and write its
    report. ``on_ready`` is told where the sample repository is as soon as it exists."""
    workflows = list(workflows) or list(WORKFLOWS)
    unknown = [w for w in workflows if w not in WORKFLOWS]
    if unknown:
        raise UserError(f"--workflows {','.join(unknown)}: the built-in demo suite is scripted for "
                        f"{', '.join(WORKFLOWS)} only; name some of those (or leave --workflows out).")
    root = prepare_eval_demo(folder)
    if on_ready is not None:
        on_ready(root)
    made = make_from_history(root, SUITE, progress=progress)
    run = run_eval(root, SUITE, workflows=workflows, repeat=repeat, jobs=jobs, budget_usd=budget_usd,
                   on_cell=on_cell)
    report = build_report(root, SUITE, run.data["id"])
    return EvalDemo(root, made, run, report, write_report(root, report))
