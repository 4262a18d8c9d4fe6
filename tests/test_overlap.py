"""Tasks that touch the same files: predicted from their specs, then checked on their branches
(``status``), warned of after planning (``run``, ``--serialize``), and merged in order (``merge --all``)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli
from taskkit import ADD_SUB, SPEC, project, review

ADD_MUL = ADD_SUB.replace("def sub(a, b):\n    return a - b", "def mul(a, b):\n    return a * b")
README_SPEC = SPEC.replace("- `calc.py`: new function sub", "- `README.md`: a usage line")
README_EDIT = "README.md\n<<<<<<< SEARCH\n# calc\n=======\n# calc\n\nUsage: add(a, b).\n>>>>>>> REPLACE\n"


def _replies(repo: Path, **items: list[str]) -> None:
    for preset, replies in items.items():
        (repo / ".specrelay" / f"{preset}.json").write_text(json.dumps(replies))


def _run(repo: Path, request: str, *args: str) -> dict:
    proc = run_cli("run", request, "--json", *args, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _status(repo: Path) -> dict[str, dict]:
    return {t["id"]: t for t in json.loads(run_cli("status", "--json", cwd=repo).stdout)}


def test_status_marks_tasks_that_touch_the_same_files_and_whether_their_branches_conflict(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]})
    sub = _run(repo, "Add sub")["id"]
    _replies(repo, **{"flash-builder": [ADD_MUL]})
    mul = _run(repo, "Add mul")["id"]
    _replies(repo, **{"opus-planner": [README_SPEC], "flash-builder": [README_EDIT]})
    docs = _run(repo, "Document add")["id"]

    tasks = _status(repo)
    assert tasks[sub]["overlaps"] == [{"task": mul, "files": ["calc.py"], "conflicts": ["calc.py"]}]
    assert tasks[mul]["overlaps"] == [{"task": sub, "files": ["calc.py"], "conflicts": ["calc.py"]}]
    assert tasks[docs]["overlaps"] == []
    table = run_cli("status", cwd=repo).stdout
    assert "both touch calc.py: their branches conflict on calc.py" in table, table
    assert table.count("both touch") == 1  # one line a pair

    assert run_cli("discard", mul, "--force", cwd=repo).returncode == 0
    assert _status(repo)[sub]["overlaps"] == []  # a discarded task is no longer live


def test_a_task_planned_but_not_built_is_predicted_from_its_spec(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]})
    sub = _run(repo, "Add sub")["id"]
    _replies(repo, **{"flash-builder": ["not an edit"] * 4})  # the build fails: a spec, no commits
    proc = run_cli("run", "Add mul", "--json", cwd=repo)
    mul = json.loads(proc.stdout)["id"]
    assert _status(repo)[sub]["overlaps"] == [{"task": mul, "files": ["calc.py"], "conflicts": None}]
    assert "(not both built yet)" in run_cli("status", cwd=repo).stdout
