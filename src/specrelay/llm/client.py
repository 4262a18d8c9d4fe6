"""The client every phase calls: one prompt through one preset, priced and recorded.

Around a backend attempt it adds, in order: a budget reservation (which may lower the attempt's
output cap to what the budget can pay for), the provider's concurrency limit,
retries with exponential backoff and jitter (honouring Retry-After), then the preset's fallbacks,
then a :class:`ProviderError` that names the provider, the status and what to do. Every attempt,
failed or not, becomes one ledger row.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from specrelay import registry
from specrelay.config import Config, Preset, missing_keys_error
from specrelay.errors import BudgetExceeded, FailureKind, ProviderError, StepFailed
from specrelay.ledger import CallRecord, CallRow, Ledger
from specrelay.llm.backend import (
    AttemptFailed,
    Backend,
    OnDelta,
    Reply,
    Request,
    RunContext,
    backend_class,
    estimate_tokens,
)
from specrelay.llm.pricing import Usage, cost_of

T = TypeVar("T", bound=BaseModel)

#: The output cap a budgeted call is sent with when its preset sets no max_tokens (a cap must be sent:
#: a budget's promise rests on the call not writing more than it reserved for).
DEFAULT_MAX_OUTPUT = 8192
#: What to do about a preset whose key is missing, when the call itself finds it (``ask`` says so sooner).
KEY_FIX = "pick a preset you have a key for (`specrelay presets` shows which keys are present)"


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


def budget_input_tokens(preset: Preset, text: str) -> int:
    """The input tokens a budget counts a call at. Scripted usage is the 4-characters-a-token estimate
    itself; a real tokenizer can count more (code and diffs run nearer 3 characters a token), so for
    real providers the estimate is raised by half, that a budgeted call is not undercounted."""
    estimate = estimate_tokens(text)
    return estimate if not backend_class(preset).reports_usage else (estimate * 3 + 1) // 2


@dataclass(frozen=True)
class Reservation:
    """What a budget set aside for one attempt: the output cap it can pay for, and that cost."""

    cap: int
    usd: float
    #: True when the cap is below the preset's own: the budget lowered it.
    lowered: bool = False
    #: Set on a claim that is still to grow (the budget's own bookkeeping).
    growth: Any = None


class BudgetCheck(Protocol):
    """Reserves the next call's cost at an output cap the budget can pay for (lowering the preset's cap
    if need be), or raises BudgetExceeded; the reservation is released, with the call's real cost, when
    the call ends.

    Reserving is two steps: ``reserve`` claims the least the call needs, then, once calls started at the
    same moment (a panel) have claimed theirs, ``grow`` raises the claim to the call's share.
    """

    def reserve(self, preset: Preset, input_tokens: int, max_output_tokens: int, phase: str) -> Reservation: ...

    def grow(self, claim: Reservation) -> Reservation: ...

    def cut_off(self, preset: Preset, phase: str, cap: int, wanted: int) -> BudgetExceeded:
        """The stop of a call whose reply reached the cap the budget lowered it to."""
        ...

    def release(self, reservation: Reservation, cost_usd: float | None) -> None: ...


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
    """Per-provider gates shared by everything in the process, whichever thread or loop calls."""

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


class Client:
    """Calls presets for one run (a task or one standalone command)."""

    def __init__(self, config: Config, ledger: Ledger, *, run_id: str | None = None,
                 task_id: str | None = None, budget: BudgetCheck | None = None,
                 models: dict[str, Any] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.config = config
        self.ledger = ledger
        self.task_id = task_id
        self.run_id = run_id or task_id or f"run-{uuid.uuid4().hex[:12]}"
        self.budget = budget
        self.models = models or {}  # preset name → pydantic-ai Model (tests inject FunctionModel here)
        self.sleep = sleep
        self._backends: dict[type[Backend], Backend] = {}

    # -- public ------------------------------------------------------------------------------

    async def call(self, preset_name: str, system: str, user: str, *, phase: str, step: str | None = None,
                   on_delta: OnDelta | None = None, context: dict[str, int] | None = None,
                   key: str | None = None) -> CallResult:
        """One prompt through ``preset_name`` (then its fallbacks). Raises PresetError or ProviderError.

        With a ``key``, a call already completed under that key in this run is returned from the
        ledger instead of being made again (how a resumed task avoids paying twice).
        """
        if key is not None:
            done = self.ledger.completed_call(self.run_id, key)
            if done is not None:
                return _from_row(done)
        primary = self.config.preset(preset_name)
        self._require_key(primary)
        failures: list[str] = []
        last: _PresetExhausted | None = None
        for preset in self._chain(primary):
            if preset is not primary and preset.key_present is False:
                failures.append(f"{preset.name}: skipped, {' or '.join(preset.key_envs)} is not set")
                continue
            try:
                return await self._with_retries(preset, Request.of(system, user), phase, step, on_delta,
                                                context or {}, key)
            except _PresetExhausted as exc:
                failures.append(f"{preset.name}: {exc}")
                last = exc
        assert last is not None  # the primary is always tried
        raise ProviderError(self._redact(self._failure_message(primary, failures, last.failure)),
                            provider=primary.provider, status=last.failure.status,
                            retry_after=last.failure.retry_after, kind=last.failure.kind)

    async def call_json(self, preset_name: str, system: str, user: str, schema: type[T], *, phase: str,
                        step: str | None = None, context: dict[str, int] | None = None,
                        key: str | None = None, on_delta: OnDelta | None = None) -> CallResult:
        """A call whose answer must be a JSON object valid against ``schema``; one repair request on failure."""
        result = await self.call(preset_name, system, user, phase=phase, step=step, context=context, key=key,
                                 on_delta=on_delta)
        try:
            return _with_value(result, parse_json_reply(result.text, schema))
        except ValueError as exc:
            problem = str(exc)
        repair = (f"{user}\n\n---\nYour previous reply could not be used: {problem}\n"
                  "Answer again with only the JSON object described above, and nothing else.")
        result = await self.call(preset_name, system, repair, phase=phase, step=step, context=context,
                                 key=None if key is None else f"{key}.repair", on_delta=on_delta)
        try:
            return _with_value(result, parse_json_reply(result.text, schema))
        except ValueError as exc:
            raise StepFailed(f"preset {result.preset} did not answer valid JSON, even after a repair "
                             f"request: {exc}") from None

    def call_sync(self, preset_name: str, system: str, user: str, **kwargs: Any) -> CallResult:
        return asyncio.run(self.call(preset_name, system, user, **kwargs))

    # -- internals ---------------------------------------------------------------------------

    def _chain(self, primary: Preset) -> list[Preset]:
        names = [primary.name, *[n for n in primary.fallbacks if n != primary.name]]
        return [self.config.preset(n) for n in dict.fromkeys(names)]

    @staticmethod
    def _require_key(preset: Preset) -> None:
        if preset.key_present is False:
            raise missing_keys_error({preset.name: " or ".join(preset.key_envs)}, KEY_FIX)

    def _backend(self, preset: Preset) -> Backend:
        cls = backend_class(preset)
        if cls not in self._backends:
            self._backends[cls] = cls(RunContext(self.run_id, self.ledger, self.models))
        return self._backends[cls]

    def _limit(self, preset: Preset) -> int:
        key = preset.concurrency_key
        return min(p.max_concurrency for p in self.config.presets.values() if p.concurrency_key == key)

    async def _with_retries(self, preset: Preset, request: Request, phase: str, step: str | None,
                            on_delta: OnDelta | None, context: dict[str, int], key: str | None) -> CallResult:
        retry = self.config.retry
        failure: AttemptFailed | None = None
        for attempt in range(retry.attempts):
            held = await self._reserve(preset, request, phase)
            sent = preset if held is None else preset.model_copy(update={"max_tokens": held.cap})
            cost: float | None = None
            failed: AttemptFailed | None = None
            try:
                reply, latency, started = await self._attempt(sent, request, on_delta)
                cost = None if reply.usage is None else cost_of(preset, reply.usage)
            except AttemptFailed as exc:
                failed = exc
            finally:
                if self.budget is not None and held is not None:
                    self.budget.release(held, cost)  # before any backoff: a waiting retry holds nothing
            if failed is not None:
                failure = failed
                self._record_failure(preset, failed, phase, step, context, key)
                if not failed.retryable or attempt == retry.attempts - 1:
                    break
                await self.sleep(self._backoff(attempt, failed.retry_after))
                continue
            lowered = held is not None and held.lowered
            if lowered and reply.truncated:
                raise self._cut_by_budget(preset, reply, latency, started, phase, step, context, key, cost, sent)
            return self._record_success(preset, reply, latency, started, phase, step, context, attempt + 1, key,
                                        cost=cost, sent=sent, lowered=lowered)
        assert failure is not None
        raise _PresetExhausted(failure, attempt + 1)

    async def _reserve(self, preset: Preset, request: Request, phase: str) -> Reservation | None:
        """The budget's reservation for the next attempt (None without a budget); its cap is the
        max_tokens the attempt is sent with."""
        if self.budget is None:
            return None
        claim = self.budget.reserve(preset, budget_input_tokens(preset, request.text),
                                    preset.max_tokens or DEFAULT_MAX_OUTPUT, phase)
        try:
            await asyncio.sleep(0)  # calls started together (a panel) all claim before any grows
        except BaseException:
            self.budget.release(claim, None)
            raise
        return self.budget.grow(claim)

    async def _attempt(self, preset: Preset, request: Request,
                       on_delta: OnDelta | None) -> tuple[Reply, float, float]:
        backend = self._backend(preset)
        started, t0 = time.time(), time.perf_counter()
        try:
            async with LIMITS.get(preset.concurrency_key, self._limit(preset)):
                started, t0 = time.time(), time.perf_counter()
                reply = await backend.complete(preset, request, on_delta)
        except AttemptFailed as exc:
            exc.latency_s = time.perf_counter() - t0
            raise
        return reply, time.perf_counter() - t0, started

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        retry = self.config.retry
        delay = min(retry.max_backoff_s, retry.backoff_s * (2 ** attempt)) * random.uniform(0.5, 1.0)
        if retry_after is not None:
            # Never sooner than asked; a little later at random, so that tasks told the same wait
            # (in this process or others) do not all come back as one burst.
            delay = max(delay, min(retry_after, 600.0) * random.uniform(1.0, 1.25))
        return float(delay)

    def _record_failure(self, preset: Preset, exc: AttemptFailed, phase: str, step: str | None,
                        context: dict[str, int], key: str | None) -> None:
        self.ledger.record_call(CallRecord(
            run_id=self.run_id, task_id=self.task_id, step=step, phase=phase, preset=preset.name,
            provider=preset.provider, model=exc.model or preset.model, started_at=time.time() - exc.latency_s,
            latency_s=exc.latency_s, outcome=exc.kind,
            error=self._redact(f"{exc.status or ''} {exc}".strip()),
            context=context, call_key=key))

    def _record_success(self, preset: Preset, reply: Reply, latency: float, started: float, phase: str,
                        step: str | None, context: dict[str, int], attempts: int, key: str | None, *,
                        cost: float | None, sent: Preset, lowered: bool) -> CallResult:
        simulated = preset.stand_in and cost is not None  # a stand-in's call priced as a real model
        u = reply.usage or Usage()  # unknown usage is recorded as no tokens, its cost as unknown
        self.ledger.record_call(CallRecord(
            run_id=self.run_id, task_id=self.task_id, step=step, phase=phase, preset=preset.name,
            provider=preset.provider, model=reply.model, started_at=started, latency_s=latency, outcome="ok",
            input_tokens=u.input_tokens, output_tokens=u.output_tokens, cache_read_tokens=u.cache_read_tokens,
            cache_write_tokens=u.cache_write_tokens, cost_usd=cost, estimated=reply.estimated,
            simulated=simulated, context=context, call_key=key, reply=reply.text if key else None,
            max_tokens=sent.max_tokens, capped_by_budget=lowered))
        return CallResult(text=reply.text, usage=u, cost_usd=cost, latency_s=latency, preset=preset.name,
                          provider=preset.provider, model=reply.model, estimated=reply.estimated,
                          simulated=simulated, attempts=attempts, max_tokens=sent.max_tokens,
                          capped_by_budget=lowered)

    def _cut_by_budget(self, preset: Preset, reply: Reply, latency: float, started: float, phase: str,
                       step: str | None, context: dict[str, int], key: str | None, cost: float | None,
                       sent: Preset) -> BudgetExceeded:
        """A reply the budget's lower cap cut short is not work to build on: it is recorded (it was paid
        for) but never reused, and the run stops as a budget stop does, to go on with more."""
        u = reply.usage or Usage()
        self.ledger.record_call(CallRecord(
            run_id=self.run_id, task_id=self.task_id, step=step, phase=phase, preset=preset.name,
            provider=preset.provider, model=reply.model, started_at=started, latency_s=latency,
            outcome=FailureKind.CUT_BY_BUDGET, input_tokens=u.input_tokens, output_tokens=u.output_tokens,
            cache_read_tokens=u.cache_read_tokens, cache_write_tokens=u.cache_write_tokens, cost_usd=cost,
            estimated=reply.estimated, simulated=preset.stand_in and cost is not None,
            context=context, call_key=key,
            error=f"the reply reached its output cap of {sent.max_tokens:,} tokens, lowered to fit the budget",
            max_tokens=sent.max_tokens, capped_by_budget=True))
        assert self.budget is not None
        return self.budget.cut_off(preset, phase, sent.max_tokens or 0, preset.max_tokens or DEFAULT_MAX_OUTPUT)

    def _failure_message(self, primary: Preset, failures: list[str], last: AttemptFailed) -> str:
        where = primary.provider + (f" at {primary.endpoint}" if primary.endpoint else "")
        advice = {
            FailureKind.RATE_LIMIT: "the provider is rate-limiting: lower max_concurrency, wait, then "
                                    "`specrelay resume`",
            FailureKind.SERVER: "the provider is failing; try again later (`specrelay resume` continues a task)",
            FailureKind.TIMEOUT: "the model did not answer in time; raise timeout_s or try again later",
            FailureKind.CONNECTION: "could not connect; check base_url and that the server is running",
            FailureKind.AUTH: f"the key was refused; check {' or '.join(primary.key_envs) or 'the key'}",
            FailureKind.REJECTED: "the request was refused; check the model id and settings of the preset",
        }.get(last.kind, "see the message above")
        return (f"preset {primary.name} ({where}) failed: {'; '.join(failures)}. What to do: {advice}; "
                "or set fallbacks = [...] on the preset.")

    def _redact(self, text: str) -> str:
        """Remove any key value of any preset's env vars, and of every provider's usual one, from
        text bound for the ledger or the user."""
        names = registry.key_envs()
        names.update(env for preset in self.config.presets.values() for env in preset.key_envs)
        for env in sorted(names):
            value = os.environ.get(env)
            if value and len(value) >= 4:
                text = text.replace(value, "***")
        return text


class _PresetExhausted(Exception):
    def __init__(self, failure: AttemptFailed, attempts: int) -> None:
        status = f"HTTP {failure.status} " if failure.status else ""
        super().__init__(f"{status}{failure.kind}: {failure} (after {attempts} attempt{'s' * (attempts > 1)})")
        self.failure = failure


def _from_row(row: CallRow) -> CallResult:
    usage = Usage(row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens)
    return CallResult(text=row.reply or "", usage=usage, cost_usd=row.cost_usd, latency_s=row.latency_s,
                      preset=row.preset, provider=row.provider, model=row.model, estimated=row.estimated,
                      simulated=row.simulated, attempts=0, reused=True, max_tokens=row.max_tokens,
                      capped_by_budget=row.capped_by_budget)


def _with_value(result: CallResult, value: Any) -> CallResult:
    from dataclasses import replace

    return replace(result, value=value)


_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)\n\s*```", re.DOTALL)


def parse_json_reply(text: str, schema: type[T]) -> T:
    """The JSON object in a model's reply (bare, or in a code fence), validated; ValueError says why not."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start:end + 1])
    if not candidates:
        raise ValueError("the reply holds no JSON object")
    error = "the reply holds no JSON object"
    for chunk in candidates:
        try:
            data = json.loads(chunk)
        except json.JSONDecodeError as exc:
            error = f"invalid JSON: {exc}"
            continue
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            error = f"JSON does not match the schema: {loc}: {first['msg']}"
    raise ValueError(error)
