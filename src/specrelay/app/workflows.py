"""The workflows a repository can run (built-in and its own), their steps, and every problem ``run``
would refuse one for.

Built-in workflows and the project's own (``.specrelay/workflows/NAME.md``, which override a
built-in of the same name) are listed together. Each is parsed and checked against the configured
presets by the validation ``run`` applies; a workflow with problems is listed with each
``file:line`` error rather than stopping the listing.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from specrelay.config import Config, load_config
from specrelay.errors import UserError, WorkflowError
from specrelay.workflow import (
    DEFAULT_WORKFLOW,
    Step,
    WorkflowEntry,
    builtin_workflows,
    kinds,
    list_workflows,
    load_workflow,
    problems,
    with_routes,
)
from specrelay.workflow.parse import did_you_mean

#: Files in ``.specrelay/workflows/`` that document the folder rather than define a workflow.
NOT_WORKFLOWS = frozenset({"readme"})


@dataclass(frozen=True)
class StepInfo:
    """One step of a workflow: its kind, presets, commands and loop bound."""

    title: str
    kind: str
    presets: list[str]
    run: list[str]
    max_rounds: int | None
    #: The route each preset was named through (``@plan``), None for a preset named as itself.
    routes: list[str | None] = field(default_factory=list)
    #: A debate's challenger (None: the step has none, and ``--json`` leaves both keys out), and the route
    #: it was named through.
    challenger: str | None = None
    challenger_route: str | None = None
    #: The presets are a cheap-first cascade (``agent: a > b``), tried in order.
    cascade: bool = False


@dataclass(frozen=True)
class WorkflowInfo:
    """One workflow as ``workflows`` lists it; ``errors`` are its problems (``error`` the first, else None)."""

    name: str
    source: str
    path: str
    default: bool
    overrides_builtin: bool
    summary: str = ""
    steps: list[StepInfo] = field(default_factory=list)
    error: str | None = None
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for step in out["steps"]:  # only a step with a challenger (a debate) has its keys
            if step["challenger"] is None:
                del step["challenger"], step["challenger_route"]
            if not step["cascade"]:  # nor a step that is no cascade the cascade key
                del step["cascade"]
        return out


@dataclass(frozen=True)
class WorkflowText:
    """One workflow's Markdown, byte for byte, and its problems."""

    name: str
    source: str
    path: str
    data: bytes
    errors: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "path": self.path,
                "text": self.data.decode("utf-8", errors="replace"), "errors": self.errors}

    def broken(self) -> WorkflowError | None:
        """The error ``run`` would refuse this workflow with, or None."""
        return _cannot_run(self.name, self.errors) if self.errors else None


@dataclass(frozen=True)
class Workflows:
    """Every workflow of a repository, and the verify commands a verify step without ``run:`` runs."""

    items: list[WorkflowInfo]
    verify_commands: list[str]

    def broken(self) -> WorkflowError | None:
        """One error naming the workflows that cannot run and the first problem of each, or None."""
        return broken_error(self.items)


def available(root: Path | None) -> list[WorkflowEntry]:
    """The workflows of repository ``root`` (built-in only when ``None``), without the folder's README."""
    import specrelay.engine.steps  # noqa: F401  (registers the step kinds workflows are checked against)

    return [entry for entry in list_workflows(root)
            if not (entry.source == "project" and entry.name.casefold() in NOT_WORKFLOWS)]


def _step_info(step: Step) -> StepInfo:
    team = step.team
    routes = [w if w != p else None for p, w in zip(team, step.written or team, strict=True)]
    own = len(step.presets)
    return StepInfo(step.title, step.kind, list(step.presets), list(step.run), step.max_rounds, routes[:own],
                    step.challenger, routes[own] if step.challenger else None, step.cascade)


def runs_configured_commands(kind: str) -> bool:
    """Whether a step of this kind runs the configured ``[verify] commands`` when it names none."""
    spec = kinds.spec(kind)
    return spec is not None and spec.commands


def describe(entry: WorkflowEntry, config: Config, builtin_names: set[str]) -> WorkflowInfo:
    """One workflow, checked by the same validation ``specrelay run`` refuses it by."""
    import specrelay.engine.steps  # noqa: F401  (registers the step kinds workflows are checked against)

    head = WorkflowInfo(entry.name, entry.source, str(entry.path), default=entry.name == DEFAULT_WORKFLOW,
                        overrides_builtin=entry.source == "project" and entry.name in builtin_names)
    routes = config.route_table()
    try:
        workflow = with_routes(load_workflow(entry.path), routes)
    except WorkflowError as exc:
        return replace(head, error=str(exc), errors=[str(exc)])
    errors = [str(exc) for exc in problems(workflow, config.presets, has_config_verify=True, routes=routes,
                                           families=config.families())]
    return replace(head, summary=workflow.summary, steps=[_step_info(s) for s in workflow.steps],
                   error=errors[0] if errors else None, errors=errors)


def workflows(root: Path | None) -> Workflows:
    """Every workflow of ``root`` (built-in ones only outside a repository), each checked."""
    config = load_config(root)
    names = set(builtin_workflows())
    return Workflows([describe(entry, config, names) for entry in available(root)], list(config.verify.commands))


def workflow_text(root: Path | None, name: str) -> WorkflowText:
    """The Markdown of workflow ``name`` (``NAME`` or ``NAME.md``), to copy into ``.specrelay/workflows/``."""
    config = load_config(root)
    entries = {entry.name: entry for entry in available(root)}
    name = name.removesuffix(".md")
    entry = entries.get(name)
    if entry is None:
        listed = ", ".join(f"{e.name} (project)" if e.source == "project" else e.name
                           for e in entries.values()) or "(none)"
        hint = did_you_mean(name, list(entries))
        raise WorkflowError(f"unknown workflow '{name}'; available: {listed}.{hint} "
                            "`specrelay workflows` lists them with their steps.")
    try:
        data = entry.path.read_bytes()
    except OSError as exc:
        raise WorkflowError(f"{entry.path}: cannot read workflow: {exc.strerror or exc}") from exc
    info = describe(entry, config, set(builtin_workflows()))
    return WorkflowText(entry.name, entry.source, str(entry.path), data, info.errors)


def broken_error(items: list[WorkflowInfo]) -> WorkflowError | None:
    """One line naming the workflows that cannot run and the first problem of each, or None."""
    broken = [w for w in items if w.errors]
    if not broken:
        return None
    if len(broken) == 1:
        return _cannot_run(broken[0].name, broken[0].errors)
    return WorkflowError(f"{len(broken)} workflows cannot run: "
                         + "; ".join(f"{w.name}: {_first_problem(w.errors)}" for w in broken))


def _cannot_run(name: str, errors: list[str]) -> WorkflowError:
    return WorkflowError(f"workflow '{name}' cannot run: {_first_problem(errors)}")


def _first_problem(errors: list[str]) -> str:
    more = len(errors) - 1
    return errors[0] + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


#: A name ``workflows save`` takes: what ``--workflow NAME`` finds as ``.specrelay/workflows/NAME.md``.
_SAVE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class SavedWorkflow:
    """``workflows save``: where the task's workflow was written, and the routes it resolved."""

    name: str
    path: str
    task_id: str
    #: Each route the task's steps named, and the preset it ran with (``@plan`` → ``opus-planner``).
    resolved: dict[str, str] = field(default_factory=dict)
    replaced: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def save_workflow(root: Path, name: str, task_id: str, *, force: bool = False) -> SavedWorkflow:
    """Save the workflow task ``task_id`` ran as the project workflow ``name``: its own copy, boxes unticked,
    each ``@ROUTE`` in its steps' ``agent:``, ``agents:`` and ``challenger:`` lines replaced by the preset
    the task ran it with. An existing project workflow of that name is kept unless ``force``."""
    from specrelay import paths
    from specrelay.app.tasks import task_of
    from specrelay.app.workspace import ledger_of
    from specrelay.fsutil import atomic_write_text
    from specrelay.workflow.ticks import untick_all

    if not _SAVE_NAME.fullmatch(name) or name in NOT_WORKFLOWS:
        raise UserError(f"workflows save {name}: a workflow name is lower-case letters, digits, '-' and '_' "
                        "(at most 64, starting with a letter or digit, not 'readme'), e.g. plan-build-review.")
    task = task_of(root, task_id)
    target = paths.project_workflows(root) / f"{name}.md"
    existed = target.exists()
    if existed and not force:
        raise UserError(f"workflows save {name}: {target} exists already; pass --force to replace it, or pick "
                        "another name.")
    if not task.workflow_path.is_file():
        raise UserError(f"task {task.id}: its workflow copy {task.workflow_path} is gone; nothing to save.")
    source = task.workflow_path.read_text(encoding="utf-8")
    with ledger_of(root, readonly=True) as ledger:
        recorded = [r.presets for r in ledger.steps(task.id)]
    parsed = load_workflow(task.workflow_path)
    resolved: dict[str, str] = {}
    lines = source.splitlines(keepends=True)
    for step, ran in zip(parsed.steps, recorded, strict=False):
        if len(ran) != len(step.team):
            continue
        for written, used in zip(step.team, ran, strict=True):
            if written.startswith("@") and used and not used.startswith("@"):
                resolved[written] = used
        for key in ("agent", "agents", "challenger"):
            line = dict(step.directives).get(key)
            if line is None:
                continue
            lines[line - 1] = re.sub(r"@[A-Za-z0-9_-]+", lambda m: resolved.get(m.group(0), m.group(0)),
                                     lines[line - 1])
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, untick_all("".join(lines)))
    return SavedWorkflow(name, str(target), task.id, resolved, existed)
