"""Find a project's own test command from the markers in its repository, for ``specrelay init``.

Looks at real markers only: a Makefile with a ``test:`` target, Python tests (pytest configuration,
or ``test_*.py`` files), a ``package.json`` whose ``scripts.test`` is not npm's placeholder, a
``Cargo.toml``, a ``go.mod``. A command is *sure* when its marker says the project uses it and its
program is on PATH here; otherwise it is offered with a note saying what is uncertain, so that
``init`` writes it commented out.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from specrelay.text import plural

#: ``npm init``'s placeholder test script: it only fails, so it is not the project's tests.
NPM_PLACEHOLDER = "no test specified"
MAKEFILES = ("GNUmakefile", "makefile", "Makefile")
TEST_DIRS = ("tests", "test")
_MAKE_TEST = re.compile(r"^test\s*:(?!=)", re.MULTILINE)


@dataclass(frozen=True)
class Detected:
    """A test command found in the repository: what it was found from, and whether it is certain."""

    command: str
    source: str
    sure: bool
    note: str = ""

    def to_json(self) -> dict[str, object]:
        """``{command, source, sure, note}``, as ``init --json`` reports it."""
        return asdict(self)


def detect_verify_commands(root: Path) -> list[Detected]:
    """The project's test commands, sure ones first. A Makefile's ``test`` target, when there is one,
    is the project's own entry point and stands alone; otherwise one command per ecosystem found."""
    make = _make(root)
    if make is not None:
        return [make]
    found = [d for d in (_python(root), _npm(root), _simple(root, "Cargo.toml", "cargo test"),
                         _simple(root, "go.mod", "go test ./...")) if d is not None]
    return sorted(found, key=lambda d: not d.sure)


def _on_path(command: str, source: str) -> Detected:
    """Sure when the command's program is on PATH; otherwise offered with a note."""
    program = command.split()[0]
    if shutil.which(program):
        return Detected(command, source, True)
    return Detected(command, source, False, f"{program} is not on PATH here")


def _make(root: Path) -> Detected | None:
    for name in MAKEFILES:
        path = root / name
        if path.is_file() and _MAKE_TEST.search(_read(path)):
            return _on_path("make test", f"{name} (a test target)")
    return None


def _simple(root: Path, marker: str, command: str) -> Detected | None:
    return _on_path(command, marker) if (root / marker).is_file() else None


def _npm(root: Path) -> Detected | None:
    path = root / "package.json"
    if not path.is_file():
        return None
    try:
        scripts = json.loads(_read(path)).get("scripts") or {}
    except (ValueError, AttributeError):
        return None
    test = scripts.get("test") if isinstance(scripts, dict) else None
    if not isinstance(test, str) or not test.strip() or NPM_PLACEHOLDER in test:
        return None
    return _on_path("npm test", "package.json (scripts.test)")


def _python(root: Path) -> Detected | None:
    configured = _pytest_config(root)
    tests = _test_files(root)
    if configured is None and not tests:
        return None
    more = f" and {plural(len(tests) - 1, 'more test file')}" if len(tests) > 1 else ""
    source = configured or f"{tests[0].relative_to(root).as_posix()}{more}"
    python = "python" if shutil.which("python") else "python3"
    if not shutil.which(python):
        return Detected(f"{python} -m pytest -q", source, False, "no python on PATH here")
    pytest_cmd = f"{python} -m pytest -q"
    if _can_import(python, "pytest", root):
        return Detected(pytest_cmd, source, True)
    if configured is not None:
        return Detected(pytest_cmd, source, False, f"pytest is configured, but `{python}` cannot import it "
                                                   "(pip install pytest)")
    if any("unittest" in _read(p) for p in tests):
        folder = next((d for d in TEST_DIRS if (root / d).is_dir() and tests[0].is_relative_to(root / d)), None)
        if folder is not None and not (root / folder / "__init__.py").is_file():
            return Detected(f"{python} -m unittest discover -s {folder}", source, True)
        return Detected(f"{python} -m unittest", source, True)
    return Detected(pytest_cmd, source, False, f"the tests look written for pytest, which `{python}` cannot "
                                               "import (pip install pytest)")


def _pytest_config(root: Path) -> str | None:
    """Where pytest is configured, if it is."""
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            tool = tomllib.loads(_read(pyproject)).get("tool", {})
        except tomllib.TOMLDecodeError:
            tool = {}
        if isinstance(tool, dict) and "pytest" in tool:
            return "pyproject.toml ([tool.pytest])"
    for name, section in (("pytest.ini", "[pytest]"), ("tox.ini", "[pytest]"), ("setup.cfg", "[tool:pytest]")):
        path = root / name
        if path.is_file() and section in _read(path):
            return f"{name} ({section})"
    if (root / "conftest.py").is_file():
        return "conftest.py"
    return None


def _test_files(root: Path) -> list[Path]:
    """Python test files: ``test_*.py`` / ``*_test.py`` in tests/ or test/, else at the top level."""
    for folder in TEST_DIRS:
        base = root / folder
        if base.is_dir():
            found = sorted(p for p in base.rglob("*.py") if _is_test_name(p.name))
            if found:
                return found
    return sorted(p for p in root.glob("test_*.py") if p.is_file())


def _is_test_name(name: str) -> bool:
    return name.startswith("test_") or name.endswith("_test.py")


def _can_import(python: str, module: str, root: Path) -> bool:
    try:
        proc = subprocess.run([python, "-c", f"import {module}"], cwd=root, capture_output=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
