"""The engine: tasks, the step runner, context building, step kinds, budgets, resume.

Imports only the layers below it (workflow, llm, edits, gitrepo, ledger, config); never the CLI.
"""

from specrelay.engine.batch import Outcome, run_tasks
from specrelay.engine.runner import Runner
from specrelay.engine.task import Task, all_tasks, create_task, load_task, prepare_workflow

__all__ = [
    "Outcome",
    "Runner",
    "Task",
    "all_tasks",
    "create_task",
    "load_task",
    "prepare_workflow",
    "run_tasks",
]
