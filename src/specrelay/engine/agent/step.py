"""Agent mode for a task's steps: an implement step, or a single reviewer, run as specrelay's tool loop.

A step is in agent mode when its ``<!-- mode: agent -->`` says so, else when its preset's ``mode`` does.
The loop is bounded by ``max_turns`` (the step's ``<!-- max-turns: N -->``, else the preset's), the
task's budget (a turn that cannot be paid pauses the task, resumable) and each call's output cap. Its
turns go to ``<kind>_rN.transcript.jsonl`` in the task folder.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import specrelay.engine.context as C
from specrelay import proc
from specrelay.engine.agent.loop import LoopResult, run_loop
from specrelay.engine.agent.tools import Toolbox
from specrelay.engine.agent.transcript import Transcript
from specrelay.engine.events import CallFinished, CallStarted
from specrelay.engine.prompts import prompt
from specrelay.errors import InvalidReply
from specrelay.llm import CallResult
from specrelay.llm.backend import backend_class

if TYPE_CHECKING:
    from specrelay.engine.steps.run import StepRun


def agent_mode(run: StepRun, preset: str | None = None) -> bool:
    """Whether ``preset`` (by default the step's first) runs the step as the tool loop: the step's
    ``mode:``, else the preset's ``mode``. An external agent (Codex, Claude Code, ...) never does: it
    runs its own loop."""
    name = preset or (run.step.presets[0] if run.step.presets else None)
    if name is None:
        return False
    chosen = run.config.preset(name)
    if backend_class(chosen).edits_worktree:
        return False
    return (run.step.mode or chosen.mode) == "agent"


def transcript_name(run: StepRun, preset: str | None = None) -> str:
    """The loop's transcript: ``KIND_rN.transcript.jsonl``, with the preset for a panel's reviewer."""
    return f"{run.step.kind}_r{run.round}{f'_{preset}' if preset else ''}.transcript.jsonl"


def _turns(run: StepRun, preset: str) -> tuple[int, str]:
    """The loop's bound, and where the user raises it."""
    if run.step.max_turns is not None:
        return run.step.max_turns, (f"'<!-- max-turns: {run.step.max_turns} -->' of step '{run.step.title}' "
                                    f"(line {run.step.line_of('max-turns')} of {run.task.workflow_path})")
    p = run.config.preset(preset)
    return p.max_turns, f"{p.setting('max_turns')} (now {p.max_turns}) or give the step '<!-- max-turns: N -->'"


def _check_env(run: StepRun) -> dict[str, str]:
    """The environment of the user's commands: without any preset's API key (as verify runs them)."""
    return proc.scrubbed_env(run.config.secret_envs())


def check_commands(run: StepRun) -> list[str]:
    """The commands ``run_check`` may run: ``[agent] commands``, else the verification's."""
    return list(run.config.agent.commands) or list(run.step.run) or list(run.config.verify.commands)


async def _loop(run: StepRun, preset: str, system: str, ctx: C.Context, toolbox: Toolbox, *,
                check: Callable[[str], str | None] | None = None, key: str | None = None,
                transcript: str | None = None) -> LoopResult:
    from specrelay.llm.backend import cannot_call_tools

    refused = cannot_call_tools(run.config.preset(preset), f"step '{run.step.title}' in agent mode")
    if refused is not None:
        raise refused
    max_turns, where = _turns(run, preset)

    def on_turn(result: CallResult) -> None:
        run.emit(CallStarted(run.label, preset))
        run.emit(CallFinished(run.label, result.preset, result.model, result.usage.input_tokens,
                              result.usage.output_tokens, result.cost_usd, result.latency_s, result.simulated,
                              result.reused, estimated=result.estimated))

    return await run_loop(run.client, preset, system, ctx.render(), toolbox, max_turns=max_turns,
                          key=key or run.next_key(), phase=str(run.step.kind), step=run.label,
                          transcript=Transcript(run.artifact(transcript or transcript_name(
                              run, preset if run.step.is_panel else None))),
                          raise_turns=where, on_turn=on_turn, check=check)


async def read_only(run: StepRun, preset: str, system: str, ctx: C.Context, *, key: str,
                    transcript: str) -> LoopResult:
    """A read-only loop over the worktree (list, read, search: nothing can change), ending in the model's
    text: a research scout's. ``key`` prefixes its turns' keys, ``transcript`` names its turns' file."""
    return await _loop(run, preset, system, ctx, Toolbox(run.worktree, writable=False), key=key,
                       transcript=transcript)


async def implement(run: StepRun, ctx: C.Context) -> tuple[list[str], str]:
    """The builder's loop over the worktree; the paths its edits changed, and the model that made them."""
    preset = run.step.presets[0]
    toolbox = Toolbox(run.worktree, writable=True, commands=check_commands(run), env=_check_env(run),
                      timeout_s=run.config.verify.timeout_s, logs=run.folder,
                      log_prefix=f"{run.step.kind}_r{run.round}")
    system = prompt("agent_implement") + toolbox.describe_commands() + "\n"
    result = await _loop(run, preset, system, ctx, toolbox)
    return sorted(toolbox.changed), result.model


async def review_call(run: StepRun, preset: str, system: str, ctx: C.Context, *, schema: Any) -> CallResult:
    """A reviewer's read-only loop (list, read, search), ending in the review JSON: a result as
    :meth:`StepRun.call` gives it, its ``value`` the validated review."""
    from dataclasses import replace

    from specrelay.llm import parse_json_reply

    def problem(text: str) -> str | None:
        try:
            parse_json_reply(text, schema)
        except ValueError as exc:
            return str(exc)
        return None

    toolbox = Toolbox(run.worktree, writable=False)
    result = await _loop(run, preset, system + prompt("agent_review"), ctx, toolbox, check=problem)
    last = result.results[-1]
    try:
        value = parse_json_reply(result.text, schema)
    except ValueError as exc:
        raise InvalidReply(f"preset {preset} did not end its review loop with valid review JSON, even after a "
                           f"repair request: {exc}", reply=result.text, preset=preset) from None
    return replace(last, text=result.text, value=value)


def review_caller(run: StepRun) -> Callable[..., Awaitable[CallResult]]:
    """How a review step calls each reviewer: its read-only loop for a preset in agent mode, else
    :meth:`StepRun.call` (one answer; an external agent reviewing on its own)."""
    async def call(preset: str, system: str, ctx: C.Context, *, schema: Any = None) -> CallResult:
        if schema is not None and agent_mode(run, preset):
            return await review_call(run, preset, system, ctx, schema=schema)
        return await run.call(preset, system, ctx, schema=schema)
    return call
