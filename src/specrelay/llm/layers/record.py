"""The record layer: every attempt sent, failed or not, becomes one ledger row, with key values redacted.

A successful attempt becomes the call's :class:`CallResult`; a failed one is recorded and raised on
to the retry layer; one cut short by the budget is recorded (it was paid for) and becomes the
budget's stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from dataclasses import asdict, replace
from typing import Literal

from specrelay.config import Config, Preset
from specrelay.errors import FailureKind
from specrelay.ledger import CallRecord, pack_prompt
from specrelay.llm.backend import AttemptFailed, CostSource, Reply, Request, estimated_usage
from specrelay.llm.layers.base import Attempted, AttemptHandler, Call, CallResult, Flight, Run, tool_calls_json
from specrelay.llm.layers.budget import CutByBudget
from specrelay.llm.pricing import Usage


def redact(text: str, config: Config) -> str:
    """Remove any key value of any preset's env vars, and of every backend's usual ones, from text
    bound for the ledger or the user."""
    for env in sorted(config.secret_envs()):
        value = os.environ.get(env)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def cost_source(preset: Preset, reply: Reply, cost_usd: float | None) -> CostSource:
    """Where a recorded cost comes from: the agent's own figure when that is what the budget layer took
    (no ``price`` on the preset), else specrelay's pricing."""
    if cost_usd is not None and preset.price is None and reply.cost_usd is not None:
        return reply.cost_source
    return "priced"


def prompt_of(request: Request, config: Config) -> bytes:
    """The request's messages as the ledger keeps them (:func:`~specrelay.ledger.pack_prompt`), key values
    redacted: each turn's role and text (a tool call's name and arguments included)."""
    return pack_prompt([{"role": m.role, "content": redact(m.text, config)} for m in request.messages])


class Record:
    """Writes one ledger row per attempt (with its prompt, when the run keeps prompts)."""

    def __init__(self, inner: AttemptHandler, run: Run) -> None:
        self.inner = inner
        self.run = run

    def _record(self, rec: CallRecord, call: Call) -> None:
        if self.run.record_prompts:
            rec.prompt = prompt_of(call.request, self.run.config)
        self.run.ledger.record_call(rec)

    async def __call__(self, call: Call) -> CallResult:
        call = replace(call, flight=Flight())
        try:
            attempted = await self.inner(call)
        except AttemptFailed as exc:
            self._failure(call, exc)
            raise
        except CutByBudget as cut:
            self._cut(call, cut)
            raise cut.stop() from None
        except (asyncio.CancelledError, KeyboardInterrupt):
            self._interrupted(call)
            raise
        return self._success(call, attempted)

    def _row(self, call: Call, attempted: Attempted, outcome: Literal["ok"] | FailureKind, *,
             error: str | None = None, reply: str | None = None) -> CallRecord:
        preset, answer = call.tried, attempted.reply
        u = answer.usage or Usage()  # never empty: the send layer estimates a usage the backend did not give
        return CallRecord(
            run_id=self.run.run_id, task_id=self.run.task_id, step=call.step, phase=call.phase,
            preset=preset.name, provider=preset.provider, model=answer.model, started_at=attempted.started,
            latency_s=attempted.latency_s, input_tokens=u.input_tokens, output_tokens=u.output_tokens,
            cache_read_tokens=u.cache_read_tokens, cache_write_tokens=u.cache_write_tokens,
            cost_usd=attempted.cost_usd, estimated=answer.estimated,
            simulated=preset.stand_in and attempted.cost_usd is not None,  # a stand-in priced as a real model
            context=dict(call.context), call_key=call.key, max_tokens=attempted.max_tokens,
            capped_by_budget=attempted.capped_by_budget, truncated=answer.truncated, outcome=outcome, error=error,
            reply=reply, cost_source=cost_source(call.tried, answer, attempted.cost_usd),
            agent_json=None if answer.agent is None else json.dumps(asdict(answer.agent)),
            tool_calls_json=tool_calls_json(answer.tool_calls),
            request_digest=call.request.fingerprint if call.key and call.request.tools else None)

    def _failure(self, call: Call, exc: AttemptFailed) -> None:
        """A failed attempt's row. One that failed mid-answer (text had streamed back: the prompt was read
        and output written, and may be billed) has the tokens estimated from what arrived, and its cost
        unknown: the ledger counts it among the calls of unknown cost, so no total looks complete."""
        preset = call.tried
        flight = call.flight
        partial = "".join(flight.streamed) if flight is not None else ""
        spent = exc.spent
        if spent is not None and spent.usage is not None:  # the backend's own account of what it used
            used, estimated, model = spent.usage, spent.estimated, spent.model or exc.model or preset.model
            source = cost_source(preset, spent, exc.cost_usd)
        else:
            used = estimated_usage(call.request, partial) if partial else Usage()
            estimated, model, source = bool(partial), exc.model or preset.model, "priced"
        self._record(CallRecord(
            run_id=self.run.run_id, task_id=self.run.task_id, step=call.step, phase=call.phase,
            preset=preset.name, provider=preset.provider, model=model,
            started_at=time.time() - exc.latency_s, latency_s=exc.latency_s, outcome=exc.kind,
            error=redact(f"{exc.status or ''} {exc}".strip() + (" (mid-answer)" if partial else ""), self.run.config),
            input_tokens=used.input_tokens, output_tokens=used.output_tokens,
            cache_read_tokens=used.cache_read_tokens, cache_write_tokens=used.cache_write_tokens,
            estimated=estimated, cost_usd=exc.cost_usd, cost_source=source,
            agent_json=None if spent is None or spent.agent is None else json.dumps(asdict(spent.agent)),
            context=dict(call.context), call_key=call.key), call)
        if partial and call.on_broken is not None:
            call.on_broken(redact(str(exc), self.run.config))

    def _interrupted(self, call: Call) -> None:
        """The attempt in flight when the run was stopped: a row all the same, as every attempt sent gets
        (its prompt reached the server, and may be billed: its cost is unknown), with the cap it was sent.

        An attempt stopped before its request went out (waiting for a ``max_concurrency`` slot, say)
        gets none: nothing reached a model, nothing can be billed, and a row would count as a call of
        unknown cost, leaving every total it is in incomplete for a call that never was (as a retry
        stopped while it waits gets no row)."""
        flight = call.flight
        if flight is None or flight.sent_at is None:
            return
        preset = call.tried
        with contextlib.suppress(Exception):  # a row that cannot be written must not hide the interruption
            self._record(CallRecord(
                run_id=self.run.run_id, task_id=self.run.task_id, step=call.step, phase=call.phase,
                preset=preset.name, provider=preset.provider, model=preset.model, started_at=flight.sent_at,
                latency_s=time.perf_counter() - flight.clock, outcome=FailureKind.INTERRUPTED,
                error="interrupted while in flight", context=dict(call.context), call_key=call.key,
                max_tokens=flight.max_tokens), call)

    def _cut(self, call: Call, cut: CutByBudget) -> None:
        cap = cut.attempted.max_tokens or 0
        self._record(self._row(
            call, cut.attempted, FailureKind.CUT_BY_BUDGET,
            error=f"the reply reached its output cap of {cap:,} tokens, lowered to fit the budget"), call)

    def _success(self, call: Call, attempted: Attempted) -> CallResult:
        row = self._row(call, attempted, "ok", reply=attempted.reply.text if call.key else None)
        self._record(row, call)
        return CallResult(text=attempted.reply.text, usage=attempted.reply.usage or Usage(),
                          cost_usd=attempted.cost_usd, latency_s=attempted.latency_s, preset=row.preset,
                          provider=row.provider, model=row.model, estimated=row.estimated,
                          simulated=row.simulated, attempts=call.attempt, max_tokens=row.max_tokens,
                          capped_by_budget=row.capped_by_budget, truncated=row.truncated,
                          cost_source=cost_source(call.tried, attempted.reply, attempted.cost_usd),
                          agent=attempted.reply.agent, tool_calls=attempted.reply.tool_calls)
