"""A step kind defined outside specrelay: its preset writes a note for later steps, and the run goes on.

What a new kind costs: this module, its prompt (``note.md`` beside it) and the one ``register`` call
at the bottom. Nothing in ``src/`` names it.
"""

from __future__ import annotations

from pathlib import Path

from specrelay.engine import context as C
from specrelay.engine.steps import KindSpec, Outcome, StepRun, register

PROMPT = Path(__file__).with_name("note.md")


class NoteStep:
    """Asks its preset for a short note on the spec and keeps it as an artifact."""

    spec = KindSpec("note", title_words=("note", "notes"), reads=("spec.md",), writes=("notes.md",))

    async def run(self, step_run: StepRun) -> Outcome:
        ctx = C.Context()
        ctx.add("spec", step_run.spec_name, step_run.read_artifact(step_run.spec_name) or step_run.task.request)
        ctx.add("instruction", "Step instruction", step_run.step.body)
        result = await step_run.call(step_run.step.presets[0], PROMPT.read_text(encoding="utf-8"), ctx)
        target = step_run.step.writes[0]
        step_run.write_artifact(target, result.text.strip() + "\n")
        return Outcome(detail={"wrote": target})


register(NoteStep())
