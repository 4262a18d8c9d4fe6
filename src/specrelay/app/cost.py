"""Where the money went: the ledger's totals, grouped, and what one preset alone would have cost."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from specrelay.app.counterfactual import Counterfactual, counterfactual
from specrelay.app.views import Totals
from specrelay.app.workspace import ledger_of
from specrelay.config import load_config
from specrelay.engine.task import resolve_task_id
from specrelay.errors import UserError

if TYPE_CHECKING:
    from specrelay.ledger import GroupBy

#: What ``cost`` can group by.
BY = ("task", "phase", "preset", "model")

_NO_CALLS: Totals = {"calls": 0, "ok_calls": 0, "failed_calls": 0, "cost_usd": None, "input_tokens": 0,
                     "output_tokens": 0, "unknown_cost_calls": 0, "simulated": False, "estimated": False}


@dataclass(frozen=True)
class CostReport:
    """Totals from the ledger: ``rows`` grouped ``by`` (none when not grouped), ``total`` overall, and
    (``as_``) the same tokens on one preset."""

    by: str | None
    task: str | None
    rows: list[Totals]
    total: Totals
    as_: Counterfactual | None = None

    @property
    def difference_usd(self) -> float | None:
        """How much more (negative: less) ``as_`` would have cost than the calls did."""
        return None if self.as_ is None else self.as_.difference(self.total.get("cost_usd"))

    def to_json(self) -> dict[str, Any]:
        """The object ``cost --json`` prints."""
        out: dict[str, Any] = {"by": self.by, "task": self.task, "rows": self.rows, "total": self.total}
        if self.as_ is not None:
            out["as"] = {"preset": self.as_.preset, "model": self.as_.model, "cost_usd": self.as_.cost_usd,
                         "difference_usd": self.difference_usd}
        return out


def check_by(by: str | None) -> None:
    """Refuse a grouping ``cost`` does not know."""
    if by is not None and by not in BY:
        raise UserError(f"--by {by}: expected one of {', '.join(BY)}.")


def cost(root: Path | None, *, task: str | None = None, by: str | None = None,
         as_preset: str | None = None) -> CostReport:
    """Totals of tokens and cost, of one task (an id, a prefix, ``last``) or of all; outside a
    repository (``root`` None), of the user's own ledger."""
    check_by(by)
    with ledger_of(root, readonly=True) as ledger:
        if task is not None and ledger.task(task) is None and not ledger.calls(task):
            try:
                task = resolve_task_id(root or Path.cwd(), ledger, task)
            except UserError as exc:
                raise UserError(f"--task {task}: {exc}") from None
        overall = [t.as_json() for t in ledger.totals(None, task)]
        rows = [t.as_json() for t in ledger.totals(cast("GroupBy | None", by), task)]  # by is one of BY
        report = CostReport(by, task, rows, overall[0] if overall else dict(_NO_CALLS))
        if as_preset is None:
            return report
        alt = counterfactual(ledger, load_config(root).preset(as_preset), task)
        return CostReport(report.by, report.task, report.rows, report.total, alt)
