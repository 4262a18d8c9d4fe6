"""The built-in evaluation suite (``data/eval-demo``): its history makes three cases, and its scripted team
makes the workflows differ on purpose, for real: edits applied, the project's tests and the hidden checks run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from conftest import assert_clean_error, run_cli, write_user_config

from specrelay.engine.evaldemo import SUITE, prepare_eval_demo
from specrelay.gitrepo import resolve_ref


def test_the_history_makes_three_cases_with_the_same_ids_everywhere(tmp_path: Path) -> None:
    root = prepare_eval_demo(tmp_path / "sample")
    again = prepare_eval_demo(tmp_path / "again")
    proc = run_cli("eval", "make", SUITE, "--from-history", "--no-validate", "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    made = json.loads(proc.stdout)
    assert [c["name"].rsplit("-", 1)[0] for c in made["cases"]] == [
        "add-parse-price-read-a-price-as-a-user-t", "add-split-evenly-share-an-amount-between",
        "add-apply-discount-a-price-after-a-perce"]
    assert [s["reason"] for s in made["skipped"]] == ["a root commit (no parent to start from)"]
    assert resolve_ref(root, "HEAD") == resolve_ref(again, "HEAD")  # a fixed author and dates
    assert all(c["tests"] == ["tests/test_money.py"] for c in made["cases"])


#: Each cell's hidden check, as the demo's team is written to make it: (case, workflow) → status.
DESIGNED = {
    ("apply-discount", "multi-model"): "passed", ("apply-discount", "single-model"): "passed",
    ("apply-discount", "cascade"): "passed",
    # single-model approves its own builder's missing check; multi-model's reviewer finds it; the cascade's
    # reviewer too, and the stronger preset it escalates to fixes it.
    ("split-evenly", "multi-model"): "passed", ("split-evenly", "single-model"): "failed",
    ("split-evenly", "cascade"): "passed",
    # The cheap builder's own test fails: multi-model's reviewer sends it back, the cascade escalates.
    ("parse-price", "multi-model"): "passed", ("parse-price", "single-model"): "passed",
    ("parse-price", "cascade"): "passed",
}


def function_of(case: str) -> str:
    return next(name for name in ("apply-discount", "split-evenly", "parse-price") if case.startswith(f"add-{name}-"))


def show(root: Path, task: str) -> dict[str, Any]:
    proc = run_cli("show", task, "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def test_eval_run_demo_runs_the_built_in_suite_with_the_designed_differences(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = run_cli("eval", "run", "demo", "--dir", str(tmp_path / "sample"), "--json", cwd=tmp_path)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr + proc.stdout
    out = json.loads(proc.stdout)
    root = Path(out["root"])
    assert root == (tmp_path / "sample").resolve() and out["suite"] == "demo"
    assert out["workflows"] == ["multi-model", "single-model", "cascade"]
    cells = {(function_of(c["case"]), c["workflow"]): c for c in out["cells"]}
    assert len(out["cells"]) == 9
    assert {k: c["check"]["status"] for k, c in cells.items()} == DESIGNED
    assert all(c["task_status"] == "done" for c in cells.values())

    missed = cells["split-evenly", "single-model"]["check"]["output"]
    assert "ZeroDivisionError" in missed and 'cartkit/money.py", line 20' in missed
    caught = show(root, cells["split-evenly", "multi-model"]["task_id"])
    review = json.loads((Path(caught["folder"]) / "review_r1.json").read_text())
    assert [(f["file"], f["line"]) for f in review["findings"] if f["severity"] == "major"] == [
        ("cartkit/money.py", 20)]
    escalated = {fn: [(e["from_preset"], e["to_preset"], e["reason"])
                      for e in show(root, cells[fn, "cascade"]["task_id"])["escalations"]]
                 for fn in ("apply-discount", "split-evenly", "parse-price")}
    assert escalated == {"apply-discount": [], "split-evenly": [("flash-builder", "opus-planner", "review")],
                         "parse-price": [("flash-builder", "opus-planner", "verify")]}

    assert (root / ".specrelay/eval/demo/runs" / out["id"] / "report.md").is_file()  # the run wrote its report
    shown = run_cli("eval", "report", "demo", "--json", cwd=root)  # the report the run wrote, made again
    assert shown.returncode == 0, shown.stderr
    made = json.loads(shown.stdout)
    assert made["run"] == out["id"]
    report = {w["workflow"]: w for w in made["workflows"]}
    assert [(w, report[w]["passed"], report[w]["checked"]) for w in out["workflows"]] == [
        ("multi-model", 3, 3), ("single-model", 2, 3), ("cascade", 3, 3)]
    assert (report["single-model"]["failure_places"], report["single-model"]["caught"]) == (1, 0)
    [pair] = [p for p in made["pairs"] if (p["a"], p["b"]) == ("multi-model", "single-model")]
    assert (pair["b_missed"], pair["b_missed_a_flagged"]) == (1, 1)  # what self-review missed, the other caught
    assert report["cascade"]["escalations"] == 2 and all(w["simulated"] for w in report.values())
    assert [Path(p).name for p in made["written"]] == ["report.md", "report.json", "chart.svg"]
    assert took < 60, f"the demo suite took {took:.1f} s"


def test_eval_run_demo_prints_its_progress_and_report(tmp_path: Path) -> None:
    # A user's own config must not send the demo's steps elsewhere, or cut its replies.
    write_user_config('[routes]\nplan = "sonnet-reviewer"\n[presets.opus-planner]\nmax_tokens = 10\n'
                      'mode = "agent"\n')
    proc = run_cli("eval", "run", "demo", "--workflows", "single-model", "--dir", str(tmp_path / "s"), cwd=tmp_path,
                   env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr + proc.stdout
    text = proc.stdout
    assert f"Sample repository: {(tmp_path / 's').resolve()}" in text
    assert "single-model: 2/3 checks passed" in text and "Suite demo, run " in text
    assert "scripted" in text and "simulated" in text
    again = run_cli("eval", "report", "demo", "--json", cwd=tmp_path / "s")  # the sample keeps its suite and run
    assert again.returncode == 0, again.stderr
    assert [w["passed"] for w in json.loads(again.stdout)["workflows"]] == [2]


def test_eval_run_demo_into_a_folder_that_is_not_empty_writes_nothing(tmp_path: Path) -> None:
    # (its other refusals are in the bad-input corpus, tests/bad_input/cases_badinput.toml)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert_clean_error(run_cli("eval", "run", "demo", "--dir", str(tmp_path / "full"), cwd=tmp_path),
                       "not an empty folder")
    assert not list((tmp_path / "full").iterdir())[1:]  # nothing written there


def test_a_repository_with_its_own_demo_suite_runs_that_one(tmp_path: Path) -> None:
    root = prepare_eval_demo(tmp_path / "sample")
    assert run_cli("eval", "make", "demo", "--from-history", "--no-validate", cwd=root).returncode == 0
    assert_clean_error(run_cli("eval", "run", "demo", "--dir", str(tmp_path / "x"), cwd=root),
                       "--dir", "only for the built-in demo suite")
    proc = run_cli("eval", "run", "demo", "--workflows", "multi-model", "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert "root" not in out and len(out["cells"]) == 3  # this repository's run, not a new sample
    assert not (tmp_path / "x").exists()
