"""The client every phase calls: one request through one preset, priced and recorded.

The work is done by the layers around the preset's backend (``llm/layers/``: replay, fallback, retry,
record, budget, limits), composed once per client; the client turns a phase's system and user text
into a :class:`~specrelay.llm.backend.Request`, and a structured call's reply into a validated object
(with one repair request when it is not).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from specrelay.config import Config
from specrelay.errors import InvalidReply
from specrelay.ledger import Ledger
from specrelay.llm.backend import Attachment, OnDelta, Request, estimate_tokens
from specrelay.llm.cutoff import cut_off
from specrelay.llm.layers import Call, CallResult, Run, compose
from specrelay.llm.layers.budget import DEFAULT_MAX_OUTPUT, BudgetCheck, Reservation
from specrelay.text import excerpt

__all__ = ["DEFAULT_MAX_OUTPUT", "BudgetCheck", "CallResult", "Client", "Reservation", "parse_json_reply"]

T = TypeVar("T", bound=BaseModel)

#: The most of a bad reply a JSON repair request quotes back (its beginning and end): enough to see
#: what went wrong, never a whole long reply again.
REPAIR_QUOTE_TOKENS = 1000


class Client:
    """Calls presets for one run (a task or one standalone command)."""

    def __init__(self, config: Config, ledger: Ledger, *, run_id: str | None = None,
                 task_id: str | None = None, budget: BudgetCheck | None = None,
                 models: dict[str, Any] | None = None, attachments: tuple[Attachment, ...] = (),
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, record_prompts: bool = False) -> None:
        self.config = config
        self.ledger = ledger
        self.task_id = task_id
        self.run_id = run_id or task_id or f"run-{uuid.uuid4().hex[:12]}"
        self.budget = budget
        self.models = models or {}  # preset name → pydantic-ai Model (tests inject FunctionModel here)
        #: The run's attachments (a task's, an ask's): shown to every call of a preset that takes images.
        self.attachments = attachments
        run = Run(config, ledger, self.run_id, task_id, self.models, record_prompts)
        self._send = compose(run, budget=budget, sleep=sleep)

    async def call(self, preset_name: str, system: str, user: str, *, phase: str, step: str | None = None,
                   on_delta: OnDelta | None = None, context: dict[str, int] | None = None,
                   key: str | None = None, on_broken: Callable[[str], None] | None = None,
                   cwd: Path | None = None, writable: bool = False, max_turns: int | None = None,
                   guard_tree: bool = False) -> CallResult:
        """One prompt through ``preset_name`` (then its fallbacks). Raises PresetError or ProviderError.

        With a ``key``, a call already completed under that key in this run is returned from the
        ledger instead of being made again (how a resumed task avoids paying twice). ``cwd`` and
        ``writable`` are the working directory of a backend that works in one (an agent), and whether
        it may change files there; ``max_turns`` bounds such a backend's own loop; ``guard_tree``: a
        read-only call in a task's worktree, which such a backend checks it did not change.
        """
        request = Request.of(system, user, cwd=cwd, writable=writable, max_turns=max_turns, guard_tree=guard_tree)
        return await self.send(preset_name, request, phase=phase,
                               step=step,
                               on_delta=on_delta, context=context, key=key, on_broken=on_broken)

    async def send(self, preset_name: str, request: Request, *, phase: str, step: str | None = None,
                   on_delta: OnDelta | None = None, context: dict[str, int] | None = None,
                   key: str | None = None, on_broken: Callable[[str], None] | None = None) -> CallResult:
        """Any :class:`Request` (messages, tools, a schema, a working directory) through ``preset_name``;
        :meth:`call` is the common case of one system and one user text. ``on_broken`` is told when an
        answer streaming to ``on_delta`` broke off mid-way (what was streamed is void; a retry starts anew).
        The run's attachments go with the request when ``preset_name`` takes images (``vision``)."""
        preset = self.config.presets.get(preset_name)
        if self.attachments and not request.attachments and preset is not None and preset.vision:
            request = replace(request, attachments=self.attachments)
            context = {**(context or {}), "attachments": request.attachment_tokens}
        return await self._send(Call(preset_name, request, phase, step, context or {}, key, on_delta,
                                     on_broken))

    async def call_json(self, preset_name: str, system: str, user: str, schema: type[T], *, phase: str,
                        step: str | None = None, context: dict[str, int] | None = None,
                        key: str | None = None, on_delta: OnDelta | None = None,
                        cwd: Path | None = None, max_turns: int | None = None, guard_tree: bool = False) -> CallResult:
        """A call whose answer must be a JSON object valid against ``schema``; one repair request on failure.

        The repair re-sends the prompt with the problem and the bad reply quoted, bounded to
        ``REPAIR_QUOTE_TOKENS``. A reply cut off at its output cap gets no repair (it would be cut
        again at the same cap): it raises :class:`~specrelay.errors.ReplyCutOff` at once.
        """
        result = await self.call(preset_name, system, user, phase=phase, step=step, context=context, key=key,
                                 on_delta=on_delta, cwd=cwd, max_turns=max_turns, guard_tree=guard_tree)
        try:
            return replace(result, value=parse_json_reply(result.text, schema))
        except ValueError as exc:
            problem = str(exc)
        if result.truncated:
            raise cut_off(self.config, result, f"the {phase} reply (JSON)")
        quoted = excerpt(result.text, REPAIR_QUOTE_TOKENS)
        note = (f"\n\n---\nYour previous reply could not be used: {problem}\nIt was:\n\n~~~~\n{quoted}\n~~~~\n\n"
                "Answer again with only the JSON object described above, and nothing else.")
        parts = {**(context or {}), "repair": estimate_tokens(note)}
        result = await self.call(preset_name, system, user + note, phase=phase, step=step, context=parts,
                                 key=None if key is None else f"{key}.repair", on_delta=on_delta, cwd=cwd,
                                 max_turns=max_turns, guard_tree=guard_tree)
        try:
            return replace(result, value=parse_json_reply(result.text, schema))
        except ValueError as exc:
            if result.truncated:
                raise cut_off(self.config, result, f"the {phase} reply (JSON), sent again after a repair "
                                                   "request,") from None
            raise InvalidReply(f"preset {result.preset} did not answer valid JSON, even after a repair "
                               f"request: {exc}", reply=result.text, preset=result.preset) from None

    def call_sync(self, preset_name: str, system: str, user: str, **kwargs: Any) -> CallResult:
        return asyncio.run(self.call(preset_name, system, user, **kwargs))


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
