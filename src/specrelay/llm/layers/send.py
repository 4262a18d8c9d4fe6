"""The bottom of the layers: one attempt handed to the preset's registered backend, timed.

A reply that came without usage (a server that reports none) is given the estimate of its text here,
marked estimated, so that every layer above prices, budgets and records the same figure: unknown usage
is never recorded as zero tokens.
"""

from __future__ import annotations

import time
from dataclasses import replace

from specrelay.errors import PresetError
from specrelay.llm.backend import AttemptFailed, Backend, Reply, RunContext, backend_class, estimated_usage
from specrelay.llm.layers.base import Attempted, Call, Run
from specrelay.llm.pricing import Usage


class Send:
    """Sends a call to its backend (one instance of each backend class per run) and times it."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.backends: dict[type[Backend], Backend] = {}

    def backend(self, call: Call) -> Backend:
        cls = backend_class(call.tried)
        if cls not in self.backends:
            self.backends[cls] = cls(RunContext(self.run.run_id, self.run.ledger, self.run.models))
        backend = self.backends[cls]
        if call.request.tools and not backend.calls_tools:
            preset = call.tried
            raise PresetError(f"preset '{preset.name}' ({preset.provider}) cannot call tools, which this step "
                              "needs; give the step a preset whose backend calls tools")
        return backend

    async def __call__(self, call: Call) -> Attempted:
        backend = self.backend(call)
        backend.prepare(call.as_sent)  # imports and client building are not the call's latency
        started, t0 = time.time(), time.perf_counter()
        try:
            reply = await backend.complete(call.as_sent, call.request, call.on_delta)
        except AttemptFailed as exc:
            exc.latency_s = time.perf_counter() - t0
            raise
        latency = time.perf_counter() - t0
        if reply.usage is None:
            reply = replace(reply, usage=self._estimate(call, reply), estimated=True)
        return Attempted(reply, started, latency)

    @staticmethod
    def _estimate(call: Call, reply: Reply) -> Usage:
        """The usage of a reply that came without one, from its text, its output never above the cap it
        was sent (the estimate of a reply's text can exceed what a tokenizer counted). A reply cut off
        is not counted at the cap: a server stops at the end of its own context with the same finish
        reason, well before the cap (a 27-token reply at a cap of 300)."""
        usage = estimated_usage(call.request, reply.text)
        cap = call.as_sent.max_tokens
        if cap is not None and usage.output_tokens > cap:
            usage = replace(usage, output_tokens=cap)
        return usage
