"""Handing tasks to Temporal: one workflow per task, started on the backend's queue, and waiting for them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from specrelay.config import Backend
from specrelay.engine.lock import driver_of, mark_driven, unmark_driven
from specrelay.engine.task import Task
from specrelay.engine.temporal.connect import connect
from specrelay.engine.temporal.job import WORKFLOW, Advanced, Job, workflow_id
from specrelay.errors import UserError


def driver(backend: Backend, task_id: str) -> dict[str, str]:
    """What a driven task's ``remote.json`` says."""
    return {"backend": "temporal", "address": backend.address, "namespace": backend.namespace,
            "queue": backend.queue, "workflow_id": workflow_id(task_id)}


async def check_reachable(backend: Backend) -> None:
    """Refuse, before any task exists, a server that cannot be reached or lacks the namespace."""
    await connect(backend.address, backend.namespace)


async def start(backend: Backend, root: Path, tasks: Sequence[Task], first_queues: Mapping[str, str], *,
                budget_usd: float | None = None) -> None:
    """Start each task's workflow, its first step on ``first_queues[task id]`` (marking the task driven
    first, so that no local run takes it meanwhile)."""
    from temporalio.exceptions import WorkflowAlreadyStartedError

    client = await connect(backend.address, backend.namespace)
    for task in tasks:
        mark_driven(task.folder, driver(backend, task.id))
        job = Job(str(root), task.id, backend.queue, budget_usd, first_queues.get(task.id))
        try:
            await client.start_workflow(WORKFLOW, job, id=workflow_id(task.id), task_queue=backend.queue)
        except WorkflowAlreadyStartedError:
            pass  # driven already (a resume racing another): that workflow goes on
        except Exception as exc:
            unmark_driven(task.folder)
            raise UserError(f"task {task.id}: Temporal refused its workflow ({exc}); "
                            f"`specrelay resume {task.id}` tries again.") from None


async def wait(backend: Backend, task_ids: Sequence[str]) -> dict[str, Advanced | BaseException]:
    """Each task's workflow's last account, once it has ended (the error, when the workflow failed)."""
    import asyncio

    while True:  # the server down meanwhile: its workflows go on once it is back, so wait for it
        try:
            client = await connect(backend.address, backend.namespace)
            break
        except UserError:
            await asyncio.sleep(1)

    async def one(task_id: str) -> Advanced | BaseException:
        from temporalio.service import RPCError, RPCStatusCode

        handle = client.get_workflow_handle(workflow_id(task_id), result_type=Advanced)
        while True:
            try:
                ended: Advanced = await handle.result()
                return ended
            except RPCError as exc:  # the server is down or restarting: the workflow goes on, so wait on
                if exc.status not in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED,
                                      RPCStatusCode.UNKNOWN):
                    return exc
                await asyncio.sleep(1)
            except Exception as exc:
                return exc

    results = await asyncio.gather(*(one(t) for t in task_ids))
    return dict(zip(task_ids, results, strict=True))


async def progress(backend: Backend, task_id: str) -> dict[str, Any] | None:
    """A running workflow's progress (its query), or None when it is closed or unknown."""
    from temporalio.client import WorkflowExecutionStatus

    client = await connect(backend.address, backend.namespace)
    handle = client.get_workflow_handle(workflow_id(task_id))
    try:
        described = await handle.describe()
        if described.status is not WorkflowExecutionStatus.RUNNING:
            return None
        result: dict[str, Any] = await handle.query("progress")
        return result
    except Exception:
        return None


async def release_if_ended(task: Task) -> bool:
    """Let go of a driven task whose workflow is no longer running (terminated, timed out, or unknown to
    its server); True when it was let go. An unreachable server keeps the task driven (a UserError)."""
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode

    found = driver_of(task.folder)
    if found is None:
        return False
    client = await connect(found.get("address", ""), found.get("namespace", "default"),
                           origin=(f"{task.folder / 'remote.json'} (the server the task was handed to)",) * 2)
    try:
        described = await client.get_workflow_handle(found.get("workflow_id", workflow_id(task.id))).describe()
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise UserError(f"task {task.id}: Temporal at {found.get('address')}: {exc}") from None
    else:
        if described.status is WorkflowExecutionStatus.RUNNING:
            return False
    unmark_driven(task.folder)
    return True
