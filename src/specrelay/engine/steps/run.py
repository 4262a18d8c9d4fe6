"""What every step kind is handed: the task, its step, the round, the loop state, and the client to call
models with."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specrelay.config import Config
from specrelay.engine.context import Context
from specrelay.engine.events import CallDelta, CallFailed, CallFinished, CallStarted, EventSink
from specrelay.engine.loopstate import LoopState
from specrelay.engine.task import Task
from specrelay.fsutil import atomic_write_text
from specrelay.llm import CallResult, Client, estimate_tokens
from specrelay.workflow import Step, Workflow
from specrelay.workflow.kinds import last_build_before


@dataclass
class StepRun:
    """One execution of one workflow step in one round.

    ``key`` names this execution; every model call in it gets ``key.cN`` so that a resumed run
    reuses completed calls, in order, instead of making them again.
    """

    root: Path
    task: Task
    config: Config
    client: Client
    step: Step
    index: int
    round: int
    attempt: int
    emit: EventSink
    #: Bumped when a step fails, so that a resumed failed step makes new calls instead of replaying.
    generation: int = 0
    #: True when this execution redoes one that was cut off (a crash, Ctrl-C).
    interrupted: bool = False
    #: The loop's state as this execution starts (what a build fixes, the attempt, the last verdict).
    state: LoopState = field(default_factory=LoopState)
    #: The workflow the step belongs to (for where its loop goes back to).
    workflow: Workflow | None = None
    calls: int = field(default=0)
    #: The part of a parallel build this execution is (``ws-1``, ``fix-2``; empty: the whole step).
    #: Its calls are keyed, recorded and reported under it.
    part: str = ""
    #: The spec this part's builder sees instead of the step's spec artifact (None: the artifact).
    part_spec: str | None = None
    #: Which preset of a cheap-first cascade this execution runs (0: the first, or no cascade).
    level: int = 0

    def loop_start(self) -> int | None:
        """The last build step before this one: where a loop sends the work back to."""
        if self.workflow is None:
            return None
        return last_build_before([s.kind for s in self.workflow.steps], self.index)

    @property
    def key(self) -> str:
        own = f".{self.part}" if self.part else ""
        # A cascade's later presets get keys of their own: an earlier preset's reply is never replayed as theirs.
        escalated = f".e{self.level}" if self.level else ""
        return f"s{self.index}.r{self.round}.a{self.attempt}.g{self.generation}{escalated}{own}"

    @property
    def label(self) -> str:
        """The step as progress and the ledger name it: its title, with the part of a parallel build."""
        return f"{self.step.title} [{self.part}]" if self.part else self.step.title

    def spec_text(self) -> str:
        """What this execution builds from: its part's spec, else the step's spec artifact ("" if none)."""
        if self.part_spec is not None:
            return self.part_spec
        return self.read_artifact(self.spec_name) or ""

    @property
    def worktree(self) -> Path:
        return self.task.worktree

    @property
    def folder(self) -> Path:
        return self.task.folder

    def artifact(self, name: str) -> Path:
        return self.folder / name

    @property
    def spec_name(self) -> str:
        """The artifact this step reads as its spec: its first ``reads:`` (spec.md by default)."""
        return next((r for r in self.step.reads if r.endswith(".md")), "spec.md")

    def read_artifact(self, name: str) -> str | None:
        path = self.artifact(name)
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def write_artifact(self, name: str, text: str) -> Path:
        path = self.artifact(name)
        atomic_write_text(path, text)
        return path

    def next_key(self) -> str:
        self.calls += 1
        return f"{self.key}.c{self.calls}"

    async def call(self, preset: str, system: str, ctx: Context, *, schema: Any = None,
                   writable: bool = False, replay: bool = True) -> CallResult:
        """Call a preset with a fresh context; report it (its start, the text streamed, its end); record
        the context's token split. The call works in the task's worktree (for a backend that does: an
        agent), read-only unless ``writable``. ``replay=False``: a resumed run makes the call again
        rather than taking it from the ledger (an agent's edits are not in the ledger)."""
        phase = str(self.step.kind)
        self.emit(CallStarted(self.label, preset))
        counts = {"system": estimate_tokens(system), **ctx.token_counts()}
        key = self.next_key()
        kwargs: dict[str, Any] = {"phase": phase, "step": self.label, "context": counts,
                                  "key": key if replay else None, "cwd": self.worktree,
                                  "on_delta": lambda chunk: self.emit(CallDelta(len(chunk)))}
        if writable:
            kwargs["writable"] = True
        else:
            kwargs["guard_tree"] = True  # a task's worktree: a read-only agent must leave it as it was
        if self.step.max_turns is not None:
            kwargs["max_turns"] = self.step.max_turns
        try:
            if schema is None:
                result = await self.client.call(preset, system, ctx.render(), **kwargs)
            else:
                result = await self.client.call_json(preset, system, ctx.render(), schema, **kwargs)
        except BaseException as exc:
            self.emit(CallFailed(self.label, preset, str(exc)))
            raise
        self.emit(CallFinished(self.label, result.preset, result.model, result.usage.input_tokens,
                               result.usage.output_tokens, result.cost_usd, result.latency_s, result.simulated,
                               result.reused, estimated=result.estimated))
        return result
