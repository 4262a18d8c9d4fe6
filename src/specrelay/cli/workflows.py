"""``specrelay workflows``: the available workflows, their steps and any problems; ``--show`` one.

What is listed and checked is :mod:`specrelay.app.workflows`'s; a workflow with problems is listed
with each ``file:line`` error, and the command then exits non-zero.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from specrelay.cli.common import console, print_json, repo_root_or_none
from specrelay.cli.root import app

if TYPE_CHECKING:
    from specrelay.app.workflows import StepInfo, WorkflowInfo


def _who(step: StepInfo, verify_commands: list[str]) -> str:
    """Who or what carries out a step, for the listing."""
    if step.run:
        return "run: " + "; ".join(step.run)
    named = [p if r is None else f"{p} ({r})" for p, r in zip(step.presets, step.routes or [None] * len(step.presets),
                                                             strict=True)]
    if step.challenger:
        against = step.challenger if step.challenger_route is None else f"{step.challenger} ({step.challenger_route})"
        return f"{', '.join(named)} vs {against}"
    if step.cascade:
        return "cascade: " + " > ".join(named)
    if len(named) > 1:
        return "panel: " + ", ".join(named)
    if named:
        return named[0]
    from specrelay.app.workflows import runs_configured_commands

    if runs_configured_commands(step.kind):
        return "[verify] commands: " + ("; ".join(verify_commands) if verify_commands else "(none set)")
    return "(no agent)"


def _render(items: list[WorkflowInfo], root: Path | None, verify_commands: list[str]) -> None:
    from rich.text import Text
    from rich.tree import Tree

    for info in items:
        where = "built-in"
        if info.source == "project":
            path = Path(info.path)
            shown = path.relative_to(root).as_posix() if root and path.is_relative_to(root) else str(path)
            where = f"project: {shown}" + (", overrides the built-in" if info.overrides_builtin else "")
        label = Text.assemble((info.name, "bold"), "  ", (f"({where})", "cyan"),
                              ("  default" if info.default else "", "green"))
        if info.summary:
            label.append("\n" + info.summary, style="dim")
        tree = Tree(label, guide_style="dim")
        width = max((len(s.title) for s in info.steps), default=0)
        for number, step in enumerate(info.steps, 1):
            line = Text.assemble(f"{number}. ", (step.title.ljust(width), "bold"), "  ",
                                 (step.kind.ljust(9), "magenta"), "  ", _who(step, verify_commands))
            if step.max_rounds is not None:
                rounds = "round" if step.max_rounds == 1 else "rounds"
                line.append(f" · at most {step.max_rounds} {rounds}", style="dim")
            tree.add(line)
        console.print(tree)
        for problem in info.errors:
            # soft_wrap: the file:line of the error stays on one line, so terminals can open it.
            console.print(Text.assemble(("  ✗ ", "bold red"), (problem, "red")), soft_wrap=True)
        console.print()
    console.print(Text("Copy one with `specrelay workflows --show NAME > .specrelay/workflows/NAME.md`; "
                       "a project workflow overrides the built-in of the same name.", style="dim"))


def _show(name: str, root: Path | None, json_out: bool) -> None:
    from specrelay.app.workflows import workflow_text

    shown = workflow_text(root, name)
    if json_out:
        print_json(shown.to_json())
    else:
        # The bytes as they are, so `--show NAME > .specrelay/workflows/NAME.md` makes an exact copy.
        data = shown.data
        sys.stdout.flush()
        sys.stdout.buffer.write(data if data.endswith(b"\n") or not data else data + b"\n")
        sys.stdout.flush()
    problem = shown.broken()
    if problem is not None:  # shown, so it can be copied and fixed, but not passed as runnable
        raise problem


workflows_app = typer.Typer(no_args_is_help=False, add_completion=False)
app.add_typer(workflows_app, name="workflows")


@workflows_app.callback(invoke_without_command=True)
def workflows_command(
    ctx: typer.Context,
    show: str | None = typer.Option(
        None, "--show", metavar="NAME",
        help="Print the Markdown of workflow NAME, to copy into .specrelay/workflows/."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a listing."),
) -> None:
    """List the workflows (built-in and this project's), their steps and any problems in them."""
    if ctx.invoked_subcommand is not None:
        return
    from specrelay.app.workflows import workflows

    root = repo_root_or_none()
    if show is not None:
        _show(show, root, json_out)
        return
    listing = workflows(root)
    if json_out:
        print_json([w.to_json() for w in listing.items])
    else:
        _render(listing.items, root, listing.verify_commands)
    problem = listing.broken()
    if problem is not None:  # every workflow is listed first; the exit code says some cannot run
        raise problem


@workflows_app.command("save")
def save_command(
    name: str = typer.Argument(..., help="The project workflow to write: .specrelay/workflows/NAME.md."),
    from_task: str = typer.Option(..., "--from", metavar="TASK", help="The task whose workflow to save."),
    force: bool = typer.Option(False, "--force", help="Replace a project workflow of that name."),
    json_out: bool = typer.Option(False, "--json", help="Print what was saved as JSON."),
) -> None:
    """Save the workflow a task ran, with the presets its steps used, as a project workflow."""
    from specrelay.app.workflows import save_workflow
    from specrelay.cli.common import repo_root

    saved = save_workflow(repo_root(), name, from_task, force=force)
    if json_out:
        print_json(saved.to_json())
        return
    routes = ", ".join(f"{r} → {p}" for r, p in saved.resolved.items())
    console.print(f"{'Replaced' if saved.replaced else 'Saved'} {saved.path} from task {saved.task_id}"
                  + (f" (routes: {routes})" if routes else "") + f"; run it with --workflow {saved.name}.",
                  markup=False, soft_wrap=True)
