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


def _start(repo: Path, *args: str):  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    return subprocess.Popen([sys.executable, "-m", "specrelay", *args], cwd=repo, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_building(repo: Path) -> str:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        tasks = [t for t in _status(repo).values()
                 if t["status"] == "running" and t["current_step"] == "Implementation"]
        if tasks:
            return str(tasks[0]["id"])
        time.sleep(0.05)
    raise AssertionError(f"no task reached its build: {_status(repo)}")


def _implement_started(repo: Path, task_id: str) -> float:
    import sqlite3

    [(started,)] = sqlite3.connect(repo / ".specrelay" / "ledger.db").execute(
        "SELECT MIN(started_at) FROM calls WHERE task_id=? AND phase='implement'", (task_id,)).fetchall()
    return float(started)


def test_run_warns_when_a_running_task_touches_the_same_files(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [{"text": ADD_SUB, "delay_s": 4.0}],
                              "gpt-reviewer": [review()]})
    first = _start(repo, "run", "Add sub")
    running = _wait_building(repo)
    _replies(repo, **{"flash-builder": [ADD_SUB]})
    proc = run_cli("run", "Add sub again", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert f"a running task touches the same files: {running} (calc.py)" in proc.stdout, proc.stdout
    assert "--serialize" in proc.stdout
    assert _status(repo)[running]["status"] == "running"  # it went on without waiting
    first.communicate(timeout=60)


def test_run_serialize_waits_for_the_running_task_before_building(tmp_path: Path) -> None:
    import sqlite3

    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [{"text": ADD_SUB, "delay_s": 3.0}],
                              "gpt-reviewer": [review()]})
    first = _start(repo, "run", "Add sub")
    running = _wait_building(repo)
    _replies(repo, **{"flash-builder": [ADD_SUB]})
    proc = run_cli("run", "Add sub again", "--serialize", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    waited = json.loads(proc.stdout)["id"]
    events = (repo / ".specrelay" / "tasks" / waited / "events.jsonl").read_text()
    assert f"waiting for {running} (calc.py) to finish before building" in events, events
    first.communicate(timeout=60)
    [(finished,)] = sqlite3.connect(repo / ".specrelay" / "ledger.db").execute(
        "SELECT MAX(started_at + latency_s) FROM calls WHERE task_id=? AND phase='implement'", (running,)).fetchall()
    assert _implement_started(repo, waited) >= finished  # it built only once the other had built


def test_merge_all_merges_in_the_order_that_avoids_conflicts_and_stops_at_the_first_real_one(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]})
    sub = _run(repo, "Add sub")
    _replies(repo, **{"flash-builder": [ADD_MUL]})
    mul = _run(repo, "Add mul")
    _replies(repo, **{"opus-planner": [README_SPEC], "flash-builder": [README_EDIT]})
    docs = _run(repo, "Document add")

    proc = run_cli("merge", "--all", cwd=repo)
    assert proc.returncode != 0
    merged = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("Merged ")]
    assert merged == [docs["branch"], sub["branch"]], proc.stdout  # the one that clashes with none first
    base = sub["base_branch"]
    assert (f"stopped at task {mul['id']}: merging it into {base} would conflict on calc.py" in proc.stderr)
    assert f"specrelay update {mul['id']}" in proc.stderr and "Traceback" not in proc.stderr
    tasks = _status(repo)
    assert [tasks[t["id"]]["status"] for t in (sub, docs, mul)] == ["merged", "merged", "done"]
    assert "sub" in (repo / "calc.py").read_text() and "Usage" in (repo / "README.md").read_text()
    assert "mul" not in (repo / "calc.py").read_text()  # nothing half-merged

    again = run_cli("merge", "--all", cwd=repo)  # the same stop, nothing more merged
    assert again.returncode != 0 and f"stopped at task {mul['id']}" in again.stderr


def test_merge_all_with_nothing_done_and_bad_combinations(tmp_path: Path) -> None:
    from conftest import assert_clean_error

    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]})
    assert run_cli("init", cwd=repo).returncode == 0
    proc = run_cli("merge", "--all", cwd=repo)
    assert proc.returncode == 0 and "No done task to merge" in proc.stdout, proc.stdout + proc.stderr
    assert_clean_error(run_cli("merge", cwd=repo), "name the task to merge")
    assert_clean_error(run_cli("merge", "abc", "--all", cwd=repo), "not both")
    assert_clean_error(run_cli("merge", "--all", "--force", cwd=repo), "only done tasks")
