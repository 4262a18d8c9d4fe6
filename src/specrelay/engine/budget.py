"""Budgets that are spent, not reserved away.

The rule, before each call: its counted input plus its output cap, at the preset's price, must fit in
what is left (the limit, less what was spent, less what calls in flight have reserved). When the
preset's own cap (``max_tokens``) does not fit, the call's cap is lowered to what the rest of the
budget can pay for, down to a floor the phase needs (a review's JSON or a plan cannot be written in
a few tokens); only when even the floor does not fit does the run stop, resumably. A call never
produces more than its cap, so it never costs more than it reserved. Calls started together (a review
panel) never overshoot together either, and share what is left: each first claims its floor, then
grows to an even share of the rest, and holds its reservation until it ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from specrelay.config import Preset
from specrelay.errors import BudgetExceeded
from specrelay.ledger import Ledger
from specrelay.llm import Reservation
from specrelay.llm.layers.budget import output_floor
from specrelay.llm.pricing import Usage, cost_of


def _amount(usd: float) -> str:
    """A budget as the user wrote it: ``5``, ``2.5``, ``0.000001`` (never ``1e-06``)."""
    return f"{usd:.6f}".rstrip("0").rstrip(".") or "0"


#: The least an agent run is started with under a budget (one whose model has no known price too):
#: below it, an agent told what it may spend could not do a turn.
MIN_AGENT_USD = 0.01


class Budget:
    """A spending limit for one run: reserves each call's cost at its (possibly lowered) output cap.

    ``spent_usd`` is what was spent before this run; calls settled through :meth:`release` add to it.
    ``stopped`` opens the message when a call does not fit ("task T paused"); ``more`` says how to go
    on with a larger limit, given a suggested amount as ``{usd}``.
    """

    def __init__(self, limit_usd: float, *, spent_usd: float = 0.0, stopped: str = "stopped",
                 more: str = "pass a larger --budget, e.g. --budget {usd}") -> None:
        self.limit = limit_usd
        self.spent = spent_usd
        self.stopped = stopped
        self.more = more
        #: Reservations of calls in flight (a review panel calls several presets at once).
        self.in_flight = 0.0
        #: Claims made and not yet grown (see :meth:`grow`).
        self.growing = 0

    @property
    def left(self) -> float:
        return self.limit - self.spent - self.in_flight

    def reserve(self, preset: Preset, input_tokens: int, max_output_tokens: int, phase: str) -> Reservation:
        """Claim the next call's floor (the phase's, or the whole cap when that is smaller); raises
        BudgetExceeded when even the floor does not fit. :meth:`grow` then raises the claim to the
        largest cap up to the preset's that its share of what is left pays for."""
        full = cost_of(preset, Usage(input_tokens=input_tokens, output_tokens=max_output_tokens))
        if full is None:
            return Reservation(max_output_tokens, 0.0)  # no price known: nothing to check (shown as unknown)
        floor = min(output_floor(preset, phase), max_output_tokens)
        at_floor = cost_of(preset, Usage(input_tokens=input_tokens, output_tokens=floor)) or 0.0
        if at_floor > self.left:
            raise self._exceeded(preset, phase, input_tokens, floor, at_floor, full)
        self.in_flight += at_floor
        self.growing += 1
        return Reservation(floor, at_floor, lowered=floor < max_output_tokens,
                           growth=_Growth(preset, input_tokens, max_output_tokens))

    def reserve_open(self, preset: Preset, phase: str) -> Reservation:
        """Claim for a call no output cap bounds (an agent run of many turns, whose cost is known only
        once it ends): refused when what is left would not pay for the phase's floor of output tokens
        (when the model's price is known), nor ``MIN_AGENT_USD``; the floor is held at once, and
        :meth:`grow` makes it a share of what is left, the most the call is told it may spend (an agent
        that cannot be told may spend more, and then the next call is refused)."""
        at_floor = max(cost_of(preset, Usage(output_tokens=output_floor(preset, phase))) or 0.0, MIN_AGENT_USD)
        if self.left < at_floor:
            raise BudgetExceeded(
                f"{self.stopped}: ${max(self.left, 0.0):.4f} is left of its ${_amount(self.limit)} budget "
                f"(${self.spent:.4f} spent{self._reserved()}), too little to start the next call ({phase} on "
                f"{preset.name}, an agent run whose cost is known only once it ends). To go on: "
                f"{self.more.format(usd=f'{self._suggest(self.spent + self.in_flight):.2f}')}",
                spent=self.spent, limit=self.limit)
        self.in_flight += at_floor  # held at once, as a capped call's floor is: agents started together share
        self.growing += 1
        return Reservation(0, at_floor, growth=_Open())

    def _reserved(self) -> str:
        return f", ${self.in_flight:.4f} reserved by calls in flight" if self.in_flight > 0 else ""

    def _suggest(self, needed: float) -> float:
        """A larger budget to suggest: twice this one, or more than ``needed`` when that is more."""
        return math.ceil(max(self.limit * 2, needed) * 100) / 100

    def grow(self, claim: Reservation) -> Reservation:
        """Raise a claim to the largest cap its share of what is left pays for: what is left is split
        evenly among the claims still to grow, so that calls started together (a review panel) each get
        their part instead of the first taking it all."""
        g = claim.growth
        if g is None:
            return claim
        self.growing -= 1
        share = claim.usd + max(self.left, 0.0) / (self.growing + 1)
        if isinstance(g, _Open):
            self.in_flight += share - claim.usd
            return Reservation(claim.cap, share)
        cap = _largest_cap(g.preset, g.input_tokens, claim.cap, g.max_output_tokens, share)
        usd = cost_of(g.preset, Usage(input_tokens=g.input_tokens, output_tokens=cap)) or 0.0
        self.in_flight += usd - claim.usd
        return Reservation(cap, usd, lowered=cap < g.max_output_tokens)

    def release(self, reservation: Reservation, cost_usd: float | None) -> None:
        """The call ended: free its reservation and count what it really cost (None: nothing known)."""
        if reservation.growth is not None:
            self.growing -= 1  # ended (cut off) before it grew
        self.in_flight = max(0.0, self.in_flight - reservation.usd)
        if cost_usd is not None:
            self.spent += cost_usd

    def cut_off(self, preset: Preset, phase: str, cap: int, wanted: int) -> BudgetExceeded:
        """The stop of a call whose reply reached the cap the budget lowered it to: cut work is not
        built on, so the run stops, to go on with a budget that lets the call write in full."""
        suggest = math.ceil(max(self.limit * 2, self.limit + (self.limit - self.left)) * 100) / 100
        return BudgetExceeded(
            f"{self.stopped}: the {phase} reply of {preset.name} was cut off at {cap:,} output tokens, the most "
            f"the ${self.limit:.4g} budget could pay for (the preset allows {wanted:,}), so it was not used "
            f"(${max(self.left, 0.0):.4f} is left). To go on: {self.more.format(usd=f'{suggest:.2f}')}",
            spent=self.spent, limit=self.limit)

    def _exceeded(self, preset: Preset, phase: str, input_tokens: int, floor: int, at_floor: float,
                  full: float) -> BudgetExceeded:
        suggest = self._suggest(self.spent + self.in_flight + full)
        return BudgetExceeded(
            f"{self.stopped}: ${max(self.left, 0.0):.4f} is left of its ${_amount(self.limit)} budget "
            f"(${self.spent:.4f} spent{self._reserved()}), and the next call ({phase} on {preset.name}, about "
            f"{input_tokens:,} tokens in) needs ${at_floor:.4f} even at its floor of {floor:,} output tokens "
            f"(min_output_tokens). To go on: {self.more.format(usd=f'{suggest:.2f}')}",
            spent=self.spent, limit=self.limit)


class TaskBudget(Budget):
    """A task's budget: what earlier runs of the task spent counts, and the way on is ``resume --budget``."""

    def __init__(self, ledger: Ledger, task_id: str, limit_usd: float) -> None:
        super().__init__(limit_usd, spent_usd=ledger.spent(task_id), stopped=f"task {task_id} paused",
                         more=f"specrelay resume {task_id} --budget {{usd}}")


@dataclass(frozen=True)
class _Open:
    """The growth of a claim no output cap bounds: it grows to a share of what is left."""


@dataclass(frozen=True)
class _Growth:
    """What a claim needs to grow: the call's preset, counted input and the preset's own cap."""

    preset: Preset
    input_tokens: int
    max_output_tokens: int


def _largest_cap(preset: Preset, input_tokens: int, low: int, high: int, left: float) -> int:
    """The largest output cap in [low, high] whose cost fits in ``left`` (cost grows with the cap;
    ``low`` is known to fit). A bisection, since tiered prices make the cost piecewise."""
    while low < high:
        mid = (low + high + 1) // 2
        cost = cost_of(preset, Usage(input_tokens=input_tokens, output_tokens=mid)) or 0.0
        if cost <= left:
            low = mid
        else:
            high = mid - 1
    return low
