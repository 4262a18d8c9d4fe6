"""The cross-cutting behaviour around a backend, one wrapper each, composed in one place (:func:`compose`).

From the outside in::

    Replay     a call completed under its key in this run comes from the ledger
    Fallback   the named preset, then its fallbacks; one ProviderError when all fail
    Window     a prompt too large for the preset's context window is refused, before anything is sent
    Retry      backoff with jitter, honouring Retry-After, on retryable failures
    Record     one ledger row per attempt sent, key values redacted
    Budget     reserve at a cap the budget can pay for, price, release; a cut reply stops the run
    Limits     the endpoint's max_concurrency, shared by the whole process
    Send       the preset's registered backend, timed

Each layer takes the next one in and a :class:`~specrelay.llm.layers.base.Call`; a new concern is one
more wrapper here, not another branch in a client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from specrelay.llm.layers.base import Call, CallHandler, CallResult, Run
from specrelay.llm.layers.budget import Budget, BudgetCheck
from specrelay.llm.layers.fallback import Fallback
from specrelay.llm.layers.limits import Limits
from specrelay.llm.layers.record import Record
from specrelay.llm.layers.replay import Replay
from specrelay.llm.layers.retry import Retry
from specrelay.llm.layers.send import Send
from specrelay.llm.layers.window import Window

__all__ = ["Call", "CallHandler", "CallResult", "Run", "compose"]


def compose(run: Run, *, budget: BudgetCheck | None,
            sleep: Callable[[float], Awaitable[None]]) -> CallHandler:
    """The layers of one client, from the backend out."""
    attempt = Budget(Limits(Send(run), run), budget)
    return Replay(Fallback(Window(Retry(Record(attempt, run), run.config.retry, sleep)), run), run)
