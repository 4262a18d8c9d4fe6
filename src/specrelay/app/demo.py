"""The demo: a sample repository with a scripted team, and its one task, ready to run as any run is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import specrelay.engine.steps  # noqa: F401  (registers the step kinds the demo's workflow is read with)
from specrelay.app.workspace import ledger_of
from specrelay.config import Config, load_config
from specrelay.engine.demo import prepare_demo
from specrelay.engine.task import Task, create_task, prepare_workflow


@dataclass(frozen=True)
class Demo:
    """The sample repository, its request, the task made of it, and the config it runs with."""

    root: Path
    request: str
    task: Task
    config: Config
    workflow: str


def start_demo(folder: Path | None = None, *, agent: bool = False) -> Demo:
    """Create the sample repository (in ``folder``, new or empty; default: a new temporary one) and its
    task on the default workflow; :func:`specrelay.app.run.run_starts` runs it. ``agent``: the builder
    works in agent mode, calling tools."""
    root, request = prepare_demo(folder, agent=agent)
    config = load_config(root, user=False)  # the demo's own team, whatever the user's config says
    with ledger_of(root) as ledger:
        flow = prepare_workflow(root, config, "multi-model")
        task = create_task(root, ledger, config, request, workflow=flow)
    return Demo(root, request, task, config, flow.name)
