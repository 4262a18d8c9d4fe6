"""Tasks on a Temporal cluster: the same runner, driven a step at a time by a Temporal workflow.

A task becomes one workflow (:mod:`.workflow`) whose every step is one activity (:mod:`.activities`):
the activity runs :class:`~specrelay.engine.runner.Runner` for a single step (``max_steps=1``), so the
step registry, transitions, fix rounds, budgets and panels are the local runner's own, and the workflow
only asks, after each step, where the next one runs (the queue its preset names). A completed activity
is never re-run on replay; one cut off (its worker killed) is retried on another worker, where the step
is redone with the calls it had completed reused from the ledger, as a local resume does.

Workers (:mod:`.worker`) share the submitting machine's repository and ledger (the job names the
repository's path): one machine, or machines that mount the same folder; or, with ``[backend] remote``,
each takes the task through a git remote into a clone of its own (:mod:`.carry`), on any machine.

``temporalio`` is an optional extra (``pip install 'specrelay[temporal]'``), imported only here.
"""
