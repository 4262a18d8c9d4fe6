"""Building blocks for agent-mode tests: a workflow whose build (and review) run as specrelay's tool loop,
and tool calls as a scripted builder writes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taskkit import PYTHON_TEST


def call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    return {"name": tool, "arguments": arguments}


def turn(*calls: dict[str, Any], text: str = "") -> dict[str, Any]:
    return {"text": text, "tool_calls": list(calls)} if text else {"tool_calls": list(calls)}


def agent_workflow(repo: Path, *, review_mode: bool = False, max_turns: int | None = None) -> str:
    """Write the ``agentic`` workflow in ``repo``: plan, implement in agent mode, verify, review."""
    turns = f"\n<!-- max-turns: {max_turns} -->" if max_turns else ""
    review = "\n<!-- mode: agent -->" if review_mode else ""
    text = (f"# Agentic\n\n### [ ] Step: Planning\n<!-- agent: opus-planner -->\nWrite spec.md.\n\n"
            f"### [ ] Step: Implementation\n<!-- agent: flash-builder -->\n<!-- mode: agent -->{turns}\n"
            "Implement spec.md.\n\n### [ ] Step: Verification\n<!-- kind: verify -->\n\n"
            f"### [ ] Step: Review\n<!-- agent: gpt-reviewer -->{review}\nReview the diff.\n")
    folder = repo / ".specrelay" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agentic.md").write_text(text, encoding="utf-8")
    return "agentic"


SUB = "def sub(a, b):\n    return a - b\n"
TEST_SUB = ("import unittest\n\nfrom calc import sub\n\n\nclass S(unittest.TestCase):\n"
            "    def test_sub(self):\n        self.assertEqual(sub(3, 1), 2)\n")

#: A builder that reads, searches, writes a failing test, is refused an edit, corrects it, sees the check
#: pass, is refused a command and a path outside the worktree, and finishes: one turn per item.
BUILDER_TURNS: list[Any] = [
    turn(call("list_files", glob="*.py"), call("search", pattern="def add")),
    turn(call("read_file", path="calc.py")),
    turn(call("create_file", path="test_sub.py", content=TEST_SUB), call("run_check", name=PYTHON_TEST)),
    turn(call("edit", path="calc.py", search="def add(a, b):\n    return a * b\n", replace="x")),
    turn(call("edit", path="calc.py", search="    return a + b\n", replace="    return a + b\n\n\n" + SUB)),
    turn(call("run_check", name=PYTHON_TEST), call("run_check", name="rm -rf ."),
         call("read_file", path="../outside.txt"), call("edit", path="/etc/passwd", search="root", replace="x")),
    turn(call("finish", summary="Added sub() with a test.")),
]
