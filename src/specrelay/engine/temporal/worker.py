"""``specrelay worker``: serve tasks' workflows and steps from Temporal queues until stopped.

One worker per queue, all in this process, at most ``jobs`` steps at a time on each. Ctrl-C or SIGTERM
stops taking new steps, pauses those running (they are retried on another worker) and exits.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

from specrelay.engine.temporal.activities import EmitFor, Steps, worker_name
from specrelay.engine.temporal.connect import connect
from specrelay.engine.temporal.job import Advanced


async def serve(address: str, namespace: str, queues: Sequence[str], *, jobs: int, emit_for: EmitFor,
                clones: Path | None = None,
                on_ready: Callable[[str], None] | None = None,
                on_step: Callable[[str, Advanced], None] | None = None) -> None:
    """Run the workers until SIGINT or SIGTERM."""
    from temporalio.worker import Worker

    from specrelay.engine.temporal.workflow import TaskWorkflow

    client = await connect(address, namespace, origin=("--temporal", "--namespace"))
    name = worker_name()
    steps = {queue: Steps(emit_for, jobs, on_step, clones) for queue in dict.fromkeys(queues)}
    workers = [Worker(client, task_queue=queue, workflows=[TaskWorkflow],
                      activities=[steps[queue].advance, steps[queue].release],
                      max_concurrent_activities=jobs, identity=f"{name}@{queue}",
                      # a killed worker's workflows go to another within a second, not the default ten
                      sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
                      graceful_shutdown_timeout=timedelta(seconds=10))
               for queue in steps]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runs = [asyncio.create_task(w.run()) for w in workers]
    if on_ready is not None:
        on_ready(name)
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait([waiter, *runs], return_when=asyncio.FIRST_COMPLETED)
    await asyncio.gather(*(w.shutdown() for w in workers))
    for run in runs:
        if run.done() and not run.cancelled() and run.exception() is not None:
            raise run.exception()  # type: ignore[misc]
    for each in steps.values():
        each.threads.shutdown(wait=False, cancel_futures=True)
