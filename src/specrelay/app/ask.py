"""One prompt through one preset, outside any task: checked before anything is paid, then sent."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specrelay.app.workspace import ledger_of
from specrelay.config import Config, load_config, unset_route_message
from specrelay.engine import ask as A
from specrelay.engine.attachments import read_attachments, refuse_text_only
from specrelay.engine.signals import sigterm_as_ctrl_c
from specrelay.errors import UserError
from specrelay.llm.cutoff import cut_off_note


@dataclass(frozen=True)
class AskResult:
    """The answer, and what it cost."""

    text: str
    preset: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cost_usd: float | None
    latency_s: float
    estimated: bool
    simulated: bool
    attempts: int
    #: The most the call could cost (``--budget``, else ``[budget] ask_usd``); None: no limit.
    budget_usd: float | None
    max_tokens: int | None
    capped_by_budget: bool
    #: Seconds from sending to the last chunk, as the caller waited (not in the JSON).
    wall_s: float = 0.0
    #: Set when the answer stopped at its output cap: where it stopped and what to raise (else None).
    cut_off: str | None = None
    #: ``ask --oracle``: the second opinion as ``second_opinion.json`` holds it (``text`` is it as Markdown).
    opinion: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The object ``ask --json`` prints."""
        return {"text": self.text, "preset": self.preset, "provider": self.provider, "model": self.model,
                "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cache_read_tokens": self.cache_read_tokens, "cost_usd": self.cost_usd,
                "latency_s": round(self.latency_s, 3), "estimated": self.estimated, "simulated": self.simulated,
                "attempts": self.attempts, "budget_usd": self.budget_usd, "max_tokens": self.max_tokens,
                "capped_by_budget": self.capped_by_budget, "truncated": self.cut_off is not None,
                "cut_off": self.cut_off, **({"opinion": self.opinion} if self.opinion is not None else {})}


def chosen_preset(config: Config, preset: str | None, route: str | None) -> str:
    """The preset an ask goes to: ``--preset``, else the route ``--route`` names, else the ask route."""
    if preset and route:
        raise UserError(f"ask: give --preset or --route, not both (--preset {preset} --route {route}).")
    if preset:
        return preset
    name = config.route(route or "ask")
    if not name:
        raise UserError(unset_route_message(route or "ask") + " Or pass --preset NAME.")
    return name


def ask(root: Path | None, prompt: str, *, preset: str | None = None, files: Sequence[Path] = (),
        budget_usd: float | None = None, on_delta: Callable[[str], None] | None = None,
        on_broken: Callable[[str], None] | None = None, route: str | None = None,
        oracle: bool = False, attach: Sequence[Path] = ()) -> AskResult:
    """Send ``prompt`` (with ``files`` attached) through ``preset`` (default: the preset of ``route``,
    else of the ``ask`` route).

    Refused before the ledger is opened, and before anything is paid: an empty prompt, an attachment
    that is not a readable text file, a prompt too large for the preset, a missing key, a budget
    that cannot pay for a short answer. ``on_delta`` hears the answer as it streams; ``on_broken`` is told
    when it broke off mid-way (a retry streams the answer again from its start).

    ``oracle``: a second opinion instead of an answer: the second-opinion step's check (missing cases,
    wrong assumptions, scope creep) of what the prompt and the files hold, answered as schema-checked
    JSON (one repair request; a reply invalid twice is an error), through the same preset choice.

    ``attach``: images and PDFs shown to the model; a preset (or a fallback) that cannot take images is
    refused before anything is sent.
    """
    A.check_prompt(prompt)
    A.check_budget(budget_usd)
    images = read_attachments(attach)
    config = load_config(root)
    chosen = config.preset(chosen_preset(config, preset, route))
    if images:
        refuse_text_only(chosen, config, "ask", images)
    attachments = A.read_attachments(list(files))
    user = A.build_prompt(prompt, attachments)
    system = A.oracle_system() if oracle else A.ASK_SYSTEM
    parts = A.prompt_parts(prompt, attachments, system)
    if images:
        parts["attachments"] = sum(a.tokens for a in images)
    A.check_window(config, chosen, user, parts, system, images)
    limit = budget_usd if budget_usd is not None else config.budget.ask_usd
    A.check_call(chosen, user, limit, system, images)
    # only now: a refused ask records nothing, and creates no ledger; SIGTERM stops the call as Ctrl-C does
    with ledger_of(root) as ledger, sigterm_as_ctrl_c():
        t0 = time.perf_counter()
        if oracle:
            r = A.oracle(config, ledger, chosen, user, budget_usd=limit, parts=parts, attachments=images)
        else:
            r = A.ask(config, ledger, chosen, user, budget_usd=limit, on_delta=on_delta, parts=parts,
                      on_broken=on_broken, attachments=images)
        wall = time.perf_counter() - t0
    cut = f"the answer {cut_off_note(config, r)}" if r.truncated else None
    text, opinion = r.text, None
    if oracle:
        import json

        from specrelay.engine.opinion import render, to_json

        text = render(r.value, preset=r.preset)
        opinion = json.loads(to_json(r.value, preset=r.preset))
    return AskResult(text, r.preset, r.provider, r.model, r.usage.input_tokens, r.usage.output_tokens,
                     r.usage.cache_read_tokens, r.cost_usd, r.latency_s, r.estimated, r.simulated, r.attempts,
                     limit, r.max_tokens, r.capped_by_budget, wall, cut, opinion)
