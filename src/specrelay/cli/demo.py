"""``specrelay demo``: the whole loop on a sample repository, offline, no keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from specrelay.cli.common import console
from specrelay.cli.root import app


@app.command("demo")
def demo_command(
    dir: Path | None = typer.Option(None, "--dir", help="Where to create the sample repository (new or empty)."),
    json_out: bool = typer.Option(False, "--json", help="Print the task's status object as JSON."),
    agent: bool = typer.Option(False, "--agent", help="The builder works in agent mode: it reads, searches, "
                               "edits and runs the tests through tools."),
) -> None:
    """Run plan → build → verify → review → fix → approve on a sample repo with scripted models."""
    from specrelay.app.demo import start_demo
    from specrelay.app.run import run_starts
    from specrelay.cli.run import run_and_report

    demo = start_demo(dir, agent=agent)
    root, request, task = demo.root, demo.request, demo.task
    if not json_out:
        console.print(f"Sample repository: {root}", markup=False)
        console.print(f"Request: {request}\n", markup=False)
    # The run path every `specrelay run` takes: the same progress, summary, exit code, and run.log.
    try:
        run_and_report(root, lambda sinks: run_starts(root, demo.config, [task.id], labels=[request], jobs=1,
                                                      sink_for=sinks), json_out, several=False,
                       header=f"workflow {demo.workflow}")
    finally:
        if not json_out:
            _where(root, task, agent=agent)


def _where(root: Path, task: Any, *, agent: bool = False) -> None:
    transcript = f"\n  specrelay show {task.id} implement_r1.transcript.jsonl" if agent else ""
    console.print(f"""
Where everything is:
  the repository      {root}
  the task's worktree {task.worktree}   (branch {task.branch})
  its artifacts       {task.folder}   (spec.md, review.md, verify logs, workflow.md)

Try, inside {root}:
  specrelay show {task.id} spec.md
  specrelay show {task.id} review_r1.json{transcript}
  specrelay cost --by preset --as opus-planner
  git log --format='%h %s%n%(trailers)' {task.branch}

[bold]The models in this demo were scripted[/] (replies shipped with specrelay) and every cost is \
[bold]simulated[/] at the real prices of the models they stand for. The tests really ran.""")
