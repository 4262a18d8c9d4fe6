"""``specrelay workflows``: the available workflows, their steps and any problems; ``--show`` one.

Built-in workflows and the project's own (``.specrelay/workflows/NAME.md``, which override a
built-in of the same name) are listed together. Each is parsed and checked against the
configured presets by the validation ``run`` applies; a workflow with problems is listed with
each ``file:line`` error rather than stopping the listing, and the command then exits non-zero.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from specrelay.cli.common import console, print_json, repo_root_or_none
from specrelay.cli.root import app

if TYPE_CHECKING:
    from specrelay.config import Config
    from specrelay.errors import WorkflowError
    from specrelay.workflow import Step, WorkflowEntry

#: Files in ``.specrelay/workflows/`` that document the folder rather than define a workflow.
NOT_WORKFLOWS = frozenset({"readme"})


def available(root: Path | None) -> list[WorkflowEntry]:
    """The workflows of repository ``root`` (built-in only when ``None``), without the folder's README."""
    import specrelay.engine.steps  # noqa: F401  (registers the step kinds workflows are checked against)
    from specrelay.workflow import list_workflows

    return [entry for entry in list_workflows(root)
            if not (entry.source == "project" and entry.name.casefold() in NOT_WORKFLOWS)]


def _step_row(step: Step) -> dict[str, Any]:
    return {"title": step.title, "kind": step.kind, "presets": list(step.presets),
            "run": list(step.run), "max_rounds": step.max_rounds}


def describe(entry: WorkflowEntry, config: Config, builtin_names: set[str]) -> dict[str, Any]:
    """One workflow as a JSON-ready row; ``errors`` lists its problems (``error`` is the first, else None).

    The problems are those ``specrelay run`` refuses the workflow for: the same validation.
    """
    import specrelay.engine.steps  # noqa: F401  (registers the step kinds workflows are checked against)
    from specrelay.errors import WorkflowError
    from specrelay.workflow import DEFAULT_WORKFLOW, load_workflow, problems

    row: dict[str, Any] = {
        "name": entry.name, "source": entry.source, "path": str(entry.path),
        "default": entry.name == DEFAULT_WORKFLOW,
        "overrides_builtin": entry.source == "project" and entry.name in builtin_names,
        "summary": "", "steps": [], "error": None, "errors": [],
    }
    try:
        workflow = load_workflow(entry.path)
    except WorkflowError as exc:
        row["error"], row["errors"] = str(exc), [str(exc)]
        return row
    row["summary"] = workflow.summary
    row["steps"] = [_step_row(step) for step in workflow.steps]
    row["errors"] = [str(exc) for exc in problems(workflow, config.presets, has_config_verify=True)]
    row["error"] = row["errors"][0] if row["errors"] else None
    return row


def broken_error(rows: list[dict[str, Any]]) -> WorkflowError | None:
    """One line naming the workflows that cannot run and the first problem of each, or None."""
    from specrelay.errors import WorkflowError

    broken = [row for row in rows if row["errors"]]
    if not broken:
        return None
    if len(broken) == 1:
        return WorkflowError(f"workflow '{broken[0]['name']}' cannot run: {_first_problem(broken[0])}")
    return WorkflowError(f"{len(broken)} workflows cannot run: "
                         + "; ".join(f"{row['name']}: {_first_problem(row)}" for row in broken))


def _first_problem(row: dict[str, Any]) -> str:
    more = len(row["errors"]) - 1
    first: str = row["errors"][0]
    return first + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def _who(step: dict[str, Any], verify_commands: list[str]) -> str:
    """Who or what carries out a step, for the listing."""
    if step["run"]:
        return "run: " + "; ".join(step["run"])
    if len(step["presets"]) > 1:
        return "panel: " + ", ".join(step["presets"])
    if step["presets"]:
        return str(step["presets"][0])
    if _runs_commands(step["kind"]):
        return "[verify] commands: " + ("; ".join(verify_commands) if verify_commands else "(none set)")
    return "(no agent)"


def _runs_commands(kind: str) -> bool:
    """A step of this kind runs the configured commands when it names none."""
    from specrelay.workflow import kinds

    spec = kinds.spec(kind)
    return spec is not None and spec.commands


def _render(rows: list[dict[str, Any]], root: Path | None, verify_commands: list[str]) -> None:
    from rich.text import Text
    from rich.tree import Tree

    for row in rows:
        where = "built-in"
        if row["source"] == "project":
            path = Path(row["path"])
            shown = path.relative_to(root).as_posix() if root and path.is_relative_to(root) else str(path)
            where = f"project: {shown}" + (", overrides the built-in" if row["overrides_builtin"] else "")
        label = Text.assemble((row["name"], "bold"), "  ", (f"({where})", "cyan"),
                              ("  default" if row["default"] else "", "green"))
        if row["summary"]:
            label.append("\n" + row["summary"], style="dim")
        tree = Tree(label, guide_style="dim")
        steps = row["steps"]
        width = max((len(s["title"]) for s in steps), default=0)
        for number, step in enumerate(steps, 1):
            line = Text.assemble(f"{number}. ", (step["title"].ljust(width), "bold"), "  ",
                                 (step["kind"].ljust(9), "magenta"), "  ", _who(step, verify_commands))
            if step["max_rounds"] is not None:
                line.append(f" · at most {step['max_rounds']} rounds", style="dim")
            tree.add(line)
        console.print(tree)
        for problem in row["errors"]:
            # soft_wrap: the file:line of the error stays on one line, so terminals can open it.
            console.print(Text.assemble(("  ✗ ", "bold red"), (problem, "red")), soft_wrap=True)
        console.print()
    console.print(Text("Copy one with `specrelay workflows --show NAME > .specrelay/workflows/NAME.md`; "
                       "a project workflow overrides the built-in of the same name.", style="dim"))


def _show(name: str, root: Path | None, config: Config, json_out: bool) -> None:
    from specrelay.errors import WorkflowError
    from specrelay.workflow import builtin_workflows
    from specrelay.workflow.parse import did_you_mean

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
    row = describe(entry, config, set(builtin_workflows()))
    if json_out:
        print_json({"name": entry.name, "source": entry.source, "path": str(entry.path),
                    "text": data.decode("utf-8", errors="replace"), "errors": row["errors"]})
    else:
        # The bytes as they are, so `--show NAME > .specrelay/workflows/NAME.md` makes an exact copy.
        sys.stdout.flush()
        sys.stdout.buffer.write(data if data.endswith(b"\n") or not data else data + b"\n")
        sys.stdout.flush()
    problem = broken_error([row])
    if problem is not None:  # shown, so it can be copied and fixed, but not passed as runnable
        raise problem


@app.command("workflows")
def workflows_command(
    show: str | None = typer.Option(
        None, "--show", metavar="NAME",
        help="Print the Markdown of workflow NAME, to copy into .specrelay/workflows/."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a listing."),
) -> None:
    """List the workflows (built-in and this project's), their steps and any problems in them."""
    from specrelay.config import load_config
    from specrelay.workflow import builtin_workflows

    root = repo_root_or_none()
    config = load_config(root)
    if show is not None:
        _show(show, root, config, json_out)
        return
    builtin_names = set(builtin_workflows())
    rows = [describe(entry, config, builtin_names) for entry in available(root)]
    if json_out:
        print_json(rows)
    else:
        _render(rows, root, list(config.verify.commands))
    problem = broken_error(rows)
    if problem is not None:  # every workflow is listed first; the exit code says some cannot run
        raise problem
