"""Cheap-first cascades: ``<!-- agent: flash-builder > sonnet-builder > opus-planner -->`` on a build step.

The first preset builds. When its edits cannot be applied after their corrections (``edits``), when
verification still fails after its attempts (``verify``), or when review has requested changes for
``escalate-after`` rounds of its work (``review``; one round unless the step says), the next preset takes
over for the rest of the loop. This module is that rule; the steps that see a failure ask it.

Each escalation is kept in the loop state (the ledger's ``tasks.state``), written with the transition that
follows it, so a resumed task goes on with the preset it had reached. A build step's calls carry its
level in their key (``.e1``), so no reply of an earlier preset is ever replayed as a later one's. The last
preset runs the rest of the loop as any builder does; when it fails too, the message names what each
preset of the cascade tried.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from specrelay.engine.loopstate import Escalation, LoopState
from specrelay.text import plural
from specrelay.workflow import Step

if TYPE_CHECKING:
    from specrelay.engine.steps.run import StepRun

#: Review rounds a cascade's preset may have its work sent back before the next one takes over.
DEFAULT_ESCALATE_AFTER = 1
#: What can make a cascade escalate.
REASONS = ("edits", "verify", "review")


def level(state: LoopState, index: int) -> int:
    """How many times build step ``index`` has escalated: the index of the preset it is on."""
    return sum(1 for e in state.escalations if e.step == index)


def preset_of(step: Step, index: int, state: LoopState) -> str:
    """The preset build step ``index`` runs now."""
    return step.presets[min(level(state, index), len(step.presets) - 1)]


def for_run(step: Step, index: int, state: LoopState) -> Step:
    """``step`` as one execution runs it: a cascade's current preset alone, as if it were the only one."""
    return replace(step, presets=(preset_of(step, index, state),)) if step.cascade else step


def escalate_after(step: Step) -> int:
    return step.escalate_after or DEFAULT_ESCALATE_AFTER


def escalate(run: StepRun, build: int, state: LoopState, reason: str, why: str,
             starts: int) -> tuple[LoopState, str] | None:
    """The state with build step ``build`` moved to its next preset (from round ``starts`` on), and a note
    saying so; None when that step is no cascade, or is on its last preset (it goes on as any builder).

    ``reason`` is one of :data:`REASONS`; a ``review`` escalates only once the preset's work has been
    sent back ``escalate-after`` rounds.
    """
    step = _build_step(run, build)
    if step is None or not step.cascade:
        return None
    at = level(state, build)
    if at + 1 >= len(step.presets):
        return None
    if reason == "review" and starts - _started(state, build) < escalate_after(step):
        return None
    moved = Escalation(build, step.presets[at], step.presets[at + 1], reason, why, starts)
    state = state.with_(escalations=(*state.escalations, moved))
    return state, f"cascade: {moved.from_preset} {why}; escalating to {moved.to_preset}"


def tried(run: StepRun, build: int, state: LoopState, last: str) -> str:
    """What each preset of cascade step ``build`` tried, the last one's ``last``: for a failure's message.
    Empty when the step is no cascade."""
    step = _build_step(run, build)
    if step is None or not step.cascade:
        return ""
    mine = [e for e in state.escalations if e.step == build]
    said = [f"{e.from_preset} {e.why}" for e in mine]
    said.append(f"{preset_of(step, build, state)} {last}")
    out_of = " ran out of presets" if len(mine) + 1 >= len(step.presets) else ""
    return f"The cascade {' > '.join(step.presets)}{out_of}: " + "; ".join(said) + "."


def review_why(rounds: int) -> str:
    return f"had changes requested in {plural(rounds, 'review round')}"


def rounds_on(state: LoopState, build: int, round_: int) -> int:
    """How many review rounds, through ``round_``, build step ``build``'s current preset has worked."""
    return round_ - _started(state, build) + 1


def _started(state: LoopState, build: int) -> int:
    """The round build step ``build``'s current preset started in (1: the first preset), or the round
    the current milestone started in when that is later (a milestone's rounds are counted on their own:
    the approved rounds of earlier milestones are no rejections)."""
    escalated = next((e.round for e in reversed(state.escalations) if e.step == build), 1)
    return max(escalated, state.milestone_round)


def _build_step(run: StepRun, build: int) -> Step | None:
    steps = run.workflow.steps if run.workflow is not None else ()
    return steps[build] if 0 <= build < len(steps) else None
