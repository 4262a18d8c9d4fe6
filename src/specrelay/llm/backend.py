"""The seam between specrelay and a model: one method, ``complete``.

A backend answers one attempt. Retries, fallbacks, concurrency limits, pricing and the ledger
are the client's business (``client.py``); a backend only talks to its model and reports a failed
attempt as :class:`AttemptFailed`, classified so the client knows whether to retry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from specrelay.config import Preset
from specrelay.errors import FailureKind
from specrelay.llm.pricing import Usage

OnDelta = Callable[[str], None]


@dataclass(frozen=True)
class Reply:
    """What a model answered in one attempt."""

    text: str
    usage: Usage
    model: str
    #: True when the usage is an estimate (scripted models), not the provider's count.
    estimated: bool = False
    #: True when the model stopped because it reached the call's output cap, not because it was done.
    truncated: bool = False


class AttemptFailed(Exception):
    """One attempt failed, classified by ``kind`` (whether it is worth retrying, what to advise)."""

    def __init__(self, kind: FailureKind, message: str, *, status: int | None = None,
                 retry_after: float | None = None, model: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.model = model
        self.latency_s = 0.0

    @property
    def retryable(self) -> bool:
        return self.kind.retryable


class Backend(Protocol):
    """Anything that can answer one prompt for one preset."""

    async def complete(self, preset: Preset, system: str, user: str, on_delta: OnDelta | None) -> Reply:
        """Answer once, streaming text to ``on_delta`` if given; raise AttemptFailed on failure."""
        ...


def estimate_tokens(text: str) -> int:
    """Estimated token count of ``text``: one token per 4 characters, rounded up.

    The rule used for scripted models' usage, which is then marked estimated in the ledger.
    """
    return (len(text) + 3) // 4
