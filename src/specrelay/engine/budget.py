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

    def check(self, preset: Preset, input_tokens: int, max_output_tokens: int) -> None:
        worst = cost_of(preset, Usage(input_tokens=input_tokens, output_tokens=max_output_tokens))
        if worst is None:
            return  # no price known: nothing to check against (shown as unknown everywhere)
        spent = self.ledger.spent(self.task_id)
        if spent + worst > self.limit:
            raise BudgetExceeded(
                f"task {self.task_id} paused: ${spent:.4f} spent of its ${self.limit:.4g} budget, and the next "
                f"call ({preset.name}, up to ${worst:.4f}) could exceed it. To go on with more: "
                f"specrelay resume {self.task_id} --budget {max(self.limit * 2, spent + worst * 2):.2f}",
                spent=spent, limit=self.limit)
