"""The one-model counterfactual: the same tokens, every call priced as if it had gone to one preset.

``cost --as PRESET`` and a task's summary (on the planner's preset) both ask it; this is the one
place it is computed, and the one rule of when it is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from specrelay.config import Preset
from specrelay.ledger import Ledger
from specrelay.llm.pricing import priced_model, reprice


@dataclass(frozen=True)
class Counterfactual:
    """What the calls would have cost on ``preset`` (``model`` is how it is priced) alone."""

    preset: str
    model: str
    #: None when the preset has no known price.
    cost_usd: float | None

    def difference(self, actual_usd: float | None) -> float | None:
        """How much more (negative: less) than ``actual_usd``; None when either is unknown."""
        if self.cost_usd is None or actual_usd is None:
            return None
        return self.cost_usd - actual_usd

    def ratio(self, actual_usd: float | None, *, unknown_calls: int = 0) -> float | None:
        """How many times the actual cost; None when either is unknown (or some actual calls had no
        price) or when nothing was spent."""
        if self.cost_usd is None or actual_usd is None or unknown_calls or not actual_usd:
            return None
        return self.cost_usd / actual_usd


def counterfactual(ledger: Ledger, preset: Preset, task_id: str | None = None, *,
                   step: str | None = None) -> Counterfactual:
    """Every answered call of ``task_id`` (default: every call in the ledger; with ``step``, only that
    step's of the task) re-priced on ``preset``."""
    return Counterfactual(preset.name, priced_model(preset)[0], reprice(ledger.usage_rows(task_id, step), preset))
