"""Setting up ``.specrelay/`` in a repository, never overwriting what is there.

Creates ``.specrelay/config.toml`` (every setting as a commented-out example, so it changes
nothing until edited, except the project's test command when one is detected: it is written into
``[verify] commands``, commented out where init is not sure of it), ``.specrelay/workflows/`` with a
README, and keeps ``.specrelay/`` out of git through ``.git/info/exclude`` (private to this clone;
the user's ``.gitignore`` is never touched). Running it again changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from specrelay import paths
from specrelay.engine.detect_verify import Detected, detect_verify_commands
from specrelay.errors import UserError
from specrelay.gitrepo import add_exclude, git_common_dir

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

A step's kind is `<!-- kind: KIND -->`, or inferred from its title: plan,
implement, verify, review, research (read-only scouts writing research.md for
the plan), second-opinion (another model checks spec.md before the build),
debate (the agent proposes, `<!-- challenger: PRESET -->` of another family
argues back point by point, the agent writes the consensus spec.md; at most
`<!-- max-rounds: N -->` follow-up rounds, default 1).
`<!-- agent: @plan -->` names the preset of a route ([routes] in config.toml)
instead of a preset. On a build step, `<!-- agent: cheap > stronger -->` is a
cheap-first cascade: the next preset takes over when the one before fails
(edits that do not apply, verification still failing, or review sending the
work back for `<!-- escalate-after: N -->` rounds, default 1).
`specrelay routes suggest` reads your ledger and says which cheaper preset did
as well, per kind of step.
"""


@dataclass
class InitResult:
    """What ``init`` did: paths relative to the repository root, created or kept as they were."""

    root: Path
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    exclude_file: str = ""
    exclude_added: bool = False
    #: The test commands found in the repository, and whether they went into a config created now.
    detected: list[Detected] = field(default_factory=list)
    verify_written: bool = False

    def to_json(self) -> dict[str, object]:
        """The ``--json`` shape: ``{created, kept, root, exclude, verify}``."""
        return {
            "created": self.created,
            "kept": self.kept,
            "root": str(self.root),
            "exclude": {"file": self.exclude_file, "pattern": exclude_pattern(),
                        "added": self.exclude_added},
            "verify": {"detected": [d.to_json() for d in self.detected],
                       "commands": [d.command for d in self.detected if d.sure],
                       "written": self.verify_written},
        }


def exclude_pattern() -> str:
    """The line that keeps specrelay's folder out of git."""
    return f"{paths.PROJECT_DIRNAME}/"


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

    if path.is_dir():
        return False
    paths.make_dir(path)  # a file in the way: the one message every command gives for it
    return True


def template_text() -> str:
    """The commented config template shipped with specrelay."""
    return (paths.data_dir() / TEMPLATE_NAME).read_text(encoding="utf-8")


def config_text(detected: list[Detected]) -> str:
    """The template, with the detected test commands written into its ``[verify]`` example: the sure
    ones as ``commands``, the others commented out with what init is unsure of."""
    template = template_text()
    if not detected:
        return template
    block = _verify_block(detected)
    if any(d.sure for d in detected):  # the header must stay true of the file it heads
        template = template.replace(
            "## Everything below is commented out, so as written this file changes nothing.",
            "## Everything below is commented out except [verify] commands, which `specrelay init`\n"
            "## detected from this repository.")
    lines = template.splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if line.strip() == "# [verify]"), None)
    if at is None or at + 1 >= len(lines) or not lines[at + 1].startswith("# commands ="):
        return template.rstrip("\n") + "\n\n" + block  # the example moved: add the block at the end
    return "".join(lines[:at]) + block + "".join(lines[at + 2:])


def _verify_block(detected: list[Detected]) -> str:
    sure = [d for d in detected if d.sure]
    unsure = [d for d in detected if not d.sure]
    out = []
    if sure:
        out.append(f"## Detected by `specrelay init` from {', '.join(d.source for d in sure)}.\n")
        out.append("[verify]\n")
        out.append(f"commands = {json.dumps([d.command for d in sure])}\n")
    for d in unsure:
        out.append(f"## Detected by `specrelay init` from {d.source}, but not sure: {d.note}. "
                   "Check that it runs, then uncomment.\n")
    if unsure:
        out.append("" if sure else "# [verify]\n")
        out.append(f"# commands = {json.dumps([d.command for d in detected])}\n")
    return "".join(out)


def initialize(root: Path) -> InitResult:
    """Create what is missing of ``.specrelay/`` in repository ``root``; keep everything that exists."""
    result = InitResult(root=root)

    def note(made: bool, path: Path, suffix: str = "") -> None:
        (result.created if made else result.kept).append(_relative(path, root) + suffix)

    _create_dir(paths.project_dir(root), root)
    config = paths.project_config(root)
    if config.is_dir():
        raise UserError(f"{_relative(config, root)} is a folder, but specrelay needs a file there. "
                        "Move or rename it, then run `specrelay init` again.")
    result.detected = detect_verify_commands(root)
    result.verify_written = _create_file(config, config_text(result.detected))
    note(result.verify_written, config)
    workflows = paths.project_workflows(root)
    note(_create_dir(workflows, root), workflows, "/")
    readme = workflows / "README.md"
    note(_create_file(readme, WORKFLOWS_README), readme)
    result.exclude_added = add_exclude(root, exclude_pattern())
    result.exclude_file = _relative(git_common_dir(root) / "info" / "exclude", root)
    return result
