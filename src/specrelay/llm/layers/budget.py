"""The budget layer: each attempt reserves what it may cost, at an output cap the budget can pay
for, and releases the reservation with the attempt's real cost as soon as it ends (before any
retry waits, so a waiting retry holds nothing). It also prices the attempt.

A reply the budget's lower cap cut short is not work to build on: it is raised as
:class:`CutByBudget`, for the record layer to keep (it was paid for) and turn into the budget's stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from specrelay.config import Preset
from specrelay.errors import BudgetExceeded
from specrelay.llm.backend import AttemptFailed, Reply, Request, backend_class, estimate_tokens
from specrelay.llm.layers.base import Attempted, AttemptHandler, Call
from specrelay.llm.pricing import context_window, cost_of

#: The output cap a budgeted call is sent with when its preset sets no max_tokens (a cap must be sent:
#: a budget's promise rests on the call not writing more than it reserved for).
DEFAULT_MAX_OUTPUT = 8192

#: The fewest output tokens a call of each phase may be capped to (by a budget), or must have room for
#: in the context window; a preset's ``min_output_tokens`` overrides it for every phase. A phase not
#: named here gets ``DEFAULT_FLOOR``.
MIN_OUTPUT_TOKENS: dict[str, int] = {
    "plan": 2048,       # a spec of a page or two
    "implement": 2048,  # SEARCH/REPLACE blocks for a few files
    "review": 1024,     # the findings JSON
    "ask": 512,         # a short answer
}
DEFAULT_FLOOR = 1024


def output_floor(preset: Preset, phase: str) -> int:
    """The output cap below which a call of ``phase`` on ``preset`` is not worth making."""
    if preset.min_output_tokens is not None:
        return preset.min_output_tokens
    return MIN_OUTPUT_TOKENS.get(phase, DEFAULT_FLOOR)


def default_cap(preset: Preset, input_tokens: int) -> int:
    """The output cap a budgeted call is sent with: the preset's ``max_tokens``, else
    ``DEFAULT_MAX_OUTPUT`` lowered to what the preset's context window leaves after the input (a
    small local model's 4,096-token window must not be asked for 8,192 tokens the preset never set);
    ``input_tokens`` as :func:`input_tokens` counts them."""
    if preset.max_tokens is not None:
        return preset.max_tokens
    window = context_window(preset)
    if window is None:
        return DEFAULT_MAX_OUTPUT
    return max(1, min(DEFAULT_MAX_OUTPUT, window - input_tokens))


@dataclass(frozen=True)
class Reservation:
    """What a budget set aside for one attempt: the output cap it can pay for, and that cost."""

    cap: int
    usd: float
    #: True when the cap is below the preset's own: the budget lowered it.
    lowered: bool = False
    #: Set on a claim that is still to grow (the budget's own bookkeeping).
    growth: Any = None


class BudgetCheck(Protocol):
    """Reserves the next call's cost at an output cap the budget can pay for (lowering the preset's cap
    if need be), or raises BudgetExceeded; the reservation is released, with the call's real cost, when
    the call ends.

    Reserving is two steps: ``reserve`` claims the least the call needs, then, once calls started at the
    same moment (a panel) have claimed theirs, ``grow`` raises the claim to the call's share.
    """

    def reserve(self, preset: Preset, input_tokens: int, max_output_tokens: int, phase: str) -> Reservation: ...

    def reserve_open(self, preset: Preset, phase: str) -> Reservation:
        """Claim for a call no output cap bounds (an agent run of many turns): refused when what is left
        would not pay for even the phase's floor; it grows to a share of what is left, which the call is
        told it may spend (``Request.budget_usd``)."""
        ...

    def grow(self, claim: Reservation) -> Reservation: ...

    def cut_off(self, preset: Preset, phase: str, cap: int, wanted: int) -> BudgetExceeded:
        """The stop of a call whose reply reached the cap the budget lowered it to."""
        ...

    def release(self, reservation: Reservation, cost_usd: float | None) -> None: ...


def input_tokens(preset: Preset, text: str) -> int:
    """The input tokens the layers count a prompt of ``text`` at, on ``preset``: what a budget reserves
    for, what the context window must hold, what a default cap leaves room for (one rule for all)."""
    return counted(preset, estimate_tokens(text))


def request_tokens(preset: Preset, request: Request) -> int:
    """:func:`input_tokens` of a whole request: its text, and its attachments at their estimate."""
    return input_tokens(preset, request.text) + request.attachment_tokens


def counted(preset: Preset, estimate: int) -> int:
    """An estimate of input tokens (4 characters a token), of a prompt or a part of one, as the layers
    count it on ``preset``. A backend that does not report usage (scripted) is billed the estimate
    itself; a real tokenizer can count more (code and diffs run nearer 3 characters a token: a prompt
    estimated at 3,223 tokens was 4,069), so for the others the estimate is raised by half, that a
    call is not undercounted."""
    return estimate if not backend_class(preset).reports_usage else (estimate * 3 + 1) // 2


def reply_cost(preset: Preset, reply: Reply) -> float | None:
    """What a reply cost: the preset's own ``price`` when set; else the figure the backend reported
    itself (an agent's own cost); else its tokens priced for the model that answered."""
    if preset.price is None and reply.cost_usd is not None:
        return reply.cost_usd
    return None if reply.usage is None else cost_of(preset.priced_as(reply.model), reply.usage)


class CutByBudget(Exception):
    """An attempt whose reply reached the cap a budget lowered it to; ``stop()`` is the budget's stop."""

    def __init__(self, attempted: Attempted, stop: Callable[[], BudgetExceeded]) -> None:
        super().__init__("the reply reached the output cap the budget lowered it to")
        self.attempted = attempted
        self.stop = stop


class Budget:
    """Reserves before each attempt, prices and releases after it (without a budget: only prices)."""

    def __init__(self, inner: AttemptHandler, budget: BudgetCheck | None) -> None:
        self.inner = inner
        self.budget = budget

    async def __call__(self, call: Call) -> Attempted:
        preset = call.tried
        held = await self._reserve(call)
        open_ended = not backend_class(preset).capped_by_output
        sent = preset if held is None or open_ended else preset.model_copy(update={"max_tokens": held.cap})
        if held is not None and open_ended:
            call = replace(call, request=replace(call.request, budget_usd=held.usd))
        cost: float | None = None
        try:
            attempted = await self.inner(replace(call, sent=sent))
            cost = reply_cost(preset, attempted.reply)
        except AttemptFailed as failed:
            if failed.spent is not None:  # a run that failed after it had been paying (an agent's)
                cost = failed.cost_usd = reply_cost(preset, failed.spent)
            raise
        finally:
            if self.budget is not None and held is not None:
                self.budget.release(held, cost)
        lowered = held is not None and held.lowered
        attempted = replace(attempted, cost_usd=cost, max_tokens=sent.max_tokens, capped_by_budget=lowered)
        if lowered and attempted.reply.truncated:
            budget = self.budget
            assert budget is not None
            raise CutByBudget(attempted, lambda: budget.cut_off(
                preset, call.phase, sent.max_tokens or 0, default_cap(preset, request_tokens(preset, call.request))))
        return attempted

    async def _reserve(self, call: Call) -> Reservation | None:
        """The budget's reservation for the next attempt (None without a budget); its cap is the
        max_tokens the attempt is sent with."""
        if self.budget is None:
            return None
        preset = call.tried
        if backend_class(preset).capped_by_output:
            counted_in = request_tokens(preset, call.request)
            claim = self.budget.reserve(preset, counted_in, default_cap(preset, counted_in), call.phase)
        else:
            claim = self.budget.reserve_open(preset, call.phase)
        try:
            await asyncio.sleep(0)  # calls started together (a panel) all claim before any grows
        except BaseException:
            self.budget.release(claim, None)
            raise
        return self.budget.grow(claim)
