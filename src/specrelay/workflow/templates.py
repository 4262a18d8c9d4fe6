"""Find workflow templates: built-in ones shipped as package data, and a project's own.

A project's ``.specrelay/workflows/NAME.md`` overrides the built-in ``NAME``; a path to an
existing file overrides both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple

from specrelay import paths
from specrelay.errors import WorkflowError
from specrelay.workflow.parse import did_you_mean

#: The workflow a task runs when none is named.
DEFAULT_WORKFLOW = "multi-model"

Source = Literal["built-in", "project"]


class WorkflowEntry(NamedTuple):
    """One available workflow: its name, its file, and where it comes from."""

    name: str
    path: Path
    source: Source


def _md_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    # A README in the folder explains it; it is not a workflow.
    return {p.stem: p for p in sorted(folder.glob("*.md")) if p.is_file() and p.stem.lower() != "readme"}


def builtin_workflows() -> dict[str, Path]:
    """The built-in templates, name → file, sorted by name."""
    return _md_files(paths.data_dir() / "workflows")


def list_workflows(root: Path | None) -> list[WorkflowEntry]:
    """Every workflow available in repository ``root`` (built-in only when ``None``), sorted by name.

    A project workflow that shares a built-in's name replaces it in the list.
    """
    found = {name: WorkflowEntry(name, path, "built-in") for name, path in builtin_workflows().items()}
    if root is not None:
        for name, path in _md_files(paths.project_workflows(root)).items():
            found[name] = WorkflowEntry(name, path, "project")
    return [found[name] for name in sorted(found)]


def _looks_like_path(name_or_path: str) -> bool:
    return "/" in name_or_path or "\\" in name_or_path or name_or_path.startswith("~")


def find_workflow(name_or_path: str, root: Path | None = None) -> Path:
    """The workflow file for ``name_or_path``.

    An existing file path wins; otherwise ``NAME`` (or ``NAME.md``) is looked up in
    ``root``'s ``.specrelay/workflows/`` first, then among the built-in templates.
    """
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        return candidate
    if _looks_like_path(name_or_path):
        raise WorkflowError(f"{name_or_path}: no such workflow file. Check the path, or give a "
                            "workflow name instead")
    name = name_or_path.removesuffix(".md")
    entries = {entry.name: entry for entry in list_workflows(root)}
    if name in entries:
        return entries[name].path
    available = ", ".join(f"{e.name} (project)" if e.source == "project" else e.name
                          for e in entries.values()) or "(none)"
    hint = did_you_mean(name, list(entries)).strip() or "Give one of these names, or a path to a .md file"
    raise WorkflowError(f"unknown workflow '{name}'; available: {available}. {hint}")
