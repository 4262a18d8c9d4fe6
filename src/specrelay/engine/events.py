"""What a run tells whoever is watching it: one frozen dataclass per event, and the sink that hears them.

The engine emits these; faces render them (``cli/progress.py``) or write them down (``to_json`` gives
one JSON-ready dict, with the event's name under ``"event"``, for a line of ``events.jsonl``). An
event never changes what the run does: a sink that fails must not fail the task, so sinks catch what
their own output may raise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class _Event:
    """What every event has: its name (``event``, the same string the JSON progress has always used)."""

    event: ClassVar[str] = ""

    def fields(self) -> dict[str, Any]:
        """The event's fields by name (lists for tuples, as JSON has them)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_json(self) -> dict[str, Any]:
        """The event as one JSON-serialisable dict: ``{"event": name, **fields}``."""
        return {"event": self.event, **self.fields()}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class RunStarted(_Event):
    """A run of the task begins (its first, or a resume), with what the task's calls had already used and
    cost: where a running total starts. ``cost_usd`` is None when no call of it was priced."""

    event: ClassVar[str] = "run_started"
    tokens: int
    cost_usd: float | None
    unknown_cost_calls: int
    simulated: bool


@dataclass(frozen=True)
class StepStarted(_Event):
    """A workflow step begins (``kind`` is the step's kind, ``presets`` who runs it)."""

    event: ClassVar[str] = "step_started"
    title: str
    kind: str
    presets: tuple[str, ...]
    round: int


@dataclass(frozen=True)
class StepFinished(_Event):
    """A workflow step ended; ``detail`` is what the step recorded (a verdict, verification results)."""

    event: ClassVar[str] = "step_finished"
    title: str
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Note(_Event):
    """Something the user should know that is not a step or a call (a loop back, a kept leftover)."""

    event: ClassVar[str] = "note"
    text: str


@dataclass(frozen=True)
class TaskFinished(_Event):
    """The task reached its end: done or needs_attention."""

    event: ClassVar[str] = "task_finished"
    status: str
    message: str


@dataclass(frozen=True)
class TaskStopped(_Event):
    """The run stopped before the end (paused or failed); the task can be resumed."""

    event: ClassVar[str] = "task_stopped"
    status: str
    message: str


@dataclass(frozen=True)
class CallStarted(_Event):
    """A model call begins."""

    event: ClassVar[str] = "call_started"
    step: str
    preset: str


@dataclass(frozen=True)
class CallDelta(_Event):
    """A streamed chunk of the call in flight arrived (its size only)."""

    event: ClassVar[str] = "call_delta"
    chars: int


@dataclass(frozen=True)
class CallFailed(_Event):
    """A model call ended in an error (after retries and fallbacks)."""

    event: ClassVar[str] = "call_failed"
    step: str
    preset: str
    error: str


@dataclass(frozen=True)
class CallFinished(_Event):
    """A model call answered; ``reused`` when the answer came from the ledger (paid by an earlier run)."""

    event: ClassVar[str] = "call_finished"
    step: str
    preset: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    latency_s: float
    simulated: bool
    reused: bool
    #: The tokens (and so the cost) are an estimate: the server reported no usage, or a scripted model.
    estimated: bool = False


@dataclass(frozen=True)
class ReviewerStarted(_Event):
    """Reviewer ``index`` of ``of`` (a panel, or a lone reviewer) begins."""

    event: ClassVar[str] = "reviewer_started"
    preset: str
    index: int
    of: int


@dataclass(frozen=True)
class ReviewerFailed(_Event):
    """A reviewer gave no usable review."""

    event: ClassVar[str] = "reviewer_failed"
    preset: str
    index: int
    of: int
    error: str


@dataclass(frozen=True)
class ReviewerFinished(_Event):
    """A reviewer answered with its own verdict and findings (before the panel's verdict is decided)."""

    event: ClassVar[str] = "reviewer_finished"
    preset: str
    index: int
    model: str
    verdict: str
    findings: int
    cost_usd: float | None
    simulated: bool
    latency_s: float
    #: The tokens (and so the cost) are an estimate: the server reported no usage, or a scripted model.
    estimated: bool = False


Event = (RunStarted | StepStarted | StepFinished | Note | TaskFinished | TaskStopped | CallStarted | CallDelta
         | CallFailed | CallFinished | ReviewerStarted | ReviewerFailed | ReviewerFinished)
"""Every event the engine emits."""

EventSink = Callable[[Event], None]
"""Where events go: called on the engine's thread, in order; must not block or raise."""


def quiet(event: Event) -> None:
    """The sink of nobody listening."""


def tee(*sinks: EventSink) -> EventSink:
    """One sink that hands each event to every one of ``sinks``, in order."""
    def both(event: Event) -> None:
        for sink in sinks:
            sink(event)
    return both
