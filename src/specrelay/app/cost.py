"""Where the money went: the ledger's totals, grouped, and what one preset alone would have cost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from specrelay.app.counterfactual import Counterfactual, counterfactual
from specrelay.app.live import Remote
from specrelay.app.views import TaskStatus, Totals, task_view
from specrelay.app.workspace import ledger_of
from specrelay.config import Config, load_config
from specrelay.engine.summary import spec_has
from specrelay.engine.task import load_task, resolve_task_id
from specrelay.errors import UserError

if TYPE_CHECKING:
    from specrelay.ledger import GroupBy, Ledger

#: What ``cost`` can group by.
BY = ("task", "phase", "preset", "model")

_NO_CALLS: Totals = {"calls": 0, "ok_calls": 0, "failed_calls": 0, "cost_usd": None, "input_tokens": 0,
                     "output_tokens": 0, "unknown_cost_calls": 0, "simulated": False, "estimated": False}


@dataclass(frozen=True)
class CascadeCost:
    """What a cheap-first cascade step spent (``spent_usd``, per preset in ``by_preset``) against the same
    tokens on its strongest preset (the last) alone."""

    task: str
    step: str
    presets: list[str]
    spent_usd: float | None
    by_preset: dict[str, float | None]
    strongest: Counterfactual | None

    def to_json(self) -> dict[str, Any]:
        alone = self.strongest
        return {"task": self.task, "step": self.step, "presets": self.presets, "spent_usd": self.spent_usd,
                "by_preset": self.by_preset, "strongest": self.presets[-1],
                "strongest_alone_usd": alone.cost_usd if alone else None,
                "saved_usd": alone.difference(self.spent_usd) if alone else None}


@dataclass(frozen=True)
class CostReport:
    """Totals from the ledger: ``rows`` grouped ``by`` (none when not grouped), ``total`` overall, and
    (``as_``) the same tokens on one preset."""

    by: str | None
    task: str | None
    rows: list[Totals]
    total: Totals
    as_: Counterfactual | None = None
    #: Every cascade step of the tasks counted, against its strongest preset alone.
    cascades: list[CascadeCost] = field(default_factory=list)
    #: The task counted still runs on Temporal (where, and what it does): its costs are so far.
    remote: Remote | None = None

    @property
    def difference_usd(self) -> float | None:
        """How much more (negative: less) ``as_`` would have cost than the calls did."""
        return None if self.as_ is None else self.as_.difference(self.total.get("cost_usd"))

    def to_json(self) -> dict[str, Any]:
        """The object ``cost --json`` prints."""
        out: dict[str, Any] = {"by": self.by, "task": self.task, "rows": self.rows, "total": self.total,
                               "cascades": [c.to_json() for c in self.cascades]}
        if self.as_ is not None:
            out["as"] = {"preset": self.as_.preset, "model": self.as_.model, "cost_usd": self.as_.cost_usd,
                         "difference_usd": self.difference_usd}
        if self.remote is not None:
            out["remote"] = asdict(self.remote)
        return out


def _running_remotely(root: Path | None, ledger: Ledger, task_id: str | None) -> Remote | None:
    """Where the task ``task_id`` runs on Temporal, while it does (its server asked); None otherwise."""
    if root is None or task_id is None or ledger.task(task_id) is None:
        return None
    from specrelay.engine.lock import driver_of

    task = load_task(root, ledger, task_id)
    if driver_of(task.folder) is None:
        return None
    view = task_view(ledger, task)
    return view.remote if view.status is TaskStatus.RUNNING else None


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
        cascades = cascade_costs(ledger, lambda: load_config(root), [task] if task else ledger.task_ids())
        report = CostReport(by, task, rows, overall[0] if overall else dict(_NO_CALLS), cascades=cascades,
                            remote=_running_remotely(root, ledger, task))
        if as_preset is None:
            return report
        alt = counterfactual(ledger, load_config(root).preset(as_preset), task)
        return replace(report, as_=alt)


def cascade_costs(ledger: Ledger, config_of: Callable[[], Config], task_ids: list[str]) -> list[CascadeCost]:
    """Each cascade step of ``task_ids`` that made calls: what it spent, against its strongest preset alone
    (the one-model counterfactual on that step's calls). The config is read only when there is one."""
    out = []
    for task_id in task_ids:
        for row in ledger.steps(task_id):
            if not (len(row.presets) > 1 and spec_has(row.kind, lambda k: k.builds and not k.panel)):
                continue
            calls = [c for c in ledger.calls(task_id) if c.step == row.title and c.outcome == "ok"]
            if not calls:
                continue
            by_preset: dict[str, float | None] = {}
            for c in calls:
                was = by_preset.get(c.preset, 0.0)
                by_preset[c.preset] = None if was is None or c.cost_usd is None else was + c.cost_usd
            known = [v for v in by_preset.values() if v is not None]
            spent = sum(known) if len(known) == len(by_preset) else None
            strongest, config = row.presets[-1], config_of()
            alone = (counterfactual(ledger, config.preset(strongest), task_id, step=row.title)
                     if strongest in config.presets else None)
            out.append(CascadeCost(task_id, row.title, list(row.presets), spent, by_preset, alone))
    return out
