"""``specrelay worker`` (serve tasks from Temporal queues) and ``specrelay temporal dev`` (a local server)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from specrelay.cli.common import console, repo_root_or_none
from specrelay.cli.root import app
from specrelay.cli.usage import App


@app.command("worker")
def worker_command(
    temporal: str = typer.Option(..., "--temporal", metavar="ADDRESS", help="The Temporal frontend, host:port."),
    queues: list[str] = typer.Option(["specrelay"], "--queue", "-q", metavar="QUEUE", help=(
        "A task queue to serve (repeat for several): the backend's own, and those presets name for steps "
        "only this machine can run (its agent, key or server).")),
    namespace: str = typer.Option("default", "--namespace", help="The Temporal namespace."),
    jobs: int = typer.Option(4, "--jobs", "-j", min=1, help="At most this many steps at once on each queue."),
    clones: Path | None = typer.Option(None, "--clones", metavar="DIR", help=(
        "Where to keep clones of the git remotes tasks travel through (`[backend] remote`), one per task "
        "(default: ~/.cache/specrelay/worker).")),
) -> None:
    """Run tasks' steps handed out by a Temporal server, until Ctrl-C."""
    from specrelay.app.remote import serve_worker

    def ready(name: str) -> None:
        console.print(f"worker {name} serving {', '.join(queues)} at {temporal} (namespace {namespace}); "
                      "Ctrl-C stops it.", markup=False, soft_wrap=True)

    def step(task_id: str, advanced: Any) -> None:
        then = f"; next: {advanced.next_step} on queue {advanced.next_queue}" if not advanced.ended else ""
        console.print(f"{task_id}: ran {advanced.step or 'its end'} -> {advanced.status}{then}", markup=False,
                      soft_wrap=True)

    serve_worker(temporal, namespace, queues, jobs=jobs, clones=clones, on_ready=ready, on_step=step)
    console.print("worker stopped.", markup=False)
    os._exit(0)  # temporalio's runtime may abort at interpreter exit once its work is done


temporal_app = App(help="A local Temporal server to run tasks on (dev).", no_args_is_help=True,
                   rich_markup_mode=None)
app.add_typer(temporal_app, name="temporal")


@temporal_app.command("dev")
def dev_command(
    port: int = typer.Option(7233, "--port", min=1, max=65535, help="The frontend's port."),
    ip: str = typer.Option("127.0.0.1", "--ip", help=(
        "The address to listen on: 0.0.0.0 for workers on other machines (the dev server has no "
        "authentication: only on a network you trust).")),
    ui_port: int | None = typer.Option(None, "--ui-port", min=1, max=65535,
                                       help="Serve Temporal's web UI on this port (default: no UI)."),
    db: Path | None = typer.Option(None, "--db", metavar="FILE", help=(
        "Where the server keeps its state (default: .specrelay/temporal.db in this repository, else "
        "~/.cache/specrelay/temporal.db).")),
) -> None:
    """Start a local Temporal dev server (SQLite-backed) for `[backend] kind = "temporal"`, until Ctrl-C."""
    from specrelay.app.remote import dev_server

    if db is None:
        root = repo_root_or_none()
        db = (root / ".specrelay" / "temporal.db") if root else Path.home() / ".cache" / "specrelay" / "temporal.db"
    command = dev_server(port, ui_port, db, ip)
    console.print(f"Temporal dev server on {ip}:{port}, state in {db}; Ctrl-C stops it.", markup=False,
                  soft_wrap=True)
    os.execv(command[0], command)
