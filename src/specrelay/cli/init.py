"""``specrelay init``: set up ``.specrelay/`` in a repository (see :mod:`specrelay.app.init`), and say what
was done."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from specrelay.cli.common import console, print_json, repo_root
from specrelay.cli.root import app

if TYPE_CHECKING:
    from specrelay.app.init import InitResult


def _render(result: InitResult) -> None:
    from rich.markup import escape

    console.print(f"specrelay init in {escape(str(result.root))}")
    for path in result.created:
        console.print(f"  [green]created[/] {escape(path)}")
    for path in result.kept:
        console.print(f"  [dim]kept existing[/] {escape(path)}")
    from specrelay.app.init import exclude_pattern

    pattern, exclude = escape(exclude_pattern()), escape(result.exclude_file)
    if result.exclude_added:
        console.print(f"  [green]added[/] {pattern} to {exclude} (your .gitignore is not touched)")
    else:
        console.print(f"  [dim]kept existing[/] {pattern} line in {exclude}")
    _render_detected(result)
    if not result.created and not result.exclude_added:
        console.print("Nothing to do: this repository was already set up.")
    console.print()
    console.print("Next steps:")
    steps = [
        ("specrelay presets", "see the models, and whether their API keys are set"),
        ("specrelay workflows", "see the workflows and their steps"),
        ('specrelay run "..."', "run a task through the default workflow"),
    ]
    for command, what in steps:
        console.print(f"  [bold]{command:<22}[/] {what}")
    console.print(_closing_hint(result), markup=False)


def _closing_hint(result: InitResult) -> str:
    """Where the settings are; asks for [verify] commands only when init did not just write them."""
    if not result.verify_written:  # a config of the user's, kept as it is
        return "Every setting is in .specrelay/config.toml."
    if any(d.sure for d in result.detected):
        return ("[verify] commands now runs the tests init detected; add your linter there, and anything "
                "else in .specrelay/config.toml: every other setting is there as a commented-out example.")
    return ("Set [verify] commands (your tests, your linter) and anything else in "
            ".specrelay/config.toml: every other setting is there as a commented-out example.")


def _render_detected(result: InitResult) -> None:
    """What init found of the project's tests, and where in the new config it went (a kept config is
    left alone, and not talked about: ``--json`` still reports what was detected)."""
    from rich.markup import escape

    if not result.verify_written:
        return
    if not result.detected:
        console.print("  [yellow]no test command detected[/]: until \\[verify] commands is set, tasks run "
                      "with no verification")
    for d in result.detected:
        if d.sure:
            console.print(f"  [green]detected[/] {escape(d.command)} (from {escape(d.source)}) → "
                          "\\[verify] commands")
        else:
            console.print(f"  [yellow]not sure of[/] {escape(d.command)} ({escape(d.note)}) → "
                          "left commented out in \\[verify]")


@app.command("init")
def init_command(json_out: bool = typer.Option(False, "--json", help="Print what was done as JSON.")) -> None:
    """Set up .specrelay/ in this repository: a config (with your test command when one is detected), a
    workflows folder, a git exclude."""
    from specrelay.app.init import initialize

    result = initialize(repo_root())
    if json_out:
        print_json(result.to_json())
        return
    _render(result)
