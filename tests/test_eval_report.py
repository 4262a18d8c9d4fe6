"""``specrelay eval report`` through the CLI, on real tasks: scripted teams run five tasks under three
workflows, a run.json written by hand (the shape ``eval run`` writes) points at them with chosen check
results, and every figure of the report is recomputed here from the ledger's SQLite file directly."""

from __future__ import annotations

import json
import sqlite3
import statistics
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_clean_error, run_cli
from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, project, review

from specrelay import paths

SUITE = "hist"
RUN_ID = "20261203-120000-ab12"
#: Edits whose SEARCH matches nothing: a cascade's first builder fails and escalates.
BAD = "calc.py\n<<<<<<< SEARCH\ndef mul(a, b):\n    return a * b\n=======\ndef mul(a, b):\n    pass\n>>>>>>> REPLACE\n"
CASCADE = """# Cheap first

### [ ] Step: Planning
<!-- agent: opus-planner -->
Plan it.

### [ ] Step: Implementation
<!-- agent: flash-builder > sonnet-builder -->
Build it.

### [ ] Step: Verification
<!-- kind: verify -->

### [ ] Step: Review
<!-- agent: gpt-reviewer -->
<!-- max-rounds: 3 -->
Review it.
"""
MINOR_AT_5 = {**MAJOR, "severity": "minor"}  # calc.py:5
#: A failed check's output: the faulty line of calc.py (as a traceback and as pytest prints it), the
#: hidden test's own line and a standard-library frame (neither is a place in the project's code).
FAILED_AT_6 = ('$ python -m pytest -q\nF\n    def test_sub():\n>       assert sub(3, 1) == 2\n'
               'tests/test_hidden.py:4: AssertionError\n'
               '  File "/tmp/specrelay-check-1a2b/tree/calc.py", line 6, in sub\ncalc.py:6: in sub\n'
               '/usr/lib/python3.11/unittest/case.py:57: in testPartExecutor\n1 failed in 0.01s\n')
FAILED_AT_20 = "$ python -m pytest -q\ncalc.py:20: ZeroDivisionError\ntest_calc.py:8: AssertionError\n"


def _replies(repo: Path, replies: dict[str, list[Any]]) -> None:
    """The next task's scripted replies (each task reads its presets' replies from the first)."""
    for name, items in replies.items():
        (repo / ".specrelay" / f"{name}.json").write_text(json.dumps(items))


def _task(repo: Path, replies: dict[str, list[Any]], *args: str) -> dict[str, Any]:
    _replies(repo, replies)
    proc = run_cli("run", *args, "--json", cwd=repo)
    status = json.loads(proc.stdout)
    assert status["status"] == "done", proc.stdout + proc.stderr
    return status


def _check(status: str, output: str = "", reason: str = "") -> dict[str, Any]:
    return {"status": status, "exit_code": {"passed": 0, "failed": 1}.get(status), "seconds": 1.5,
            "commands": ["python -m pytest -q"], "output": output, "reason": reason}


def _cell(case: str, workflow: str, task: dict[str, Any] | None, check: dict[str, Any] | None) -> dict[str, Any]:
    return {"case": case, "workflow": workflow, "repeat": 1, "task_id": task["id"] if task else None,
            "task_status": task["status"] if task else "not_started", "check": check}


def _write_run(repo: Path, cells: list[dict[str, Any]], workflows: list[str], run_id: str = RUN_ID) -> Path:
    folder = repo / ".specrelay" / "eval" / SUITE / "runs" / run_id
    folder.mkdir(parents=True)
    path = folder / "run.json"
    path.write_text(json.dumps({"version": 1, "suite": SUITE, "id": run_id, "created_at": 1796299200.0,
                                "workflows": workflows, "repeat": 1, "budget_usd": None, "cells": cells}))
    return path


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Five tasks: c1 and c2 under multi-model and single-model, c1 under a cheap-first cascade that
    escalates once; a sixth cell never started."""
    tmp = tmp_path_factory.mktemp("eval")
    repo = project(tmp, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()],
                         "sonnet-builder": [ADD_SUB]})
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "cheap-first.md").write_text(CASCADE)
    tasks = {
        "t1": _task(repo, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]},
                    "Add sub", "--workflow", "multi-model"),
        "t2": _task(repo, {"opus-planner": [SPEC, ADD_SUB, review("approve", [MINOR_AT_5])]},
                    "Add sub", "--workflow", "single-model"),
        "t3": _task(repo, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
                           "gpt-reviewer": [review("request_changes", [MAJOR]), review()]},
                    "Add sub carefully", "--workflow", "multi-model"),
        "t4": _task(repo, {"opus-planner": [SPEC, ADD_SUB, review("approve", [{**MINOR_AT_5, "line": 18}])]},
                    "Add sub carefully",
                    "--workflow", "single-model"),
        "t5": _task(repo, {"opus-planner": [SPEC], "flash-builder": [BAD] * 3, "sonnet-builder": [ADD_SUB],
                           "gpt-reviewer": [review()]}, "Add sub", "--workflow", "cheap-first"),
    }
    assert tasks["t3"]["rounds"] == 2 and len(tasks["t5"]["escalations"]) == 1
    cells = [_cell("c1", "multi-model", tasks["t1"], _check("passed")),
             _cell("c1", "single-model", tasks["t2"], _check("failed", FAILED_AT_6, "`python -m pytest -q` exited 1")),
             _cell("c1", "cheap-first", tasks["t5"], _check("passed")),
             _cell("c2", "multi-model", tasks["t3"], _check("failed", FAILED_AT_20, "`python -m pytest -q` exited 1")),
             _cell("c2", "single-model", tasks["t4"], _check("error", reason="`pytest` exited 127")),
             _cell("c3", "multi-model", None, None)]
    _write_run(repo, cells, ["multi-model", "single-model", "cheap-first"])
    return repo, tasks


#: Which tasks each workflow ran, and how their checks ended (the run.json above).
RAN = {"multi-model": ["t1", "t3"], "single-model": ["t2", "t4"], "cheap-first": ["t5"]}
CELLS = {"multi-model": 3, "single-model": 2, "cheap-first": 1}
CHECKED = {"multi-model": 2, "single-model": 1, "cheap-first": 1}
PASSED = {"multi-model": 1, "single-model": 0, "cheap-first": 1}


def _from_sqlite(repo: Path, task_ids: list[str]) -> dict[str, Any]:
    """The workflow's figures, straight from the ledger's tables."""
    db = sqlite3.connect(paths.ledger_path(repo))
    marks = ",".join("?" * len(task_ids))
    cost, simulated = db.execute(f"SELECT SUM(cost_usd), MAX(simulated) FROM calls WHERE task_id IN ({marks})",
                                 task_ids).fetchone()
    phases = dict(db.execute(f"SELECT phase, SUM(input_tokens + output_tokens) FROM calls WHERE task_id IN ({marks})"
                             " GROUP BY phase", task_ids).fetchall())
    tasks = db.execute(f"SELECT rounds, state, updated_at - created_at FROM tasks WHERE id IN ({marks})",
                       task_ids).fetchall()
    db.close()
    return {"cost": cost, "simulated": bool(simulated), "phases": phases,
            "rounds": statistics.mean(r for r, _, _ in tasks),
            "escalations": sum(len(json.loads(s or "{}").get("escalations", [])) for _, s, _ in tasks),
            "wall": statistics.median(w for _, _, w in tasks)}


def test_the_report_recomputed_from_the_ledger(evaluated: tuple[Path, dict[str, Any]]) -> None:
    repo, tasks = evaluated
    proc = run_cli("eval", "report", SUITE, "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["run"] == RUN_ID and [w["workflow"] for w in report["workflows"]] == list(RAN)
    for w in report["workflows"]:
        name = w["workflow"]
        want = _from_sqlite(repo, [tasks[t]["id"] for t in RAN[name]])
        assert (w["cells"], w["checked"], w["passed"]) == (CELLS[name], CHECKED[name], PASSED[name])
        assert w["tasks"] == len(RAN[name])
        assert w["cost_usd"] == pytest.approx(want["cost"], abs=1e-6) and want["cost"] > 0
        assert w["simulated"] is True and w["unknown_cost_calls"] == 0
        assert w["cost_per_case_usd"] == pytest.approx(want["cost"] / len(RAN[name]), abs=1e-6)
        assert w["cost_per_pass_usd"] == (pytest.approx(want["cost"] / PASSED[name], abs=1e-6)
                                          if PASSED[name] else None)
        assert w["tokens_by_phase"] == want["phases"]
        assert w["implementation_share"] == pytest.approx(want["phases"]["implement"] / sum(want["phases"].values()))
        assert w["mean_rounds"] == pytest.approx(want["rounds"])
        assert w["escalations"] == want["escalations"]
        assert w["median_wall_s"] == pytest.approx(want["wall"], abs=1e-3)
        assert w["pass_rate"]["value"] == PASSED[name] / CHECKED[name]
    multi, single, cascade = report["workflows"]
    assert cascade["escalations"] == 1 and multi["escalations"] == single["escalations"] == 0
    assert single["errors"] == 1 and multi["unchecked"] == 1
    assert any(n.startswith("1 of 6 cells have no check result yet") and f"--resume --run {RUN_ID}" in n
               for n in report["notes"])
    assert any(n.startswith("1 check(s) could not run") for n in report["notes"])
    # c1 passed and c2 failed: a resample draws both, or one of them twice.
    assert multi["pass_rate"] == {"value": 0.5, "low": 0.0, "high": 1.0}
    assert cascade["pass_rate"] == {"value": 1.0, "low": 1.0, "high": 1.0}
    assert single["pass_rate"] == {"value": 0.0, "low": 0.0, "high": 0.0}
    # The places failed checks point at, and those the same task's reviewers had flagged.
    cells = {(c["case"], c["workflow"]): c for c in report["cells"]}
    assert cells[("c1", "single-model")]["places"] == ["calc.py:6"]
    assert cells[("c1", "single-model")]["caught"] == ["calc.py:6"]  # the finding at calc.py:5
    assert cells[("c2", "multi-model")]["places"] == ["calc.py:20"]
    assert cells[("c2", "multi-model")]["caught"] == []  # its finding at calc.py:5 is 15 lines away
    assert (single["caught"], single["failure_places"]) == (1, 1)
    assert (multi["caught"], multi["failure_places"]) == (0, 1)
    # Paired on the cases both checked: single-model's c2 could not be checked, so only c1 counts.
    pairs = {(p["a"], p["b"]): p for p in report["pairs"]}
    assert set(pairs) == {("multi-model", "single-model"), ("multi-model", "cheap-first"),
                          ("single-model", "cheap-first")}
    p = pairs[("multi-model", "single-model")]["pass_rate"]
    assert p == {"cases": 1, "difference": {"value": 1.0, "low": 1.0, "high": 1.0}, "a_better": 1, "b_better": 0}
    # What one workflow's review missed and the other's flagged, on the same case: multi-model's c2 failed
    # at calc.py:20 unflagged by its reviewer; single-model's reviewer of c2 had pointed at calc.py:18.
    assert {k: pairs[("multi-model", "single-model")][k] for k in ("a_missed", "a_missed_b_flagged", "b_missed",
                                                                   "b_missed_a_flagged")} == {
        "a_missed": 1, "a_missed_b_flagged": 1, "b_missed": 0, "b_missed_a_flagged": 0}
    assert pairs[("multi-model", "cheap-first")]["a_missed_b_flagged"] == 0  # cheap-first never ran c2
    assert cells[("c2", "single-model")]["flagged"] == ["calc.py:18"]
    assert pairs[("single-model", "cheap-first")]["pass_rate"]["difference"]["value"] == -1.0
    assert pairs[("multi-model", "cheap-first")]["pass_rate"]["difference"]["value"] == 0.0
    costs = {t: _from_sqlite(repo, [tasks[t]["id"]])["cost"] for t in ("t1", "t2")}
    assert pairs[("multi-model", "single-model")]["cost_difference_usd"] == pytest.approx(
        costs["t1"] - costs["t2"], abs=1e-6)
    folder = repo / ".specrelay" / "eval" / SUITE / "runs" / RUN_ID
    assert [Path(p) for p in report["written"]] == [folder / "report.md", folder / "report.json",
                                                    folder / "chart.svg"]
    saved = json.loads((folder / "report.json").read_text())
    assert saved["workflows"] == report["workflows"] and saved["pairs"] == report["pairs"]


def test_the_table_the_markdown_and_the_chart(evaluated: tuple[Path, dict[str, Any]]) -> None:
    repo, _ = evaluated
    proc = run_cli("eval", "report", SUITE, "--run", RUN_ID, cwd=repo, env={"COLUMNS": "250"})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for text in ("multi-model", "single-model", "cheap-first", "50% [0%, 100%]", "100% [100%, 100%]",
                 "multi-model − single-model", "+100 pts [+100, +100]", "report.md", "chart.svg", "simulated"):
        assert text in out, out
    folder = repo / ".specrelay" / "eval" / SUITE / "runs" / RUN_ID
    md = (folder / "report.md").read_text()
    assert md.startswith(f"# Evaluation report: suite {SUITE}, run {RUN_ID}")
    assert "| multi-model | 3 | 2 | 1 | 50% [0%, 100%] |" in md and "## Paired differences" in md
    assert "| failed | $" in md and "| calc.py:6 | 1/1 |" in md and "| calc.py:20 | 0/1 |" in md
    svg = (folder / "chart.svg").read_text()
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and "<style>" in svg
    assert svg.count('class="ci"') == 3 and "Cost per case" in svg and "Pass rate" in svg


def test_the_latest_run_by_default_and_one_named(evaluated: tuple[Path, dict[str, Any]]) -> None:
    repo, tasks = evaluated
    older = "20261101-090000-0000"
    _write_run(repo, [_cell("c1", "multi-model", tasks["t1"], _check("failed", FAILED_AT_20))], ["multi-model"],
               run_id=older)
    try:
        latest = json.loads(run_cli("eval", "report", SUITE, "--json", cwd=repo).stdout)
        named = json.loads(run_cli("eval", "report", SUITE, "--run", older, "--json", cwd=repo).stdout)
    finally:
        import shutil

        shutil.rmtree(repo / ".specrelay" / "eval" / SUITE / "runs" / older)
    assert latest["run"] == RUN_ID
    assert named["run"] == older and named["workflows"][0]["passed"] == 0 and named["pairs"] == []


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC]})
    assert_clean_error(run_cli("eval", "report", "nope", cwd=repo), "no suite 'nope'", "eval make nope")
    (repo / ".specrelay" / "eval" / SUITE).mkdir(parents=True)
    assert_clean_error(run_cli("eval", "report", SUITE, cwd=repo), f"suite '{SUITE}' has no runs yet",
                       f"specrelay eval run {SUITE}")
    path = _write_run(repo, [], ["multi-model"])
    assert_clean_error(run_cli("eval", "report", SUITE, "--run", "20990101-000000-ffff", cwd=repo),
                       "no run '20990101-000000-ffff'", RUN_ID)
    path.write_text('{"version": 1, "cells": [')
    proc = run_cli("eval", "report", SUITE, cwd=repo)
    assert_clean_error(proc, str(path), "cannot be read as an evaluation run")
    assert len(proc.stderr.strip().splitlines()) == 1
    head = {"version": 1, "suite": SUITE, "id": RUN_ID, "created_at": 0.0, "repeat": 1, "budget_usd": None,
            "workflows": ["multi-model"]}
    path.write_text(json.dumps({**head, "cells": [{"case": "c1", "workflow": "multi-model", "repeat": 1,
                                                   "task_status": "done", "check": {"status": "maybe"}}]}))
    assert_clean_error(run_cli("eval", "report", SUITE, cwd=repo), str(path), "cells[0].check")
    # Edited by hand: a cell without its check, a cell of a workflow the run never ran.
    cell = {"case": "c1", "workflow": "multi-model", "repeat": 1, "task_id": None, "task_status": "done"}
    path.write_text(json.dumps({**head, "cells": [cell]}))
    assert_clean_error(run_cli("eval", "report", SUITE, cwd=repo), str(path), "cells[0].check is missing")
    path.write_text(json.dumps({**head, "budget_usd": "lots", "cells": []}))
    assert_clean_error(run_cli("eval", "report", SUITE, cwd=repo), str(path), "'budget_usd' is \"lots\"")
    twice = {**cell, "check": None}
    path.write_text(json.dumps({**head, "cells": [twice, twice]}))
    assert_clean_error(run_cli("eval", "report", SUITE, cwd=repo), str(path), "cells[1] is a second cell")
    path.write_text(json.dumps({**head, "cells": [cell]}))
    assert_clean_error(run_cli("eval", "report", SUITE, cwd=repo), str(path), "cells[0].check is missing")
    path.write_text(json.dumps({**head, "cells": [{**cell, "workflow": "zzz", "check": None}]}))
    assert_clean_error(run_cli("eval", "report", SUITE, cwd=repo), str(path), "cells[0].workflow 'zzz'")
    path.write_text(json.dumps({"version": 2, "workflows": [], "cells": []}))
    assert_clean_error(run_cli("eval", "report", SUITE, cwd=repo), str(path), "version 2")
    assert not (path.parent / "report.md").exists() and not (path.parent / "report.json").exists()
    assert_clean_error(run_cli("eval", "report", "../x", cwd=repo), "is not a plain name")


def test_a_task_missing_from_the_ledger_is_noted(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC]})
    _write_run(repo, [{"case": "c1", "workflow": "multi-model", "repeat": 1, "task_id": "gone-0000",
                       "task_status": "done", "check": _check("passed")}], ["multi-model"])
    report = json.loads(run_cli("eval", "report", SUITE, "--json", cwd=repo).stdout)
    [w] = report["workflows"]
    assert w["passed"] == 1 and w["tasks"] == 0 and w["cost_usd"] is None and w["cost_per_case_usd"] is None
    assert any("gone-0000" in n and "not in the ledger" in n for n in report["notes"])


def test_the_dashboard_lists_runs_and_shows_a_report(evaluated: tuple[Path, dict[str, Any]]) -> None:
    import html

    from webkit import TOKEN, client

    repo, tasks = evaluated
    web = client(repo)
    listing = web.get(f"/eval?token={TOKEN}")
    assert listing.status_code == 200
    assert f'href="/eval/{SUITE}/{RUN_ID}"' in listing.text and ">Eval</a>" in listing.text
    assert "2026-12-03 12:00 UTC" in listing.text  # created_at of the run
    page = web.get(f"/eval/{SUITE}/{RUN_ID}")
    text = html.unescape(page.text)
    assert page.status_code == 200, text[:500]
    for needle in ("multi-model", "50% [0%, 100%]", "multi-model − single-model", "+100 pts [+100, +100]",
                   '<svg class="chart"', 'class="ci"', f'href="/tasks/{tasks["t2"]["id"]}"', "calc.py:6",
                   "`pytest` exited 127", "simulated"):
        assert needle in text, needle
    missing = web.get(f"/eval/{SUITE}/20990101-000000-ffff")
    cli = run_cli("eval", "report", SUITE, "--run", "20990101-000000-ffff", cwd=repo)
    assert missing.status_code == 404
    assert cli.stderr.strip().removeprefix("error: ") in html.unescape(missing.text)


def test_the_dashboard_without_runs_and_with_a_broken_one(tmp_path: Path) -> None:
    from webkit import TOKEN, client

    repo = project(tmp_path, {"opus-planner": [SPEC]})
    web = client(repo)
    assert "No evaluation runs" in web.get(f"/eval?token={TOKEN}").text
    path = _write_run(repo, [], ["multi-model"])
    path.write_text("{")
    listing = web.get("/eval")
    assert listing.status_code == 200 and "cannot be read as an evaluation run" in listing.text
    assert RUN_ID in listing.text


def test_a_run_made_by_eval_run_reported_and_recomputed(tmp_path: Path) -> None:
    """End to end: ``eval make`` a hand-written case, ``eval run`` it under two workflows whose scripted
    builders differ (single-model's sub raises, and its own review approves it), then ``eval report``."""
    broken = ADD_SUB.replace("return a - b", "return a - c")
    repo = project(tmp_path, {"opus-planner": [SPEC, broken, review()], "flash-builder": [ADD_SUB],
                              "gpt-reviewer": [review()]})
    check = ("import unittest\n\nfrom calc import sub\n\n\nclass Hidden(unittest.TestCase):\n"
             "    def test_sub(self):\n        self.assertEqual(sub(5, 3), 2)\n")
    (repo / "test_hidden.py").write_text(check)
    made = run_cli("eval", "make", SUITE, "--case", "sub", "--base", "HEAD", "--request", "Add sub(a, b).",
                   "--check", "test_hidden.py", cwd=repo)
    assert made.returncode == 0, made.stderr
    (repo / "test_hidden.py").unlink()
    ran = run_cli("eval", "run", SUITE, "--workflows", "multi-model,single-model", cwd=repo)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    proc = run_cli("eval", "report", SUITE, "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    cells = {c["workflow"]: c for c in report["cells"]}
    assert cells["multi-model"]["check"] == "passed" and cells["single-model"]["check"] == "failed"
    assert cells["single-model"]["places"] == ["calc.py:6"] and cells["single-model"]["caught"] == []
    for w in report["workflows"]:
        want = _from_sqlite(repo, [cells[w["workflow"]]["task_id"]])
        assert w["cost_usd"] == pytest.approx(want["cost"], abs=1e-6)
        assert w["tokens_by_phase"] == want["phases"] and w["mean_rounds"] == want["rounds"]
        assert w["median_wall_s"] == pytest.approx(want["wall"], abs=1e-3)
    multi, single = report["workflows"]
    assert (multi["pass_rate"]["value"], single["pass_rate"]["value"]) == (1.0, 0.0)
    assert (single["caught"], single["failure_places"]) == (0, 1)
    [pair] = report["pairs"]
    assert pair["pass_rate"]["difference"]["value"] == 1.0 and pair["b_missed"] == 1


def test_a_cases_repeats_count_together(evaluated: tuple[Path, dict[str, Any]]) -> None:
    repo, tasks = evaluated
    run_id = "20261203-130000-0001"
    cells = [{**_cell("c1", "multi-model", tasks["t1"], _check("passed")), "repeat": 1},
             {**_cell("c1", "multi-model", tasks["t3"], _check("failed", FAILED_AT_20)), "repeat": 2},
             {**_cell("c1", "single-model", tasks["t2"], _check("failed", FAILED_AT_6)), "repeat": 1},
             {**_cell("c1", "single-model", tasks["t4"], _check("failed", FAILED_AT_6)), "repeat": 2}]
    path = _write_run(repo, cells, ["multi-model", "single-model"], run_id=run_id)
    try:
        report = json.loads(run_cli("eval", "report", SUITE, "--run", run_id, "--json", cwd=repo).stdout)
    finally:
        import shutil

        shutil.rmtree(path.parent)
    multi, single = report["workflows"]
    # One case passed once in two: every resample draws it with both repeats, so the interval is a point.
    assert multi["pass_rate"] == {"value": 0.5, "low": 0.5, "high": 0.5} and multi["cells"] == 2
    assert single["pass_rate"] == {"value": 0.0, "low": 0.0, "high": 0.0}
    [pair] = report["pairs"]
    assert pair["pass_rate"] == {"cases": 1, "difference": {"value": 0.5, "low": 0.5, "high": 0.5},
                                 "a_better": 1, "b_better": 0}
    # t2's failure at calc.py:6 was flagged by its own reviewer, t4's (the same place) was not: a miss,
    # which multi-model's reviewer of t3 (now a repeat of c1) had flagged at calc.py:5.
    assert (single["caught"], single["failure_places"]) == (1, 2)
    assert pair["b_missed"] == 1 and pair["b_missed_a_flagged"] == 1
    assert pair["a_missed"] == 1 and pair["a_missed_b_flagged"] == 1  # t3's calc.py:20, t4's finding at :18
