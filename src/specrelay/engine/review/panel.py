"""A review panel: several reviewers of different families, run concurrently on one fresh context,
their findings merged by agreement (:mod:`specrelay.engine.review.agreement`).

Used by a workflow's panel step and by ``specrelay review`` (also for one reviewer). A reviewer that
fails (a provider error after retries and fallbacks, or invalid output after one repair) is reported
as failed (an unusable reply is kept, :mod:`specrelay.engine.review.rejected`); the panel goes on
while at least two reviewers (one, for a panel of one) have answered.
Each reviewer's start and end are emitted as events (:class:`ReviewerStarted`, :class:`ReviewerFinished`,
:class:`ReviewerFailed`) for a face to show.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specrelay.engine.context import Context
from specrelay.engine.events import EventSink, ReviewerFailed, ReviewerFinished, ReviewerStarted, quiet
from specrelay.engine.review.agreement import (
    Consolidated,
    MergedFinding,
    ReviewerResult,
    blocking_findings,
    consolidate,
)
from specrelay.engine.review.document import Review
from specrelay.engine.review.rejected import UNUSABLE, keep_rejected, kept_message, rejected_name
from specrelay.engine.review.report import render_blocking_for_builder, render_markdown, to_json
from specrelay.engine.review.verdict import requests_changes
from specrelay.errors import ProviderError, StepFailed
from specrelay.fsutil import atomic_write_text
from specrelay.llm import CallResult

#: How a panel calls one preset: (preset, system prompt, context, schema) → result.
Call = Callable[..., Awaitable[CallResult]]

SYNTHESIS_SYSTEM = (
    "You are the lead reviewer. Below is the merged result of several independent code reviews, already "
    "ranked by how many reviewers agree. Write a short prose synthesis (under 200 words) for the author: "
    "what matters most and why. Do not add new findings and do not change any verdict or severity."
)


@dataclass(frozen=True)
class PanelRequest:
    presets: Sequence[str]
    system: str
    context: Context
    min_agreement: int | None = None
    diff_files: Collection[str] | None = None
    consolidate_preset: str | None = None


@dataclass(frozen=True)
class PanelOutcome:
    """A finished panel: the merged review, its report, the decided verdict and what blocks it.
    ``note`` gathers the reviewers whose own verdict their findings overrode."""

    consolidated: Consolidated
    report: dict[str, Any]
    verdict: str
    findings: int
    open_items: list[str]
    builder_text: str
    note: str | None = None

    @property
    def wants_changes(self) -> bool:
        """Another build round is needed: the decided verdict requests changes."""
        return requests_changes(self.verdict)


async def _one(call: Call, req: PanelRequest, index: int, preset: str, folder: Path, emit: EventSink,
               round_no: int | None) -> ReviewerResult:
    worker = folder / f"review_worker_{index}.json"
    emit(ReviewerStarted(preset, index, len(req.presets)))
    try:
        result = await call(preset, req.system, req.context, schema=Review)
    except (ProviderError, StepFailed) as exc:
        failure: dict[str, Any] = {"preset": preset, "error": str(exc)}
        if isinstance(exc, UNUSABLE):  # it answered, but not a usable review: keep what it said
            kept = keep_rejected(folder / rejected_name(round_no, preset), exc, round_no=round_no)
            failure.update(error=kept_message(exc, kept), reply_kept_in=str(kept))
        atomic_write_text(worker, json.dumps(failure, indent=2))
        emit(ReviewerFailed(preset, index, len(req.presets), failure["error"]))
        return ReviewerResult(preset=preset, model="", review=None, error=failure["error"])
    review: Review = result.value
    atomic_write_text(worker, json.dumps({"preset": result.preset, "model": result.model,
                                          "cost_usd": result.cost_usd, "latency_s": round(result.latency_s, 3),
                                          **review.model_dump(mode="json")}, indent=2))
    emit(ReviewerFinished(result.preset, index, result.model, review.verdict, len(review.findings),
                          result.cost_usd, result.simulated, result.latency_s, estimated=result.estimated))
    return ReviewerResult(preset=result.preset, model=result.model, review=review, cost_usd=result.cost_usd,
                          latency_s=result.latency_s)


async def run_panel(req: PanelRequest, call: Call, *, folder: Path, round_no: int | None = None,
                    emit: EventSink | None = None) -> PanelOutcome:
    """Run every reviewer at once, consolidate, and write final_review.json / final_review.md."""
    sink = emit or quiet
    reviewers = [asyncio.ensure_future(_one(call, req, i, p, folder, sink, round_no))
                 for i, p in enumerate(req.presets, 1)]
    try:
        results = await asyncio.gather(*reviewers)
    except BaseException:
        # One reviewer stopped the run (a budget, Ctrl-C): the others must not go on calling and paying.
        for reviewer in reviewers:
            reviewer.cancel()
        await asyncio.gather(*reviewers, return_exceptions=True)
        raise
    answered = [r for r in results if r.review is not None]
    needed = min(2, len(req.presets))
    if len(answered) < needed:
        errors = "; ".join(f"{r.preset}: {r.error}" for r in results if r.error)
        if len(req.presets) == 1:
            raise StepFailed(f"review: the reviewer failed: {errors}")
        raise StepFailed(f"review panel: only {len(answered)} of {len(req.presets)} reviewers answered "
                         f"(at least {needed} needed): {errors}")
    merged = consolidate(results, min_agreement=req.min_agreement, diff_files=req.diff_files)
    report = to_json(merged)
    markdown = render_markdown(merged, round_no=round_no)
    if req.consolidate_preset:
        try:
            synthesis = await call(req.consolidate_preset, SYNTHESIS_SYSTEM, _synthesis_context(markdown))
        except (ProviderError, StepFailed) as exc:  # prose is optional: the merged verdict stands
            report["synthesis"] = {"preset": req.consolidate_preset, "error": str(exc)}
            markdown += f"\n## Synthesis\n\nNot written: {req.consolidate_preset} failed ({exc}).\n"
        else:
            report["synthesis"] = {"preset": synthesis.preset, "model": synthesis.model, "text": synthesis.text}
            markdown += f"\n## Synthesis ({synthesis.preset})\n\n{synthesis.text.strip()}\n"
    data = json.dumps(report, indent=2)
    atomic_write_text(folder / "final_review.json", data)
    atomic_write_text(folder / "final_review.md", markdown)
    if round_no is not None:
        atomic_write_text(folder / f"final_review_r{round_no}.json", data)
    blocking = blocking_findings(merged)
    notes = [f"{r['preset']} {r['note']}" for r in merged.reviewers if r["note"]]
    return PanelOutcome(
        consolidated=merged, report=report, verdict=merged.verdict, findings=len(merged.findings),
        open_items=[_open_item(f, merged.answered) for f in blocking],
        builder_text=render_blocking_for_builder(merged), note="; ".join(notes) or None)


def _open_item(f: MergedFinding, answered: int) -> str:
    raised = "" if answered == 1 else f"; raised by {f.agreement} of {answered}"
    return f"[{f.severity}] {f.title} ({f.where()}{raised})"


def _synthesis_context(markdown: str) -> Context:
    ctx = Context()
    ctx.add("review", "Merged review", markdown)
    return ctx
