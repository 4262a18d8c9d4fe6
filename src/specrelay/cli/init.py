"""``specrelay init``: set up ``.specrelay/`` in a repository, never overwriting what is there.

Creates ``.specrelay/config.toml`` (every setting as a commented-out example, so it changes
nothing until edited), ``.specrelay/workflows/`` with a README, and keeps ``.specrelay/`` out of
git through ``.git/info/exclude`` (private to this clone; the user's ``.gitignore`` is never
touched). Running it again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer

from specrelay.cli import app
from specrelay.cli.common import console, print_json, repo_root

#: The package-data file ``.specrelay/config.toml`` is created from.
TEMPLATE_NAME = "config_template.toml"

WORKFLOWS_README = """\
# Project workflows

A workflow is a Markdown file whose `### [ ] Step: Title` headings are bound to
model presets by HTML comments right under them, for example:

    ### [ ] Step: Planning
    <!-- agent: opus-planner -->
    Analyze the requirements and write spec.md.

A file `NAME.md` in this folder overrides the built-in workflow `NAME`, or adds
a new workflow called `NAME`. To start from a built-in one, copy it here:

    specrelay workflows                       # list them, with their steps
    specrelay workflows --show multi-model > .specrelay/workflows/multi-model.md

then edit the copy. `specrelay workflows` also checks every workflow here and
points at the file and line of any problem. (This README is not a workflow.)
"""


@dataclass
class InitResult:
    """What ``init`` did: paths relative to the repository root, created or kept as they were."""

    root: Path
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    exclude_file: str = ""
    exclude_added: bool = False

    def to_json(self) -> dict[str, object]:
        """The ``--json`` shape: ``{created, kept, root, exclude}``."""
        return {
            "created": self.created,
            "kept": self.kept,
            "root": str(self.root),
            "exclude": {"file": self.exclude_file, "pattern": _exclude_pattern(),
                        "added": self.exclude_added},
        }


def _exclude_pattern() -> str:
    from specrelay.paths import PROJECT_DIRNAME

    return f"{PROJECT_DIRNAME}/"


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _create_file(path: Path, text: str) -> bool:
    """Write ``text`` to a new file at ``path``; False (and nothing written) when it already exists."""
    try:
        # "x": the check and the creation are one step, so a file made meanwhile is never overwritten.
        with open(path, "x", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except FileExistsError:
        return False
    return True


def _create_dir(path: Path, root: Path) -> bool:
    """Create the folder ``path``; False when it already exists; a UserError when a file is in the way."""
    from specrelay.errors import UserError

    if path.is_dir():
        return False
    if path.exists():
        raise UserError(f"{_relative(path, root)} is a file, but specrelay needs a folder there. "
                        "Move or rename it, then run `specrelay init` again.")
    path.mkdir(parents=True, exist_ok=True)
    return True


def template_text() -> str:
    """The commented config template shipped with specrelay."""
    from specrelay import paths

    return (paths.data_dir() / TEMPLATE_NAME).read_text(encoding="utf-8")


def initialize(root: Path) -> InitResult:
    """Create what is missing of ``.specrelay/`` in repository ``root``; keep everything that exists."""
    from specrelay import paths
    from specrelay.gitrepo import add_exclude, git_common_dir

    result = InitResult(root=root)

    def note(made: bool, path: Path, suffix: str = "") -> None:
        (result.created if made else result.kept).append(_relative(path, root) + suffix)

    _create_dir(paths.project_dir(root), root)
    config = paths.project_config(root)
    if config.is_dir():
        from specrelay.errors import UserError

        raise UserError(f"{_relative(config, root)} is a folder, but specrelay needs a file there. "
                        "Move or rename it, then run `specrelay init` again.")
    note(_create_file(config, template_text()), config)
    workflows = paths.project_workflows(root)
    note(_create_dir(workflows, root), workflows, "/")
    readme = workflows / "README.md"
    note(_create_file(readme, WORKFLOWS_README), readme)
    result.exclude_added = add_exclude(root, _exclude_pattern())
    result.exclude_file = _relative(git_common_dir(root) / "info" / "exclude", root)
    return result


def _render(result: InitResult) -> None:
    from rich.markup import escape

    console.print(f"specrelay init in {escape(str(result.root))}")
    for path in result.created:
        console.print(f"  [green]created[/] {escape(path)}")
    for path in result.kept:
        console.print(f"  [dim]kept existing[/] {escape(path)}")
    pattern, exclude = escape(_exclude_pattern()), escape(result.exclude_file)
    if result.exclude_added:
        console.print(f"  [green]added[/] {pattern} to {exclude} (your .gitignore is not touched)")
    else:
        console.print(f"  [dim]kept existing[/] {pattern} line in {exclude}")
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
    console.print("Set [verify] commands (your tests, your linter) and anything else in "
                  ".specrelay/config.toml: every setting is there as a commented-out example.",
                  markup=False)


@app.command("init")
def init_command(json_out: bool = typer.Option(False, "--json", help="Print what was done as JSON.")) -> None:
    """Set up .specrelay/ in this repository: a commented config, a workflows folder, a git exclude."""
    result = initialize(repo_root())
    if json_out:
        print_json(result.to_json())
        return
    _render(result)
