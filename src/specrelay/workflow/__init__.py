"""Markdown workflows: parse, validate, tick checkboxes, and find templates.

A workflow is a Markdown file (Zenflow's format) whose ``### [ ] Step: Title`` headings
are bound to presets by HTML-comment directives right under them. See :mod:`.parse`.
"""

from specrelay.workflow.kinds import KindSpec, known_kinds, register_spec
from specrelay.workflow.model import Step, Workflow
from specrelay.workflow.parse import KNOWN_DIRECTIVES, infer_kind, load_workflow, parse_workflow
from specrelay.workflow.routes import with_routes
from specrelay.workflow.templates import (
    DEFAULT_WORKFLOW,
    WorkflowEntry,
    builtin_workflows,
    find_workflow,
    list_workflows,
)
from specrelay.workflow.ticks import checked_titles, set_box, tick, tick_text, untick_all
from specrelay.workflow.validate import problems, validate

__all__ = [
    "DEFAULT_WORKFLOW",
    "KNOWN_DIRECTIVES",
    "KindSpec",
    "Step",
    "Workflow",
    "WorkflowEntry",
    "builtin_workflows",
    "checked_titles",
    "find_workflow",
    "infer_kind",
    "known_kinds",
    "list_workflows",
    "load_workflow",
    "parse_workflow",
    "problems",
    "register_spec",
    "set_box",
    "tick",
    "tick_text",
    "untick_all",
    "validate",
    "with_routes",
]
