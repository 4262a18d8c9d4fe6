"""What the ledger hands back: frozen rows with typed fields, never a ``sqlite3.Row`` or a loose dict.

Each row is built from a SELECT by its ``from_sql`` classmethod, which names the columns it reads,
so a schema change shows up here and not as a ``KeyError`` in a caller.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeVar

from specrelay.errors import FailureKind, UserError
from specrelay.ledger.status import StepStatus, TaskStatus

_S = TypeVar("_S", TaskStatus, StepStatus)


def _status(kind: type[_S], value: str, what: str) -> _S:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(kind)
        raise UserError(f"the ledger records {what} with status '{value}', which this specrelay does not know "
                        f"(expected one of {known}); was it written by a newer version?") from None


@dataclass(frozen=True)
class TaskRow:
    """One row of ``tasks``: what was asked, where it runs, and how far it got."""

    id: str
    title: str
    request: str
    status: TaskStatus
    workflow: str
    base_ref: str | None
    base_sha: str
    base_branch: str | None
    branch: str
    worktree: str
    budget_usd: float | None
    rounds: int
    current_step: str | None
    message: str | None
    created_at: float
    updated_at: float
    #: The runner's loop state as JSON (attempt, fix, gen, verdict, extra_rounds), None before the first step.
    state: str | None
    #: Whether the task's calls keep their prompts (an evaluation's tasks do; see :attr:`CallRecord.prompt`).
    record_prompts: bool = False

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> TaskRow:
        return cls(id=row["id"], title=row["title"], request=row["request"],
                   status=_status(TaskStatus, row["status"], f"task {row['id']}"), workflow=row["workflow"],
                   base_ref=row["base_ref"], base_sha=row["base_sha"], base_branch=row["base_branch"],
                   branch=row["branch"], worktree=row["worktree"], budget_usd=row["budget_usd"],
                   rounds=row["rounds"], current_step=row["current_step"], message=row["message"],
                   created_at=row["created_at"], updated_at=row["updated_at"], state=row["state"],
                   record_prompts=bool(row["record_prompts"]))


@dataclass(frozen=True)
class StepRow:
    """One row of ``steps``: a step of a task's workflow and where it stands."""

    task_id: str
    idx: int
    title: str
    kind: str
    presets: tuple[str, ...]
    status: StepStatus
    round: int
    started_at: float | None
    finished_at: float | None
    #: What the step recorded when it finished, as JSON (a verdict and findings, verification results).
    detail: str | None
    #: Why the step failed, while its status is failed.
    error: str | None = None

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> StepRow:
        return cls(task_id=row["task_id"], idx=row["idx"], title=row["title"], kind=row["kind"],
                   presets=tuple(p for p in row["presets"].split(",") if p),
                   status=_status(StepStatus, row["status"], f"step {row['idx']} of task {row['task_id']}"),
                   round=row["round"], started_at=row["started_at"], finished_at=row["finished_at"],
                   detail=row["detail"], error=row["error"])

    def detail_data(self) -> dict[str, Any] | None:
        """The recorded detail, parsed; None when the step recorded none."""
        return dict(json.loads(self.detail)) if self.detail else None


@dataclass(frozen=True)
class NewStep:
    """A step as a new task records it."""

    title: str
    kind: str
    presets: tuple[str, ...]
    status: StepStatus = StepStatus.PENDING


@dataclass
class CallRecord:
    """One model call attempt, as recorded."""

    run_id: str
    phase: str
    preset: str
    provider: str
    model: str
    started_at: float
    latency_s: float
    outcome: Literal["ok"] | FailureKind
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None
    error: str | None = None
    estimated: bool = False
    simulated: bool = False
    task_id: str | None = None
    step: str | None = None
    context: dict[str, int] = field(default_factory=dict)
    #: For task calls: a key naming the call's place in the task, and the reply, so that a
    #: resumed task reuses a completed call instead of paying for (and recording) it twice.
    call_key: str | None = None
    reply: str | None = None
    #: The output cap the call was sent with (None: the provider's default); True when a budget lowered it.
    max_tokens: int | None = None
    capped_by_budget: bool = False
    #: True when the reply stopped at the output cap, not because the model was done.
    truncated: bool = False
    #: Where cost_usd comes from: ``priced`` (specrelay priced the tokens), ``agent`` (an external agent's
    #: own figure), ``agent-estimate`` (an agent's own estimate).
    cost_source: str = "priced"
    #: An external agent's account of its run (turns, tools called, writes refused), as JSON.
    agent_json: str | None = None
    #: The tools the reply called, as JSON (``[{"id", "name", "arguments"}]``); None: none.
    tool_calls_json: str | None = None
    #: The fingerprint of a tool loop's turn (its messages and tools): replayed only while it is the same.
    request_digest: str | None = None
    #: The request's messages, zlib-compressed JSON (:func:`pack_prompt`), for a task that keeps them.
    prompt: bytes | None = None


def pack_prompt(messages: list[dict[str, str]]) -> bytes:
    """A prompt as the ledger keeps it: its messages (``role``, ``content``) as zlib-compressed JSON."""
    import zlib

    return zlib.compress(json.dumps(messages, ensure_ascii=False).encode("utf-8"))


def unpack_prompt(data: bytes) -> list[dict[str, str]]:
    """The messages :func:`pack_prompt` packed."""
    import zlib

    return list(json.loads(zlib.decompress(data).decode("utf-8")))


@dataclass(frozen=True)
class CallRow:
    """One row of ``calls``: a model call attempt as it was recorded."""

    id: int
    run_id: str
    task_id: str | None
    step: str | None
    phase: str
    preset: str
    provider: str
    model: str
    started_at: float
    latency_s: float
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float | None
    outcome: str
    error: str | None
    estimated: bool
    simulated: bool
    context_json: str | None
    call_key: str | None
    reply: str | None
    max_tokens: int | None
    capped_by_budget: bool
    truncated: bool
    cost_source: str = "priced"
    agent_json: str | None = None
    tool_calls_json: str | None = None
    request_digest: str | None = None

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> CallRow:
        return cls(id=row["id"], run_id=row["run_id"], task_id=row["task_id"], step=row["step"],
                   phase=row["phase"], preset=row["preset"], provider=row["provider"], model=row["model"],
                   started_at=row["started_at"], latency_s=row["latency_s"], input_tokens=row["input_tokens"],
                   output_tokens=row["output_tokens"], cache_read_tokens=row["cache_read_tokens"],
                   cache_write_tokens=row["cache_write_tokens"], cost_usd=row["cost_usd"], outcome=row["outcome"],
                   error=row["error"], estimated=bool(row["estimated"]), simulated=bool(row["simulated"]),
                   context_json=row["context_json"], call_key=row["call_key"], reply=row["reply"],
                   max_tokens=row["max_tokens"], capped_by_budget=bool(row["capped_by_budget"]),
                   truncated=bool(row["truncated"]), cost_source=row["cost_source"],
                   agent_json=row["agent_json"],
                   tool_calls_json=row["tool_calls_json"],
                   request_digest=row["request_digest"])

    def context(self) -> dict[str, int]:
        """How many characters of each input the call was given (spec, diff, ...)."""
        return dict(json.loads(self.context_json)) if self.context_json else {}


@dataclass(frozen=True)
class Totals:
    """Sums over a group of calls (a task, phase, preset or model, or all of them), as ``cost`` shows them.

    ``calls`` counts every attempt; ``ok_calls`` those that answered, ``failed_calls`` the rest.
    """

    key: str | None
    calls: int
    ok_calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float | None
    unknown_cost_calls: int
    simulated: bool
    estimated: bool
    latency_s: float | None
    failed_calls: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "failed_calls", self.calls - self.ok_calls)

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> Totals:
        latency = row["latency_s"]
        return cls(key=row["key"], calls=int(row["calls"] or 0), ok_calls=int(row["ok_calls"] or 0),
                   input_tokens=row["input_tokens"] or 0, output_tokens=row["output_tokens"] or 0,
                   cache_read_tokens=row["cache_read_tokens"] or 0, cache_write_tokens=row["cache_write_tokens"] or 0,
                   cost_usd=row["cost_usd"], unknown_cost_calls=int(row["unknown_cost_calls"] or 0),
                   simulated=bool(row["simulated"]), estimated=bool(row["estimated"]),
                   latency_s=None if latency is None else round(latency, 3))

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TaskUsage:
    """What one task's calls used and cost; ``cost_usd`` is 0.0 before any call, None when a price is unknown."""

    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    simulated: bool
    calls: int
    ok_calls: int
    unknown_cost_calls: int
    #: True when some call's tokens are an estimate (a scripted model, a server that reported none).
    estimated: bool = False

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> TaskUsage:
        calls = int(row["calls"])
        return cls(input_tokens=int(row["input_tokens"]), output_tokens=int(row["output_tokens"]),
                   cost_usd=0.0 if calls == 0 else row["cost_usd"],  # nothing spent yet is a known zero
                   simulated=bool(row["simulated"]), calls=calls, ok_calls=int(row["ok_calls"]),
                   unknown_cost_calls=int(row["unknown_cost_calls"]), estimated=bool(row["estimated"]))

    @property
    def failed_calls(self) -> int:
        return self.calls - self.ok_calls


@dataclass(frozen=True)
class CallUsage:
    """One call's tokens and outcome: enough to price the same usage under another model."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float | None
    outcome: str

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> CallUsage:
        return cls(input_tokens=row["input_tokens"], output_tokens=row["output_tokens"],
                   cache_read_tokens=row["cache_read_tokens"], cache_write_tokens=row["cache_write_tokens"],
                   cost_usd=row["cost_usd"], outcome=row["outcome"])
