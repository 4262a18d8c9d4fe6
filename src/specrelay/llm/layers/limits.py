"""The concurrency layer: a provider endpoint's ``max_concurrency``, shared by the whole process.

Calls whose presets share a ``concurrency_key`` share one gate, whose size is the smallest
``max_concurrency`` among those presets. Innermost of the layers: an attempt's time is measured once
it holds its slot, so a wait in line is not counted as the model's latency.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from dataclasses import dataclass, field

from specrelay.llm.layers.base import Attempted, AttemptHandler, Call, Run


class _Gate:
    """A semaphore that holds across event loops: several tasks of one process, each run by its own
    thread and loop, share one provider's ``max_concurrency``. Slots are handed out first come, first
    served; a waiter is woken on its own loop."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self.lock = threading.Lock()
        self.waiters: collections.deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = \
            collections.deque()

    async def __aenter__(self) -> None:
        loop = asyncio.get_running_loop()
        with self.lock:
            if self.in_use < self.limit and not self.waiters:
                self.in_use += 1
                return
            waiter = (loop, loop.create_future())
            self.waiters.append(waiter)
        try:
            await waiter[1]
        except BaseException:
            with self.lock:
                queued = waiter in self.waiters
                if queued:
                    self.waiters.remove(waiter)
            if not queued and waiter[1].done() and not waiter[1].cancelled():
                self._release()  # the slot arrived just as the wait was cut off
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._release()

    def _release(self) -> None:
        with self.lock:
            while self.waiters:
                loop, fut = self.waiters.popleft()
                if not loop.is_closed():
                    loop.call_soon_threadsafe(self._hand_over, fut)
                    return  # the slot passes to the waiter, in_use unchanged
            self.in_use -= 1

    def _hand_over(self, fut: asyncio.Future[None]) -> None:
        if fut.cancelled():
            self._release()
        else:
            fut.set_result(None)


@dataclass
class _Limits:
    """Per-endpoint gates shared by everything in the process, whichever thread or loop calls."""

    gates: dict[str, _Gate] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: str, limit: int) -> _Gate:
        with self.lock:
            gate = self.gates.get(key)
            if gate is None:
                gate = self.gates[key] = _Gate(limit)
            gate.limit = limit
            return gate


LIMITS = _Limits()


class Limits:
    """Holds a slot of the preset's endpoint for the length of the attempt."""

    def __init__(self, inner: AttemptHandler, run: Run) -> None:
        self.inner = inner
        self.run = run

    async def __call__(self, call: Call) -> Attempted:
        preset = call.tried
        key = preset.concurrency_key
        limit = min(p.max_concurrency for p in self.run.config.presets.values() if p.concurrency_key == key)
        async with LIMITS.get(key, limit):
            return await self.inner(call)
