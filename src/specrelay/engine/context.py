"""Fresh contexts for each phase, built from files only: rules, request, repo map, spec, files, diff.

A :class:`Context` keeps its parts apart so that the ledger can record how many tokens each took.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from specrelay.gitrepo import tracked_files
from specrelay.llm import estimate_tokens

RULES_FILES = ("AGENTS.md", "CLAUDE.md", "CONVENTIONS.md", ".specrelay/rules.md")
README_NAMES = ("README.md", "README.rst", "README.txt", "README")
MAP_TOKENS = 4000
README_TOKENS = 1500
FILES_TOKENS = 24000


@dataclass
class Context:
    """Named parts of one prompt, rendered as Markdown sections in insertion order."""

    parts: dict[str, tuple[str, str]] = field(default_factory=dict)  # key → (heading, text)

    def add(self, key: str, heading: str, text: str) -> None:
        if text.strip():
            self.parts[key] = (heading, text.strip())

    def render(self) -> str:
        return "\n\n".join(f"## {heading}\n\n{text}" for heading, text in self.parts.values()) + "\n"

    def token_counts(self) -> dict[str, int]:
        return {key: estimate_tokens(text) for key, (_, text) in self.parts.items()}


def read_rules(*roots: Path) -> str:
    """The project's own rules files, each under its name, from the first of ``roots`` that has it.

    A task passes its worktree (tracked rules, as of the task's base) then the main repository
    (rules that live only there, such as the git-excluded ``.specrelay/rules.md``).
    """
    out = []
    for name in RULES_FILES:
        path = next((r / name for r in roots if (r / name).is_file()), None)
        if path is not None:
            out.append(f"### {name}\n\n{_read(path)}")
    return "\n\n".join(out)


def read_readme(root: Path, budget: int = README_TOKENS) -> str:
    for name in README_NAMES:
        path = root / name
        if path.is_file():
            return cut_to_tokens(_read(path), budget)
    return ""


def repo_map(root: Path, budget: int = MAP_TOKENS) -> str:
    """Tracked files, with the top-level definitions of Python files, cut to a token budget."""
    lines: list[str] = []
    used = 0
    files = [f for f in tracked_files(root) if not f.startswith(".specrelay/")]
    for rel in files:
        entry = rel
        if rel.endswith(".py"):
            defs = python_outline(root / rel)
            if defs:
                entry += "\n" + "\n".join(f"    {d}" for d in defs)
        cost = estimate_tokens(entry) + 1
        if used + cost > budget:
            lines.append(f"... and {len(files) - len(lines)} more files")
            break
        lines.append(entry)
        used += cost
    return "\n".join(lines)


def python_outline(path: Path) -> list[str]:
    """Top-level classes and functions of a Python file (with class methods), or [] if it does not parse.

    Parsing is the slow part of a repo map, and the tasks of one process share their base's files,
    so an outline is worked out once per file content (remembered by digest, not by text).
    """
    source = _read(path)
    key = hashlib.blake2b(source.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    outline = _outlines.get(key)
    if outline is None:
        if len(_outlines) >= 8192:
            _outlines.clear()
        outline = _outlines[key] = _outline(source)
    return list(outline)


_outlines: dict[bytes, tuple[str, ...]] = {}


def _outline(source: str) -> tuple[str, ...]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    out = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out.append(f"def {node.name}({_args(node)})")
        elif isinstance(node, ast.ClassDef):
            methods = [n.name for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
            out.append(f"class {node.name}" + (f": {', '.join(methods)}" if methods else ""))
    return tuple(out)


def _args(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    return ", ".join(a.arg for a in node.args.args)


_SECTION = re.compile(r"^#{1,6}\s*(.+?)\s*#*\s*$", re.MULTILINE)
_PATH_IN_LINE = re.compile(r"`([^`\s]+)`|^\s*(?:[-*+]|\d+\.)\s+(?:\*\*)?([\w./-]+\.\w+|[\w./-]+/)")


def spec_section(spec: str, name: str) -> str | None:
    """The body of the spec section whose heading contains ``name`` (case-insensitive), or None."""
    heads = list(_SECTION.finditer(spec))
    for i, m in enumerate(heads):
        if name.lower() in m.group(1).lower():
            end = heads[i + 1].start() if i + 1 < len(heads) else len(spec)
            return spec[m.end():end]
    return None


def affected_files(spec: str) -> list[str]:
    """Relative paths listed in the spec's "Affected files" section, in order, without duplicates."""
    body = spec_section(spec, "affected files")
    if body is None:
        return []
    found: list[str] = []
    for line in body.splitlines():
        for m in _PATH_IN_LINE.finditer(line):
            path = (m.group(1) or m.group(2) or "").strip().rstrip(":,")
            if _looks_like_path(path) and path not in found:
                found.append(path)
    return found


def _looks_like_path(text: str) -> bool:
    return bool(text) and not text.startswith(("/", "http")) and ".." not in text.split("/") and (
        "." in text.rsplit("/", 1)[-1] or "/" in text)


def file_contents(root: Path, rels: list[str], budget: int = FILES_TOKENS) -> str:
    """The current contents of files, fenced and named; missing ones marked as new."""
    out = []
    used = 0
    for rel in rels:
        path = root / rel
        if not path.is_file():
            out.append(f"### {rel}\n\n(does not exist yet: create it)")
            continue
        text = _read(path)
        cost = estimate_tokens(text)
        if used + cost > budget:
            out.append(f"### {rel}\n\n(not shown: over the context budget; {cost} tokens)")
            continue
        used += cost
        out.append(f"### {rel}\n\n```\n{text}{'' if text.endswith(chr(10)) else chr(10)}```")
    return "\n\n".join(out)


def cut_to_tokens(text: str, budget: int) -> str:
    limit = budget * 4
    if len(text) <= limit:
        return text
    return text[:limit].rsplit("\n", 1)[0] + "\n... (cut)"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
