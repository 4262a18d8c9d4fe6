"""The replay layer: a call already completed under its key in this run is taken from the ledger
instead of being made again (how a resumed task avoids paying twice). A turn of a tool loop (a request
with tools) is reused only while its conversation is the same: its digest must match the one recorded."""

from __future__ import annotations

import json

from specrelay.ledger import CallRow
from specrelay.llm.backend import AgentReport, CostSource
from specrelay.llm.layers.base import Call, CallHandler, CallResult, Run, tool_calls_of
from specrelay.llm.pricing import Usage


class Replay:
    """Answers a keyed call from the ledger when the run already completed it."""

    def __init__(self, inner: CallHandler, run: Run) -> None:
        self.inner = inner
        self.run = run

    async def __call__(self, call: Call) -> CallResult:
        if call.key is not None:
            digest = call.request.fingerprint if call.request.tools else None
            done = self.run.ledger.completed_call(self.run.run_id, call.key, digest)
            if done is not None:
                return from_row(done)
        return await self.inner(call)


def from_row(row: CallRow) -> CallResult:
    """The result of a call recorded in the ledger, marked reused (it was paid for once)."""
    usage = Usage(row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens)
    return CallResult(text=row.reply or "", usage=usage, cost_usd=row.cost_usd, latency_s=row.latency_s,
                      preset=row.preset, provider=row.provider, model=row.model, estimated=row.estimated,
                      simulated=row.simulated, attempts=0, reused=True, max_tokens=row.max_tokens,
                      capped_by_budget=row.capped_by_budget, truncated=row.truncated,
                      tool_calls=tool_calls_of(row.tool_calls_json), cost_source=_source(row.cost_source),
                      agent=_agent(row.agent_json))


def _source(value: str) -> CostSource:
    return value if value in ("agent", "agent-estimate") else "priced"  # type: ignore[return-value]


def _agent(data: str | None) -> AgentReport | None:
    """The agent's account of its run, as recorded (None when there is none, or it cannot be read)."""
    if not data:
        return None
    try:
        fields = json.loads(data)
        return AgentReport(turns=fields.get("turns"), tools=tuple(fields.get("tools") or ()),
                           denials=tuple(fields.get("denials") or ()), session=fields.get("session"))
    except (ValueError, TypeError, AttributeError):
        return None
