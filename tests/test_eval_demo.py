"""The built-in evaluation suite (``data/eval-demo``): its history makes three cases, and its scripted team
makes the workflows differ on purpose, for real: edits applied, the project's tests and the hidden checks run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import run_cli

from specrelay.engine.evalcases import read_case, suite_dir
from specrelay.engine.evalcheck import run_check
from specrelay.engine.evaldemo import SUITE, prepare_eval_demo
from specrelay.gitrepo import resolve_ref


def cases_of(root: Path) -> dict[str, Path]:
    """Each case folder of the demo suite, by the function its commit added."""
    folder = suite_dir(root, SUITE)
    found = {}
    for name in ("apply-discount", "split-evenly", "parse-price"):
        [case] = [p for p in folder.iterdir() if p.name.startswith(f"add-{name}-")]
        found[name] = case
    return found


def run_case(root: Path, case: Path, workflow: str) -> tuple[dict[str, Any], str]:
    """The case run as an ordinary task from its base under ``workflow``; its status and hidden check."""
    c = read_case(case)
    proc = run_cli("run", c.request.strip(), "--base", c.base, "--workflow", workflow, "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    status = json.loads(proc.stdout)
    check = run_check(root, resolve_ref(root, status["branch"]), case, c, timeout_s=60)
    return status, check.status + ("" if check.passed else f": {check.output}")


def test_the_history_makes_three_cases_with_the_same_ids_everywhere(tmp_path: Path) -> None:
    root = prepare_eval_demo(tmp_path / "sample")
    again = prepare_eval_demo(tmp_path / "again")
    proc = run_cli("eval", "make", SUITE, "--from-history", "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    made = json.loads(proc.stdout)
    assert [c["name"].rsplit("-", 1)[0] for c in made["cases"]] == [
        "add-parse-price-read-a-price-as-a-user-t", "add-split-evenly-share-an-amount-between",
        "add-apply-discount-a-price-after-a-perce"]
    assert [s["reason"] for s in made["skipped"]] == ["a root commit (no parent to start from)"]
    assert resolve_ref(root, "HEAD") == resolve_ref(again, "HEAD")  # a fixed author and dates
    assert all(c["tests"] == ["tests/test_money.py"] for c in made["cases"])


def test_self_review_misses_the_bug_cross_family_review_catches_and_the_cascade_escalates(tmp_path: Path) -> None:
    root = prepare_eval_demo(tmp_path / "sample")
    assert run_cli("eval", "make", SUITE, "--from-history", cwd=root).returncode == 0
    cases = cases_of(root)

    single, check = run_case(root, cases["split-evenly"], "single-model")
    assert (single["status"], single["rounds"]) == ("done", 1)  # its own review approved its own bug
    assert check.startswith("failed") and "ZeroDivisionError" in check and "money.py\", line 20" in check

    multi, check = run_case(root, cases["split-evenly"], "multi-model")
    assert (multi["status"], multi["rounds"], check) == ("done", 2, "passed")  # the reviewer found it at line 20
    review = json.loads((Path(multi["folder"]) / "review_r1.json").read_text())
    majors = [(f["file"], f["line"]) for f in review["findings"] if f["severity"] == "major"]
    assert majors == [("cartkit/money.py", 20)]

    cascade, check = run_case(root, cases["parse-price"], "cascade")
    assert (cascade["status"], check) == ("done", "passed")
    assert [(e["from_preset"], e["to_preset"], e["reason"]) for e in cascade["escalations"]] == [
        ("flash-builder", "opus-planner", "verify")]
