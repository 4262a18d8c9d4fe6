"""Tasks: one request run through one workflow, in its own branch, worktree and artifact folder."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from specrelay import gitrepo, paths
from specrelay.config import Config, Preset, check_price_as, missing_keys_error
from specrelay.engine.attachments import save as save_attachments
from specrelay.errors import GitError, PresetError, UserError
from specrelay.fsutil import atomic_write_text
from specrelay.ledger import Ledger, NewStep, TaskRow, TaskStatus
from specrelay.llm.backend import Attachment
from specrelay.workflow import Workflow, find_workflow, load_workflow, validate, with_routes
from specrelay.workflow.ticks import untick_all

WORKFLOW_FILE = "workflow.md"


@dataclass(frozen=True)
class Task:
    """A task as the ledger knows it."""

    id: str
    title: str
    request: str
    status: TaskStatus
    workflow: str
    base_sha: str
    base_branch: str | None
    branch: str
    worktree: Path
    folder: Path
    budget_usd: float | None
    rounds: int
    current_step: str | None
    message: str | None
    created_at: float = 0.0  # seconds since the epoch
    #: Whether the task's calls keep their prompts in the ledger (an evaluation's tasks).
    record_prompts: bool = False

    @property
    def workflow_path(self) -> Path:
        return self.folder / WORKFLOW_FILE


def slugify(text: str, words: int = 5, limit: int = 40) -> str:
    """A readable, branch-safe slug of the request's first words."""
    parts = re.findall(r"[a-z0-9]+", text.lower())[:words]
    slug = "-".join(parts)[:limit].strip("-")
    return slug or "task"


#: The longest title a task gets, ellipsis included.
TITLE_CHARS = 80


def task_title(request: str) -> str:
    """The request's first line as the task's title; a long one cut at a word, with an ellipsis
    (never in the middle of a word, never ending in a space)."""
    line = " ".join(request.strip().splitlines()[0].split()) if request.strip() else ""
    if len(line) <= TITLE_CHARS:
        return line
    cut = line[:TITLE_CHARS - 1]
    if line[TITLE_CHARS - 1] != " " and " " in cut:  # the cut falls inside a word: drop that word
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + "…"


def new_task_id(request: str) -> str:
    return f"{slugify(request)}-{uuid.uuid4().hex[:4]}"


#: The word that names the newest task wherever a task id is expected.
LAST = "last"


def matching_task_ids(ledger: Ledger, ref: str) -> list[str]:
    """The ids ``ref`` can mean: the exact id, the newest task for ``last``, else every id it begins."""
    if ledger.task(ref) is not None:
        return [ref]
    ids = ledger.task_ids()  # oldest first
    if ref == LAST:
        return ids[-1:]
    return [t for t in ids if t.startswith(ref)] if ref else []


def resolve_task_id(root: Path, ledger: Ledger, ref: str) -> str:
    """The one task id that ``ref`` (an id, a unique prefix of one, or ``last``) names; a UserError otherwise."""
    matches = matching_task_ids(ledger, ref)
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(matches[:8]) + (f" and {len(matches) - 8} more" if len(matches) > 8 else "")
        raise UserError(f"task id '{ref}' is ambiguous: it begins {len(matches)} tasks ({shown}); "
                        "type more of the id.")
    recent = ledger.task_ids()[-5:][::-1]  # newest first, as `status` lists them
    if not recent:
        raise UserError(f"no task '{ref}': {root} has no tasks yet. Start one with: "
                        "specrelay run \"describe the change\"")
    raise UserError(f"no task '{ref}' in {root}. Recent tasks: {', '.join(recent)} (or `{LAST}` for the newest). "
                    "`specrelay status` lists them all.")


def load_task(root: Path, ledger: Ledger, task_id: str) -> Task:
    """The task that ``task_id`` names (an id, a unique prefix, or ``last``), or a UserError saying why not."""
    row = ledger.task(resolve_task_id(root, ledger, task_id))
    assert row is not None
    return _task_from_row(root, row)


def _task_from_row(root: Path, row: TaskRow) -> Task:
    return Task(id=row.id, title=row.title, request=row.request, status=row.status, workflow=row.workflow,
                base_sha=row.base_sha, base_branch=row.base_branch, branch=row.branch, worktree=Path(row.worktree),
                folder=paths.task_dir(root, row.id), budget_usd=row.budget_usd, rounds=row.rounds,
                current_step=row.current_step, message=row.message, created_at=row.created_at,
                record_prompts=row.record_prompts)


def all_tasks(root: Path, ledger: Ledger) -> list[Task]:
    return [_task_from_row(root, r) for r in ledger.tasks()]


def resolve_base(root: Path, base: str | None, where: Path | None = None) -> tuple[str, str | None]:
    """The base commit and the branch the task will merge into. Refuses a dirty or detached base.

    ``where`` is the folder the command runs in: without ``base`` the task starts from the HEAD
    (and branch) of the worktree holding it, main or linked, not from the main worktree's. From
    inside a task's own worktree that is refused: it would stack a task on another by accident.
    """
    here = gitrepo.worktree_top(where) if where is not None else root
    task_of = _task_worktree_name(root, here)
    if task_of is not None and base is None:
        raise UserError(f"{here} is the worktree of task {task_of}; run specrelay from your own checkout ({root}), "
                        f"or pass --base {gitrepo.task_branch(task_of)} to build on that task's work.")
    if not gitrepo.has_commits(here):
        raise GitError(f"{here}: the repository has no commits yet; make a first commit, then run again.")
    if base is None:
        branch = gitrepo.current_branch(here)
        if branch is None:
            raise GitError(f"{here}: HEAD is detached, so a task would not know where to merge. "
                           "Check out a branch, or pass --base BRANCH.")
        dirty = gitrepo.is_dirty(here, untracked=False)
        if dirty:
            shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
            raise GitError(f"{here}: uncommitted changes ({shown}) would not be part of the task, which "
                           "starts from the last commit. Commit or stash them, or pass --base REF.")
        return gitrepo.head_sha(here), branch
    sha = gitrepo.resolve_ref(here, base)
    branch = base if gitrepo.branch_exists(root, base) else gitrepo.current_branch(here)
    return sha, branch


def _task_worktree_name(root: Path, here: Path) -> str | None:
    """The task id when ``here`` is a task's worktree (``.specrelay/worktrees/<id>``), else None."""
    folder = paths.worktrees_dir(root).resolve()
    return here.name if here.resolve().parent == folder else None


def prepare_workflow(root: Path, config: Config, name_or_path: str) -> Workflow:
    """Find, parse and validate a workflow, and check that the presets it uses are ready to run.

    The step kinds must be registered first (importing :mod:`specrelay.engine.steps` does it; the
    application layer's modules that read workflows import it).

    The validation is :func:`~specrelay.workflow.validate`'s, the same ``specrelay workflows`` shows.
    A verify step with no ``run:`` is valid even when ``[verify] commands`` is empty: it then records
    "no verification configured" (never a pass) with a note saying how to configure it, so a new
    project can run at once.
    """
    routes = config.route_table()
    workflow = with_routes(load_workflow(find_workflow(name_or_path, root)), routes)
    validate(workflow, config.presets, has_config_verify=True, routes=routes, families=config.families())
    check_keys(config, workflow)
    return workflow


def check_keys(config: Config, workflow: Workflow) -> None:
    """Every preset the workflow uses must have its key (or a fallback that has one), before anything runs.
    A preset pinned to a Temporal queue (``queue = "codex"``) is checked by the workers serving it, where
    its key and its agent are, not here."""
    names = [name for step in workflow.steps for name in step.team if not _pinned(config, name)]
    if config.review.consolidate and any(step.is_panel for step in workflow.steps):
        names.append(config.review.consolidate)
    # A cascade's later presets are called only if the first fails.
    first: Collection[str] = next((step.presets[:1] if step.cascade else step.presets
                                   for step in workflow.steps if step.presets), [])
    check_preset_keys(config, names, called=[n for n in first if n in names])
    check_agent_mode(config, workflow)


def _pinned(config: Config, name: str) -> bool:
    preset = config.presets.get(name)
    return preset is not None and bool(preset.queue)


def check_agent_mode(config: Config, workflow: Workflow) -> None:
    """A step in agent mode (``<!-- mode: agent -->``) runs specrelay's tool loop: each of its presets
    must call tools, or be an external agent (which runs its own). A step of a kind that always runs the
    loop (research) must have presets that call tools."""
    from specrelay.llm.backend import backend_class
    from specrelay.workflow import kinds

    for step in workflow.steps:
        spec = kinds.spec(step.kind)
        if spec is not None and spec.tool_loop:
            for name in step.presets:
                if not backend_class(config.preset(name)).calls_tools:
                    key = "agents" if step.is_panel else "agent"
                    raise PresetError(
                        f"{workflow.label}:{step.line_of(key)}: step '{step.title}' ({step.kind}) runs specrelay's "
                        f"tool loop, and preset '{name}' ({config.preset(name).provider}) cannot call tools; give "
                        "it a preset whose backend calls tools (an API model, or a scripted one)")
            continue
        if step.mode != "agent":
            continue
        for name in step.presets:
            backend = backend_class(config.preset(name))
            if not (backend.calls_tools or backend.edits_worktree):
                raise PresetError(
                    f"{workflow.label}:{step.line_of('mode')}: step '{step.title}' runs in agent mode "
                    f"('<!-- mode: agent -->'), and preset '{name}' ({config.preset(name).provider}) cannot call "
                    "tools; give the step a preset whose backend calls tools, or remove the directive")


#: What to do about a missing key when a workflow's steps name the preset.
WORKFLOW_KEY_FIX = "point the workflow's steps at presets you have keys for (`specrelay presets`)"


def check_preset_keys(config: Config, names: list[str], *, fix: str = WORKFLOW_KEY_FIX,
                      called: Collection[str] = ()) -> None:
    """Each named preset must exist and have its key, or a fallback that has one; ``fix`` says what
    else the user can do, in the words of the command that names the presets. ``called``: the
    presets certain to be called, whose replies file (scripted) may not be empty.

    Scripted presets (and scripted fallbacks) must have a replies file whose every item is valid,
    and a ``price_as`` the price table knows.
    """
    from specrelay.llm.backend import preflight

    missing: dict[str, str] = {}
    used: dict[str, Preset] = {}
    for name in names:
        preset = config.preset(name)
        chain = (preset, *(config.preset(f) for f in preset.fallbacks))
        used.update((p.name, p) for p in chain)
        if not [p for p in chain if p.key_present is not False]:
            missing[name] = " or ".join(preset.key_envs)
    if missing:
        raise missing_keys_error(missing, fix)
    preflight(used.values(), called=called)
    check_price_as(used.values())


def create_task(root: Path, ledger: Ledger, config: Config, request: str, *, workflow: Workflow,
                base: str | None = None, budget_usd: float | None = None, serialize: bool = False,
                resolved: tuple[str, str | None] | None = None, attachments: Sequence[Attachment] = (),
                task_id: str | None = None, record_prompts: bool = False) -> Task:
    """Make the task's folder, its copy of the workflow, its attachments, its branch and worktree, and its
    ledger rows.

    ``resolved`` is what :func:`resolve_base` gave for ``base``, when several tasks start from it.
    ``task_id``: the id to give it (chosen, and noted, by a caller that must never make the task twice);
    a new one from the request otherwise. ``record_prompts``: its calls keep their prompts in the ledger.
    """
    if not request.strip():
        raise UserError("the request is empty: say what to build, e.g. specrelay run \"Add a --verbose flag\".")
    base_sha, base_branch = resolved or resolve_base(root, base)
    task_id = task_id or new_task_id(request)
    folder = paths.task_dir(root, task_id)
    worktree = paths.worktree_dir(root, task_id)
    branch = gitrepo.task_branch(task_id)
    gitrepo.add_exclude(root)
    # A file or a read-only folder in the way is one clear line (git's own error for it is several).
    paths.make_dir(worktree.parent)
    paths.make_dir(folder, exist_ok=False)
    made_worktree = False
    try:
        atomic_write_text(folder / "request.md", request.rstrip() + "\n")
        atomic_write_text(folder / WORKFLOW_FILE, untick_all(workflow.source))
        save_attachments(folder, attachments)
        gitrepo.add_worktree(root, worktree, branch, base_sha)
        made_worktree = True
        title = task_title(request)
        with ledger.transaction():  # the task and its steps appear together, or not at all
            ledger.insert_task(
                id=task_id, title=title, request=request, status=TaskStatus.PAUSED, workflow=workflow.name,
                base_ref=base, base_sha=base_sha, base_branch=base_branch, branch=branch, worktree=str(worktree),
                rounds=1, current_step=workflow.steps[0].title,
                budget_usd=budget_usd if budget_usd is not None else config.budget.task_usd,
                record_prompts=record_prompts)
            ledger.put_steps(task_id, [NewStep(s.title, str(s.kind), s.team) for s in workflow.steps])
            if serialize:
                from specrelay.engine.loopstate import LoopState

                ledger.update_task(task_id, state=LoopState(serialize=True).dump())
    except BaseException:
        # Nothing of the user's is in a task that never started: undo it whole.
        if made_worktree:
            gitrepo.remove_worktree(root, worktree, force=True)
            gitrepo.delete_branch(root, branch, force=True)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return load_task(root, ledger, task_id)
