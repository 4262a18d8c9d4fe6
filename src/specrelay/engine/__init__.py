"""The engine: tasks, the step runner, context building, step kinds, budgets, resume.

Imports only the layers below it (workflow, llm, edits, gitrepo, ledger, config); never the CLI.
The names below are loaded on first use, so that importing one engine module (``engine.task`` for
``status``, say) does not import the runner, every step kind and the review package with it.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Outcome": "specrelay.engine.batch",
    "run_tasks": "specrelay.engine.batch",
    "Runner": "specrelay.engine.runner",
    "Task": "specrelay.engine.task",
    "all_tasks": "specrelay.engine.task",
    "create_task": "specrelay.engine.task",
    "load_task": "specrelay.engine.task",
    "prepare_workflow": "specrelay.engine.task",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'specrelay.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
