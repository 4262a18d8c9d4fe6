"""What flows through the layers: one :class:`Call`, and what an attempt gave back.

A layer wraps the next one in: it takes a call, may change it (the preset to try, the cap to send,
the attempt's number) and hands it on, and does its part with what comes back or what is raised.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from specrelay.config import Config, Preset
from specrelay.ledger import Ledger
from specrelay.llm.backend import AgentReport, CostSource, OnDelta, Reply, Request, ToolCall
from specrelay.llm.pricing import Usage


@dataclass(frozen=True)
class CallResult:
    """The answer of one call, with what it cost."""

    text: str
    usage: Usage
    cost_usd: float | None
    latency_s: float
    preset: str
    provider: str
    model: str
    estimated: bool
    simulated: bool
    attempts: int
    value: Any = None  # the validated object of a structured call
    #: True when the call was not made but taken from the ledger (a resumed task): already paid for.
    reused: bool = False
    #: The output cap the call was sent with (None: the provider's default), and whether a budget lowered it.
    max_tokens: int | None = None
    capped_by_budget: bool = False
    #: True when the reply stopped at the output cap (``max_tokens``), not because the model was done.
    truncated: bool = False
    #: Where ``cost_usd`` comes from (specrelay's pricing, or an agent's own figure).
    cost_source: CostSource = "priced"
    #: An external agent's account of its run (turns, tools, refused writes); None for other backends.
    agent: AgentReport | None = None
    #: The tools the model called (a turn of a tool loop).
    tool_calls: tuple[ToolCall, ...] = ()


def tool_calls_json(calls: tuple[ToolCall, ...]) -> str | None:
    """Tool calls as the ledger keeps them; None for none."""
    if not calls:
        return None
    import json

    return json.dumps([{"id": c.id, "name": c.name, "arguments": dict(c.arguments)} for c in calls])


def tool_calls_of(text: str | None) -> tuple[ToolCall, ...]:
    """Tool calls as the ledger kept them (:func:`tool_calls_json`)."""
    if not text:
        return ()
    import json

    return tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in json.loads(text))


@dataclass
class Flight:
    """How far one attempt got, noted by the send layer for the record layer above it (which never sees
    the call as the layers between them hand it on): when its request went out, with which output cap.
    Unset: it was never sent (it waited for a ``max_concurrency`` slot, say)."""

    sent_at: float | None = None
    #: ``time.perf_counter()`` when it went out: the start of the attempt's latency.
    clock: float = 0.0
    #: The output cap it was sent with, as the budget layer left it (None: the provider's default).
    max_tokens: int | None = None
    #: The text streamed back so far: a failure after some arrived came mid-answer (the prompt was read,
    #: output written: perhaps billed).
    streamed: list[str] = field(default_factory=list)

    def went_out(self, max_tokens: int | None) -> None:
        """The request is being sent now, with this output cap."""
        self.sent_at, self.clock, self.max_tokens = time.time(), time.perf_counter(), max_tokens

    def noting(self, on_delta: OnDelta | None) -> OnDelta | None:
        """``on_delta``, noting each piece of text as it streams by."""
        if on_delta is None:
            return None
        forward = on_delta

        def noted(piece: str) -> None:
            self.streamed.append(piece)
            forward(piece)
        return noted


@dataclass(frozen=True)
class Call:
    """One call on its way down the layers."""

    preset_name: str
    request: Request
    phase: str
    step: str | None = None
    context: Mapping[str, int] = field(default_factory=dict)
    #: Names the call's place in a task: a call completed under it is replayed, not made again.
    key: str | None = None
    on_delta: OnDelta | None = None
    #: Told (with the failure) when an attempt fails after part of its answer had streamed to ``on_delta``:
    #: that text is void, and a retry or a fallback streams a new answer from its start.
    on_broken: Callable[[str], None] | None = None
    #: The preset being tried (the named one or a fallback); set by the fallback layer.
    preset: Preset | None = None
    #: The preset as sent: its max_tokens is the attempt's output cap; set by the budget layer.
    sent: Preset | None = None
    #: Which attempt on this preset (1 is the first); set by the retry layer.
    attempt: int = 1
    #: Where the attempt has got to; set by the record layer, noted by the send layer.
    flight: Flight | None = None

    @property
    def tried(self) -> Preset:
        """The preset being tried (once the fallback layer has chosen it)."""
        assert self.preset is not None, "the fallback layer sets the preset before the layers below it"
        return self.preset

    @property
    def as_sent(self) -> Preset:
        return self.sent if self.sent is not None else self.tried


@dataclass(frozen=True)
class Attempted:
    """A successful attempt: the reply, when and how long it took, what it cost."""

    reply: Reply
    started: float
    latency_s: float
    cost_usd: float | None = None
    #: The output cap the attempt was sent with (None: the provider's default); set by the budget layer,
    #: which lowers it below the preset's when the budget can pay for no more (``capped_by_budget``).
    max_tokens: int | None = None
    capped_by_budget: bool = False


@dataclass(frozen=True)
class Run:
    """What every layer of one client shares: the run's config, ledger and identity."""

    config: Config
    ledger: Ledger
    run_id: str
    task_id: str | None
    #: Models injected by tests, by preset name.
    models: Mapping[str, Any] = field(default_factory=dict)
    #: Every recorded attempt keeps its prompt (the request's messages): an evaluation's tasks.
    record_prompts: bool = False


CallHandler = Callable[[Call], Awaitable[CallResult]]
AttemptHandler = Callable[[Call], Awaitable[Attempted]]
