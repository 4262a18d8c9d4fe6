"""The task's workflow: step after step, each an activity on the queue its preset names, until the task ends.

It holds no logic of the loop: which step comes next, and what a step's outcome does to the task, are
the runner's, inside each activity. Deterministic by construction: it only schedules activities and
keeps the last one's answer, which a query reads (``status`` of a remote task).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from specrelay.engine.temporal.job import ADVANCE, HEARTBEAT_TIMEOUT_S, RELEASE, WORKFLOW, Advanced, Job

#: A step may take this long on one worker (a real test suite, an agent CLI working for minutes).
STEP_TIMEOUT = timedelta(hours=6)


@workflow.defn(name=WORKFLOW)
class TaskWorkflow:
    def __init__(self) -> None:
        self._last: Advanced | None = None
        self._queue = ""

    @workflow.run
    async def run(self, job: Job) -> Advanced:
        self._queue = job.first_queue or job.queue
        while True:
            try:
                advanced: Advanced = await workflow.execute_activity(
                    ADVANCE, job, result_type=Advanced, task_queue=self._queue, start_to_close_timeout=STEP_TIMEOUT,
                    heartbeat_timeout=timedelta(seconds=HEARTBEAT_TIMEOUT_S),
                    # a cancelled workflow waits for the step to pause before the task is let go
                    cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=0.5), backoff_coefficient=2.0,
                                             maximum_interval=timedelta(seconds=10), maximum_attempts=job.attempts))
            except ActivityError as exc:
                # No worker could run the step: the task is let go, paused with the reason, for `resume`.
                why = _reason(exc)
                status: str = await asyncio.shield(workflow.execute_activity(
                    RELEASE, args=[job, why], result_type=str, task_queue=job.queue,
                    start_to_close_timeout=timedelta(minutes=1),
                    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=5), maximum_attempts=60)))
                return Advanced(True, status, why)
            self._last = advanced
            if advanced.ended:
                return advanced
            self._queue = advanced.next_queue or job.queue
            job = replace(job, budget_usd=None, first_queue=None)  # a resume's budget is set once, by the first step

    @workflow.query(name="progress")
    def progress(self) -> dict[str, str | None]:
        """The last step's account, and the queue the next step waits on."""
        last = self._last
        return {"queue": self._queue, "step": last.step if last else None,
                "next_step": last.next_step if last else None, "worker": last.worker if last else None}


def _reason(exc: BaseException) -> str:
    """The innermost cause of an activity's failure, in one line."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    kind = getattr(exc, "type", None)  # an activity's error arrives as "UserError: <its message>"
    return line.removeprefix(f"{kind}: ") if isinstance(kind, str) else line
