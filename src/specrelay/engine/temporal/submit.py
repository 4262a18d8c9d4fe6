"""Handing tasks to Temporal: one workflow per task, started on the backend's queue, and waiting for them."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from specrelay.config import Backend
from specrelay.engine.lock import driver_of, mark_driven, unmark_driven
from specrelay.engine.task import Task
from specrelay.engine.temporal.connect import connect
from specrelay.engine.temporal.job import WORKFLOW, Advanced, Job, workflow_id
from specrelay.errors import UserError


def driver(backend: Backend, task_id: str, carried: str = "") -> dict[str, str]:
    """What a driven task's ``remote.json`` says (``carried``: the git remote's URL it travels through)."""
    found = {"backend": "temporal", "address": backend.address, "namespace": backend.namespace,
             "queue": backend.queue, "workflow_id": workflow_id(task_id), "since": f"{time.time():.3f}"}
    return {**found, "carried": carried} if carried else found


#: How long a task marked driven may wait for its workflow to exist (published, then started) before a
#: workflow the server does not know means the hand-over failed (the submitter died meanwhile, say).
HAND_OVER_S = 300.0


def handing_over(driver: Mapping[str, str]) -> bool:
    """Whether the task ``driver`` names was marked driven so recently that its workflow may not exist yet."""
    try:
        return time.time() - float(driver.get("since", "0")) < HAND_OVER_S
    except ValueError:
        return False


async def check_reachable(backend: Backend) -> None:
    """Refuse, before any task exists, a server that cannot be reached or lacks the namespace."""
    await connect(backend.address, backend.namespace)


async def start(backend: Backend, root: Path, tasks: Sequence[Task], prepare: Callable[[Task], str | None], *,
                budget_usd: float | None = None, carried: str = "") -> None:
    """Start each task's workflow, one after another: ``prepare`` readies the task (published on the git
    remote at ``carried``, say) and names the queue of its first step (None: not to be started); the
    task is marked driven anew just before its workflow starts (so that no local run takes it, nor does
    ``status`` let it go, meanwhile)."""
    from temporalio.exceptions import WorkflowAlreadyStartedError

    client = await connect(backend.address, backend.namespace)
    for task in tasks:
        first_queue = prepare(task)
        if first_queue is None:
            continue  # refused (and left as it was, with the reason): the others go on
        mark_driven(task.folder, driver(backend, task.id, carried))
        job = Job(str(root), task.id, backend.queue, budget_usd, first_queue, remote=carried,
                  branch=task.branch, attempts=backend.step_attempts)
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
    taken: BaseException | None = None
    if found.get("carried"):
        from specrelay.engine.temporal.carry import take_back

        try:
            take_back(task, found["carried"])
        except (UserError, OSError) as exc:  # the remote out of reach: an ended workflow is let go all the same
            taken = exc
    client = await connect(found.get("address", ""), found.get("namespace", "default"),
                           origin=(f"{task.folder / 'remote.json'} (the server the task was handed to)",) * 2)
    try:
        described = await client.get_workflow_handle(found.get("workflow_id", workflow_id(task.id))).describe()
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise UserError(f"task {task.id}: Temporal at {found.get('address')}: {exc}") from None
        if handing_over(found):
            return False  # its workflow is being started: not an ended one
    else:
        if described.status is WorkflowExecutionStatus.RUNNING:
            if taken is not None:
                raise UserError(f"task {task.id}: {taken}") from None
            return False
    unmark_driven(task.folder)  # merge takes it back once more, from the remote it remembers
    return True


#: How long ``status`` waits for a server's answer about its driven tasks before it reads the ledger instead.
ASK_TIMEOUT_S = 2.0
#: How long a workflow's query is waited for once its describe is back (a queue no worker serves: forever).
QUERY_WAIT_S = 0.5


async def ask_driven(drivers: Mapping[str, Mapping[str, str]], *,
                     timeout_s: float = ASK_TIMEOUT_S) -> dict[str, dict[str, Any]]:
    """What each driven task's workflow (by task id, as its ``remote.json`` names it) is doing, all asked at
    once (one connection per server), none waited for longer than ``timeout_s``.

    Each answer has ``state``: ``running`` (with the workflow's ``progress`` query, when a worker answered
    it, and its pending step: ``pending`` scheduled / started, ``running_on``, ``attempt``, ``step_queue``),
    ``ended`` (closed, or unknown to its server), or ``unreachable`` (with ``error``)."""
    import asyncio

    clients: dict[tuple[str, str], asyncio.Future[Any]] = {}

    def client_of(driver: Mapping[str, str]) -> asyncio.Future[Any]:
        where = (driver.get("address", ""), driver.get("namespace", "default"))
        if where not in clients:
            clients[where] = asyncio.ensure_future(connect(*where, origin=("the task's remote.json",) * 2))
        return clients[where]

    async def one(task_id: str, driver: Mapping[str, str]) -> dict[str, Any]:
        try:
            client = await asyncio.shield(client_of(driver))
            answer = await _ask(client, driver.get("workflow_id") or workflow_id(task_id), timeout_s)
            if answer.get("unknown") and handing_over(driver):  # its workflow is being started
                return {"state": "running", "pending": None, "running_on": None, "attempt": None, "step_queue": None}
            return answer
        except UserError as exc:
            return {"state": "unreachable", "error": str(exc)}

    async def bounded(task_id: str, driver: Mapping[str, str]) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(one(task_id, driver), timeout_s)
        except TimeoutError:
            return {"state": "unreachable",
                    "error": f"Temporal at {driver.get('address')} did not answer within {timeout_s:g} s"}

    try:
        answers = await asyncio.gather(*(bounded(t, d) for t, d in drivers.items()))
    finally:
        for pending in clients.values():
            pending.cancel()
            if pending.done() and not pending.cancelled():
                pending.exception()  # seen: a server that refused is told once, by the answers
    return dict(zip(drivers, answers, strict=True))


async def _ask(client: Any, wf_id: str, timeout_s: float) -> dict[str, Any]:
    """One running workflow's progress query and pending step (see :func:`ask_driven`)."""
    import asyncio
    from datetime import timedelta

    from temporalio.api.enums.v1 import PendingActivityState
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode

    from specrelay.engine.temporal.job import ADVANCE

    handle = client.get_workflow_handle(wf_id)
    # The query, meanwhile: a worker of the workflow's queue answers it, and with none serving that queue
    # it would wait for one, so it gets only what is left of a short while once the describe is back.
    query = asyncio.ensure_future(handle.query("progress", rpc_timeout=timedelta(seconds=timeout_s)))
    try:
        try:
            described = await handle.describe(rpc_timeout=timedelta(seconds=timeout_s))
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return {"state": "ended", "unknown": True}
            return {"state": "unreachable", "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
        if described.status is not WorkflowExecutionStatus.RUNNING:
            return {"state": "ended"}
        out: dict[str, Any] = {"state": "running", "pending": None, "running_on": None, "attempt": None,
                               "step_queue": None}
        for activity in described.raw_description.pending_activities:
            if activity.activity_type.name != ADVANCE:
                continue
            started = activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            out.update(pending="started" if started else "scheduled", attempt=int(activity.attempt) or 1,
                       running_on=(activity.last_worker_identity or None) if started else None,
                       step_queue=activity.activity_options.task_queue.name or None)
        try:
            progress: dict[str, Any] = await asyncio.wait_for(asyncio.shield(query), QUERY_WAIT_S)
        except Exception:  # no worker answered it: the describe above is all there is
            return out
        return {**progress, **out}
    finally:
        query.cancel()
        if query.done() and not query.cancelled():
            query.exception()  # seen: a query of a closed workflow fails, and that is all


async def progress_of(driver: Mapping[str, str]) -> dict[str, Any] | None:
    """The workflow a ``remote.json`` names, asked (within :data:`ASK_TIMEOUT_S`): its progress while it runs
    (:func:`ask_driven`'s answer), None when it is closed, unknown or its server cannot be asked."""
    answer = (await ask_driven({"task": driver}))["task"]
    return answer if answer["state"] == "running" else None
