"""Where a task's next step runs: the queue its preset names (``queue = "gpu"``), else the backend's own."""

from __future__ import annotations

from specrelay.config import Config
from specrelay.ledger import Ledger, StepStatus


def next_queue(config: Config, ledger: Ledger, task_id: str, default: str) -> tuple[str | None, str]:
    """The next step's title and its queue: the first of its presets that names one, else ``default``."""
    row = next((r for r in ledger.steps(task_id) if r.status is not StepStatus.DONE), None)
    if row is None:
        return None, default
    for name in row.presets:
        preset = config.presets.get(name)
        if preset is not None and preset.queue:
            return row.title, preset.queue
    return row.title, default


def waiting_message(step: str | None, queue: str) -> str:
    """What ``status`` says of a task between two steps: the runner clears it once a worker takes the step."""
    return f"next: {step}, on Temporal queue {queue!r}: waiting for a worker there"


def missing_here(config: Config, ledger: Ledger, task_id: str) -> str | None:
    """Why this machine cannot run the task's next step (an agent CLI its preset runs, and no fallback of
    it, is not installed here), or None: such a step is left for a worker that has the agent."""
    from specrelay.llm.backends.agents.base import AgentPreset, find_binary, missing_binary

    row = next((r for r in ledger.steps(task_id) if r.status is not StepStatus.DONE), None)
    for name in row.presets if row else ():
        preset = config.presets.get(name)
        if isinstance(preset, AgentPreset) and not preset.fallbacks and find_binary(preset) is None:
            return missing_binary(preset)
    return None
