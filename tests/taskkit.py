"""Building blocks for task tests: a small repository, a scripted team, canned replies."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from conftest import make_repo

CALC = 'def add(a, b):\n    return a + b\n'
TEST_CALC = ('import unittest\n\nfrom calc import add\n\n\nclass T(unittest.TestCase):\n'
             '    def test_add(self):\n        self.assertEqual(add(1, 2), 3)\n')

SPEC = """# Subtraction

## Goal
Add sub(a, b).

## Approach
A function next to add.

## Affected files
- `calc.py`: new function sub

## Edge cases
None.

## Verification criteria
Tests pass.
"""

ADD_SUB = """calc.py
<<<<<<< SEARCH
def add(a, b):
    return a + b
=======
def add(a, b):
    return a + b


def sub(a, b):
    return a - b
>>>>>>> REPLACE
"""

FIX_SUB = """calc.py
<<<<<<< SEARCH
def sub(a, b):
    return a - b
=======
def sub(a, b):
    \"\"\"a minus b.\"\"\"
    return a - b
>>>>>>> REPLACE
"""


def review(verdict: str = "approve", findings: list[dict[str, Any]] | None = None) -> str:
    return json.dumps({"verdict": verdict, "summary": "ok",
                       "scores": {"semantic_resolution": 4, "contract_adherence": 4, "regression_safety": 4,
                                  "scope_discipline": 5},
                       "findings": findings or []})


MAJOR = {"file": "calc.py", "line": 5, "severity": "major", "category": "docs", "title": "sub has no docstring",
         "detail": "all functions need one", "suggestion": "add one"}

PYTHON_TEST = f"{sys.executable} -m unittest -q"


def project(tmp_path: Path, replies: dict[str, list[Any]], *, verify: list[str] | None = None,
            extra: str = "", delay: float = 0.0, preset_extra: str = "") -> Path:
    """A repo with calc.py and scripted opus-planner / flash-builder / gpt-reviewer / sonnet-reviewer."""
    repo = make_repo(tmp_path / "repo", {"calc.py": CALC, "test_calc.py": TEST_CALC, "README.md": "# calc\n",
                                         ".gitignore": "__pycache__/\n"})
    sr = repo / ".specrelay"
    sr.mkdir(exist_ok=True)
    lines = ["[retry]", "attempts = 2", "backoff_s = 0.001", ""]
    for name, items in replies.items():
        (sr / f"{name}.json").write_text(json.dumps(items))
        lines += [f"[presets.{name}]", 'provider = "scripted"', f'model = "scripted-{name}"',
                  f'replies = "{name}.json"', 'price_as = "gpt-5.4"', "fallbacks = []", f"delay_s = {delay}",
                  preset_extra, ""]
    commands = verify if verify is not None else [PYTHON_TEST]
    lines += ["[verify]", f"commands = {json.dumps(commands)}", "timeout_s = 30", ""]
    (sr / "config.toml").write_text("\n".join(lines) + extra)
    exclude = repo / ".git" / "info" / "exclude"
    exclude.write_text(exclude.read_text() + "\n.specrelay/\n")
    return repo


def happy_replies() -> dict[str, list[Any]]:
    return {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]}
