"""The bottom of the layers: one attempt handed to the preset's registered backend, timed.

A reply that came without usage (a server that reports none) is given the estimate of its text here,
marked estimated, so that every layer above prices, budgets and records the same figure: unknown usage
is never recorded as zero tokens. A usage reported on one side only (output tokens, and 0 input) keeps
that side and is estimated on the other.
"""

from __future__ import annotations

import time
from dataclasses import replace

from specrelay.llm.backend import (
    AttemptFailed,
    Backend,
    Reply,
    RunContext,
    backend_class,
    cannot_call_tools,
    estimated_usage,
)
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
            self.backends[cls] = cls(RunContext(self.run.run_id, self.run.ledger, self.run.models,
                                                    frozenset(self.run.config.secret_envs())))
        backend = self.backends[cls]
        refused = cannot_call_tools(call.tried, "this step") if call.request.tools else None
        if refused is not None:
            raise refused
        return backend

    async def __call__(self, call: Call) -> Attempted:
        backend = self.backend(call)
        backend.prepare(call.as_sent)  # imports and client building are not the call's latency
        on_delta = call.on_delta
        if call.flight is not None:
            call.flight.went_out(call.as_sent.max_tokens)
            on_delta = call.flight.noting(on_delta)
        started, t0 = time.time(), time.perf_counter()
        try:
            reply = await backend.complete(call.as_sent, call.request, on_delta)
        except AttemptFailed as exc:
            exc.latency_s = time.perf_counter() - t0
            raise
        latency = time.perf_counter() - t0
        return Attempted(self._complete_usage(call, reply), started, latency)

    @classmethod
    def _complete_usage(cls, call: Call, reply: Reply) -> Reply:
        """The reply with a usage whole: estimated when it came with none, and on the side it lacks when
        the server reported one side only (a prompt is never 0 tokens; nor is a reply that wrote text),
        keeping what the server did report. Either way the reply's usage is then marked estimated."""
        usage = reply.usage
        if usage is None:
            return replace(reply, usage=cls._estimate(call, reply), estimated=True)
        missing_in = usage.input_tokens <= 0
        missing_out = usage.output_tokens <= 0 and reply.text != ""
        if not (missing_in or missing_out):
            return reply
        guess = cls._estimate(call, reply)
        cached = usage.cache_read_tokens + usage.cache_write_tokens  # part of the input, when reported
        usage = replace(usage, input_tokens=max(guess.input_tokens, cached) if missing_in else usage.input_tokens,
                        output_tokens=guess.output_tokens if missing_out else usage.output_tokens)
        return replace(reply, usage=usage, estimated=True)

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
