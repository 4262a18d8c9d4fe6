"""Per-task budgets: before each call, the worst case must fit in what is left."""

from __future__ import annotations

from specrelay.config import Preset
from specrelay.errors import BudgetExceeded
from specrelay.ledger import Ledger
from specrelay.llm.pricing import Usage, cost_of


class TaskBudget:
    """Checks a call's worst case (counted input + max output at the preset's price) against the limit."""

    def __init__(self, ledger: Ledger, task_id: str, limit_usd: float) -> None:
        self.ledger = ledger
        self.task_id = task_id
        self.limit = limit_usd
        #: Worst cases of calls in flight (a review panel calls several presets at once).
        self.in_flight = 0.0

    def check(self, preset: Preset, input_tokens: int, max_output_tokens: int) -> float:
        worst = cost_of(preset, Usage(input_tokens=input_tokens, output_tokens=max_output_tokens))
        if worst is None:
            return 0.0  # no price known: nothing to check against (shown as unknown everywhere)
        spent = self.ledger.spent(self.task_id) + self.in_flight
        if spent + worst > self.limit:
            raise BudgetExceeded(
                f"task {self.task_id} paused: ${spent:.4f} spent or reserved of its ${self.limit:.4g} budget, "
                f"and the next call ({preset.name}, up to ${worst:.4f}) could exceed it. To go on with more: "
                f"specrelay resume {self.task_id} --budget {max(self.limit * 2, spent + worst * 2):.2f}",
                spent=spent, limit=self.limit)
        self.in_flight += worst
        return worst

    def release(self, reserved: float) -> None:
        self.in_flight = max(0.0, self.in_flight - reserved)
