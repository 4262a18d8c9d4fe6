"""The retry layer: a failed attempt worth retrying (rate limit, server error, timeout, connection)
is tried again on the same preset, after an exponential backoff with jitter that honours Retry-After;
when the attempts run out, :class:`PresetExhausted` tells the fallback layer to try the next preset."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import replace

from specrelay.config import Retry as RetrySettings
from specrelay.llm.backend import AttemptFailed
from specrelay.llm.layers.base import Call, CallHandler, CallResult


class PresetExhausted(Exception):
    """Every attempt on one preset failed; ``failure`` is the last."""

    def __init__(self, failure: AttemptFailed, attempts: int) -> None:
        status = f"HTTP {failure.status} " if failure.status else ""
        super().__init__(f"{status}{failure.kind}: {failure} (after {attempts} attempt{'s' * (attempts > 1)})")
        self.failure = failure


class Retry:
    """Tries a preset up to ``settings.attempts`` times."""

    def __init__(self, inner: CallHandler, settings: RetrySettings,
                 sleep: Callable[[float], Awaitable[None]]) -> None:
        self.inner = inner
        self.settings = settings
        self.sleep = sleep

    async def __call__(self, call: Call) -> CallResult:
        attempts = self.settings.attempts
        failure: AttemptFailed | None = None
        for attempt in range(attempts):
            try:
                return await self.inner(replace(call, attempt=attempt + 1))
            except AttemptFailed as exc:
                failure = exc
            if not failure.retryable or attempt == attempts - 1:
                break
            await self.sleep(self.backoff(attempt, failure.retry_after))
        assert failure is not None
        raise PresetExhausted(failure, attempt + 1)

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 2``."""
        s = self.settings
        delay = min(s.max_backoff_s, s.backoff_s * 2.0 ** attempt) * random.uniform(0.5, 1.0)
        if retry_after is not None:
            # Never sooner than asked; a little later at random, so that tasks told the same wait
            # (in this process or others) do not all come back as one burst.
            delay = max(delay, min(retry_after, 600.0) * random.uniform(1.0, 1.25))
        return delay
