"""The architecture, checked: DESIGN.md's layer picture, read from every module's imports.

Every ``import`` in ``src/specrelay`` counts, at the top of a module or inside a function (a lazy
import still ties the two modules together; it only defers the cost). The rules:

- no cycle between modules, and none between the top-level packages;
- no import runs upward: faces → app → engine → workflow / llm / edits / gitrepo / ledger →
  config, paths, errors, proc, fsutil, text, registry, family (siblings of one layer may import each other);
- provider SDKs and pydantic-ai are imported only inside ``llm/backends/``;
- a face (``cli/``) imports the application layer, never past it into the engine or below
  (the foundation modules it may use); the CLI starts another face through its ``server`` module alone.

``from pkg import name`` reads ``pkg``'s namespace, so it depends on ``pkg/__init__`` as well as on
``pkg.name``: written inside ``pkg`` while ``pkg/__init__`` is still importing, it works only by
Python's fallback to loading the submodule. ``import pkg.name`` and ``from pkg.name import x``
depend on the module alone.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
ROOT = "specrelay"

#: Each top-level part of the package and its layer: a module may import its own layer or lower ones.
LAYERS: dict[str, int] = {
    **dict.fromkeys(("cli", "mcp", "web", "__main__"), 4),
    "app": 3,
    "engine": 2,
    **dict.fromkeys(("workflow", "llm", "edits", "gitrepo", "ledger"), 1),
    **dict.fromkeys(("config", "paths", "errors", "proc", "fsutil", "text", "registry", "family", "__init__"), 0),
}
FACES = ("cli", "mcp", "web")
#: What a face may import besides the application layer and itself: the foundation.
FACE_MAY_IMPORT = {part for part, layer in LAYERS.items() if layer == 0} | {"app"}
#: Top-level modules of provider SDKs (and pydantic-ai, which wraps them).
SDKS = {"pydantic_ai", "pydantic_ai_slim", "anthropic", "openai", "google", "groq", "mistralai", "cohere",
        "huggingface_hub", "boto3", "botocore"}
BACKENDS = f"{ROOT}.llm.backends"

#: Imports of an SDK outside llm/backends/ that exist today: (module, SDK).
SDK_EXCEPTIONS: set[tuple[str, str]] = set()
#: Face modules that still reach past app/ today: (module, the part it reaches). Empty: keep it so.
FACE_EXCEPTIONS: set[tuple[str, str]] = set()
#: What the command line may import of another face: the module it is served from (``specrelay serve``).
FACE_ENTRIES = {f"{ROOT}.{face}.server" for face in FACES if face != "cli"}


@dataclass(frozen=True)
class Import:
    """One module's dependency on another module of the package, or on a third-party top-level module."""

    importer: str
    target: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.importer}:{self.line} imports {self.target}"


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name, for its ``__init__``)."""
    found: dict[str, Path] = {}
    for path in sorted((SRC / ROOT).rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        if "data" in rel.parts:  # the demo project shipped as package data is not specrelay's code
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        found[".".join(parts)] = path
    return found


MODULES = module_files()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _base(importer: str, node: ast.ImportFrom) -> str:
    """The module a ``from ... import`` names, relative imports resolved against the importer."""
    if not node.level:
        return node.module or ""
    package = importer if _is_package(importer) else importer.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _targets(importer: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    base = _base(importer, node)
    yield base  # the package's namespace is read (its __init__ runs first, whatever is imported from it)
    for alias in node.names:
        if f"{base}.{alias.name}" in MODULES:
            yield f"{base}.{alias.name}"


def imports_of(name: str) -> list[Import]:
    """Every import in the module, wherever it stands, as dependencies on modules (or SDK top-levels)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    out: list[Import] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for target in _targets(name, node):
            if target == ROOT or target.startswith(ROOT + "."):
                # a name inside a module (``from specrelay.x import f``) is a dependency on the module
                while target not in MODULES:
                    target = target.rpartition(".")[0]
            if target != name:
                out.append(Import(name, target, node.lineno))
    return out


ALL = [imp for name in MODULES for imp in imports_of(name)]
INTERNAL = [imp for imp in ALL if imp.target.startswith(ROOT)]


def part(module: str) -> str:
    """The top-level part of the package a module belongs to: ``engine`` for ``specrelay.engine.runner``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, as the nodes along it (the first repeated at the end); None if there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_every_part_of_the_package_has_a_layer() -> None:
    unplaced = sorted({part(m) for m in MODULES} - set(LAYERS))
    assert not unplaced, f"place {unplaced} in LAYERS (and in DESIGN.md's layer picture)"


def test_no_cycle_between_modules() -> None:
    edges: dict[str, set[str]] = {}
    for imp in INTERNAL:
        edges.setdefault(imp.importer, set()).add(imp.target)
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_no_cycle_between_packages() -> None:
    edges: dict[str, set[str]] = {}
    for imp in INTERNAL:
        if part(imp.importer) != part(imp.target):
            edges.setdefault(part(imp.importer), set()).add(part(imp.target))
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle between packages: " + " → ".join(cycle or [])


def test_no_import_runs_upward() -> None:
    upward = [imp.where for imp in INTERNAL
              if part(imp.importer) in LAYERS and part(imp.target) in LAYERS
              and LAYERS[part(imp.target)] > LAYERS[part(imp.importer)]]
    assert not upward, "imports that run upward in the layer picture:\n" + "\n".join(upward)


def test_sdks_only_inside_llm_backends() -> None:
    found = {(imp.importer, imp.target.split(".")[0]): imp for imp in ALL
             if imp.target.split(".")[0] in SDKS and not
             (imp.importer == BACKENDS or imp.importer.startswith(BACKENDS + "."))}
    outside = sorted(found[key].where for key in set(found) - SDK_EXCEPTIONS)
    assert not outside, "SDK imports outside llm/backends/:\n" + "\n".join(outside)
    gone = sorted(SDK_EXCEPTIONS - set(found))
    assert not gone, f"no longer imported there: remove {gone} from SDK_EXCEPTIONS"


def test_faces_import_only_the_application_layer() -> None:
    found = {(imp.importer, part(imp.target)): imp for imp in INTERNAL
             if part(imp.importer) in FACES and part(imp.target) not in {part(imp.importer), *FACE_MAY_IMPORT}
             and not (part(imp.importer) == "cli" and imp.target in FACE_ENTRIES)}
    past = sorted(found[key].where for key in set(found) - FACE_EXCEPTIONS)
    assert not past, "a face reaching past app/:\n" + "\n".join(past)
    gone = sorted(FACE_EXCEPTIONS - set(found))
    assert not gone, f"no longer reached: remove {gone} from FACE_EXCEPTIONS"


@pytest.mark.parametrize(("source", "expected"), [
    ("from specrelay.engine import context", {"specrelay.engine", "specrelay.engine.context"}),
    ("from specrelay.engine.context import rules", {"specrelay.engine.context"}),
    ("import specrelay.engine.context as C", {"specrelay.engine.context"}),
    ("def f():\n    from specrelay.ledger import Ledger", {"specrelay.ledger"}),
    ("from . import runner", {"specrelay.engine", "specrelay.engine.runner"}),
])
def test_imports_are_read_as_the_rules_say(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str,
                                           expected: set[str]) -> None:
    probe = "specrelay.engine.probe_for_the_layers_test"
    monkeypatch.setitem(MODULES, probe, tmp_path / "probe.py")
    (tmp_path / "probe.py").write_text(source + "\n")
    assert {imp.target for imp in imports_of(probe)} == expected


def test_a_cycle_is_found() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "d": {"a"}}) is None
