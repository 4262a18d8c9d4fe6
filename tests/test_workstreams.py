"""Parallel workstreams (``<!-- parallel: workstreams -->``): one builder per workstream of the spec at once,
each in its own worktree and branch, merged into the task branch in order; through the CLI, scripted."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from conftest import assert_clean_error, run_cli
from taskkit import project, review

from specrelay.engine.workstreams import parse_workstreams, spec_for

MODULES = ("alpha", "beta", "gamma")


def ws_spec(names: tuple[str, ...] = MODULES, shared: str = "") -> str:
    streams = "\n".join(f"### {n.title()}\nAffected files: `{n}.py`{shared}\nVerification: `{n}()` returns "
                        f"'{n}'\n\nAdd {n}.py with a function {n}.\n" for n in names)
    return (f"# Three modules\n\n## Goal\nAdd {', '.join(names)}.\n\n## Approach\nOne module each.\n\n"
            f"## Affected files\n" + "".join(f"- `{n}.py`\n" for n in names) +
            f"\n## Workstreams\n\n{streams}\n## Verification criteria\nTests pass.\n")


def new_file(name: str, text: str) -> str:
    return f"{name}\n<<<<<<< SEARCH\n=======\n{text}>>>>>>> REPLACE\n"


def module(name: str) -> str:
    return new_file(f"{name}.py", f"def {name}():\n    return {name!r}\n")


def workflow(repo: Path, parallel: str = "workstreams", review_step: bool = True) -> str:
    text = ("# Workstreams\n\n### [ ] Step: Planning\n<!-- agent: opus-planner -->\nPlan.\n\n"
            f"### [ ] Step: Implementation\n<!-- agent: flash-builder -->\n<!-- parallel: {parallel} -->\nBuild.\n\n"
            "### [ ] Step: Verification\n<!-- kind: verify -->\n\n")
    if review_step:
        text += "### [ ] Step: Review\n<!-- agent: gpt-reviewer -->\n<!-- max-rounds: 3 -->\nReview it.\n"
    folder = repo / ".specrelay" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "streams.md").write_text(text, encoding="utf-8")
    return "streams"


def run_json(repo: Path, *args: str) -> dict[str, Any]:
    proc = run_cli(*args, "--json", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def build_calls(repo: Path, task: str) -> list[sqlite3.Row]:
    db = sqlite3.connect(repo / ".specrelay" / "ledger.db")
    db.row_factory = sqlite3.Row
    return db.execute("SELECT * FROM calls WHERE task_id = ? AND phase = 'implement' ORDER BY id", (task,)).fetchall()


def test_the_spec_names_its_workstreams_and_each_builder_sees_only_its_own() -> None:
    spec = ws_spec()
    streams = parse_workstreams(spec)
    assert [(s.name, s.title, s.files) for s in streams] == [
        ("ws-1", "Alpha", ("alpha.py",)), ("ws-2", "Beta", ("beta.py",)), ("ws-3", "Gamma", ("gamma.py",))]
    assert streams[1].verification == "`beta()` returns 'beta'"
    own = spec_for(spec, streams[1], streams)
    assert "## Your workstream: Beta" in own and "Add beta.py" in own and "Add alpha.py" not in own
    assert "## Goal" in own and "## Verification criteria" in own
    assert own.split("## Affected files")[-1].strip().startswith("- `beta.py`")
    assert parse_workstreams("# X\n\n## Goal\nNo streams.\n") == []


def test_three_workstreams_are_built_at_once_and_merged_into_the_task_branch(tmp_path: Path) -> None:
    builds = [{"text": module(n), "delay_s": 0.4} for n in MODULES]
    repo = project(tmp_path, {"opus-planner": [ws_spec()], "flash-builder": builds, "gpt-reviewer": [review()]})
    status = run_json(repo, "run", "Add three modules", "--workflow", workflow(repo))
    assert status["status"] == "done", status
    task, branch = status["id"], status["branch"]
    for name in MODULES:
        assert git(repo, "show", f"{branch}:{name}.py") == f"def {name}():\n    return {name!r}\n"
    # every workstream on its own branch and worktree, each holding only its own module
    record = json.loads((repo / ".specrelay" / "tasks" / task / "parts_r1.json").read_text())
    assert [p["name"] for p in record["parts"]] == ["ws-1", "ws-2", "ws-3"]
    for part, name in zip(record["parts"], MODULES, strict=True):
        assert part["branch"] == f"{branch}.{part['name']}"
        assert git(repo, "diff", "--name-only", status["base_sha"], part["branch"]
                   ).split() == [f"{name}.py"]
        assert Path(part["worktree"]).is_dir()
    # built at once: the three calls overlap in time in the ledger, each under its workstream's name
    calls = build_calls(repo, task)
    assert [c["step"] for c in calls] == [f"Implementation [ws-{i}]" for i in (1, 2, 3)]
    assert max(c["started_at"] for c in calls) < min(c["started_at"] + c["latency_s"] for c in calls)
    # show lists the workstreams
    shown = run_cli("show", task, cwd=repo).stdout
    assert "ws-1" in shown and "Gamma" in shown


def test_a_spec_without_workstreams_builds_with_one_builder(tmp_path: Path) -> None:
    from taskkit import ADD_SUB, SPEC

    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]})
    status = run_json(repo, "run", "Add sub", "--workflow", workflow(repo))
    assert status["status"] == "done", status
    assert [c["step"] for c in build_calls(repo, status["id"])] == ["Implementation"]
    assert not (repo / ".specrelay" / "tasks" / status["id"] / "parts_r1.json").exists()


SHARED = "registry.py"
REGISTRY = "NAMES = []\n"


def registered(*names: str) -> str:
    return "NAMES = []\n" + "".join(f"NAMES.append({n!r})\n" for n in names)


def register(name: str) -> str:
    return (f"{SHARED}\n<<<<<<< SEARCH\nNAMES = []\n=======\nNAMES = []\nNAMES.append({name!r})\n>>>>>>> REPLACE\n"
            + module(name))


def test_two_workstreams_that_conflict_are_merged_after_the_later_one_resolves_it(tmp_path: Path) -> None:
    names = ("alpha", "beta")
    resolved = (f"{SHARED}\n<<<<<<< SEARCH\nNAMES.append('alpha')\n=======\nNAMES.append('alpha')\n"
                "NAMES.append('beta')\n>>>>>>> REPLACE\n")
    builds = [{"text": register("alpha"), "delay_s": 0.2}, {"text": register("beta"), "delay_s": 0.2}, resolved]
    repo = project(tmp_path, {"opus-planner": [ws_spec(names, shared=f", `{SHARED}`")], "flash-builder": builds,
                              "gpt-reviewer": [review()]})
    (repo / SHARED).write_text(REGISTRY)
    git(repo, "add", SHARED)
    git(repo, "commit", "-qm", "registry")
    status = run_json(repo, "run", "Add two modules", "--workflow", workflow(repo))
    assert status["status"] == "done", status
    branch = status["branch"]
    assert git(repo, "show", f"{branch}:{SHARED}") == registered("alpha", "beta")
    assert git(repo, "show", f"{branch}:beta.py") == "def beta():\n    return 'beta'\n"
    calls = build_calls(repo, status["id"])
    assert [c["step"] for c in calls] == ["Implementation [ws-1]", "Implementation [ws-2]",
                                          "Implementation [ws-2.resolve1]"]
    log = (repo / ".specrelay" / "tasks" / status["id"] / "events.jsonl").read_text()
    assert "conflicts with the parts merged before it in registry.py" in log


def test_a_conflict_the_builder_cannot_resolve_fails_the_step_naming_the_files(tmp_path: Path) -> None:
    names = ("alpha", "beta")
    bad = f"{SHARED}\n<<<<<<< SEARCH\nnot there\n=======\nx\n>>>>>>> REPLACE\n"
    builds = [register("alpha"), register("beta"), *[bad] * 6]
    repo = project(tmp_path, {"opus-planner": [ws_spec(names, shared=f", `{SHARED}`")], "flash-builder": builds,
                              "gpt-reviewer": [review()]})
    (repo / SHARED).write_text(REGISTRY)
    git(repo, "add", SHARED)
    git(repo, "commit", "-qm", "registry")
    proc = run_cli("run", "Add two modules", "--workflow", workflow(repo), cwd=repo)
    assert_clean_error(proc, "still conflicts", "registry.py", "every part's branch is kept")
    tid = git(repo, "branch", "--list", "specrelay/*", "--format=%(refname:short)").split()
    task_branch = min(tid, key=len)
    assert sorted(tid) == sorted([task_branch, f"{task_branch}.ws-1", f"{task_branch}.ws-2"])
    # the task branch is as it was before the step: nothing half merged
    assert git(repo, "rev-parse", task_branch) == git(repo, "rev-parse", "main")


def test_the_parallel_directive_is_checked_naming_the_file_and_line(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [ws_spec()], "flash-builder": [], "gpt-reviewer": []})
    folder = repo / ".specrelay" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bad.md").write_text("### [ ] Step: Planning\n<!-- agent: opus-planner -->\n\n"
                                   "### [ ] Step: Implementation\n<!-- agent: flash-builder -->\n"
                                   "<!-- parallel: workstream -->\n")
    proc = run_cli("run", "x", "--workflow", "bad", cwd=repo)
    assert_clean_error(proc, "bad.md:6", "unknown 'parallel' value 'workstream'", "workstreams")
    (folder / "bad.md").write_text("### [ ] Step: Planning\n<!-- agent: opus-planner -->\n"
                                   "<!-- parallel: workstreams -->\n\n"
                                   "### [ ] Step: Implementation\n<!-- agent: flash-builder -->\n")
    proc = run_cli("run", "x", "--workflow", "bad", cwd=repo)
    assert_clean_error(proc, "bad.md:3", "'parallel' splits", "Planning")


def test_a_fix_round_whose_findings_touch_disjoint_files_runs_one_fixer_per_file_at_once(tmp_path: Path) -> None:
    from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC

    util = module("util")
    fix_util = ("util.py\n<<<<<<< SEARCH\ndef util():\n=======\ndef util():\n    \"\"\"The util.\"\"\"\n"
                ">>>>>>> REPLACE\n")
    other = {**MAJOR, "file": "util.py", "line": 1, "title": "util has no docstring"}
    builds = [ADD_SUB + util, {"text": FIX_SUB, "delay_s": 0.4}, {"text": fix_util, "delay_s": 0.4}]
    reviews = [review("request_changes", [MAJOR, other]), review()]
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": builds, "gpt-reviewer": reviews})
    status = run_json(repo, "run", "Add sub", "--workflow", workflow(repo, parallel="findings"))
    assert status["status"] == "done", status
    branch = status["branch"]
    assert '"""a minus b."""' in git(repo, "show", f"{branch}:calc.py")
    assert '"""The util."""' in git(repo, "show", f"{branch}:util.py")
    calls = build_calls(repo, status["id"])
    assert [c["step"] for c in calls] == ["Implementation", "Implementation [fix-r2-1]", "Implementation [fix-r2-2]"]
    fixers = calls[1:]
    assert max(c["started_at"] for c in fixers) < min(c["started_at"] + c["latency_s"] for c in fixers)
    record = json.loads((repo / ".specrelay" / "tasks" / status["id"] / "parts_r2.json").read_text())
    assert [(p["name"], p["files"]) for p in record["parts"]] == [("fix-r2-1", ["calc.py"]), ("fix-r2-2", ["util.py"])]
    for part, name in zip(record["parts"], ("calc.py", "util.py"), strict=True):
        changed = git(repo, "diff", "--name-only", part["branch"] + "~1", part["branch"])
        assert changed.split() == [name]


def test_a_fix_round_with_a_general_finding_is_one_fixers(tmp_path: Path) -> None:
    from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC

    general = {**MAJOR, "file": "", "line": None, "title": "naming"}
    builds = [ADD_SUB, FIX_SUB]
    reviews = [review("request_changes", [MAJOR, general]), review()]
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": builds, "gpt-reviewer": reviews})
    status = run_json(repo, "run", "Add sub", "--workflow", workflow(repo, parallel="findings"))
    assert status["status"] == "done", status
    assert [c["step"] for c in build_calls(repo, status["id"])] == ["Implementation", "Implementation"]


def three_streams(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    repo = project(tmp_path, {"opus-planner": [ws_spec()], "flash-builder": [module(n) for n in MODULES],
                              "gpt-reviewer": [review()]})
    status = run_json(repo, "run", "Add three modules", "--workflow", workflow(repo))
    assert status["status"] == "done", status
    return repo, status


def part_branches(repo: Path) -> list[str]:
    return [b for b in git(repo, "branch", "--list", "specrelay/*", "--format=%(refname:short)").split() if ".ws-" in b]


def test_discard_removes_the_workstream_worktrees_and_branches_but_not_uncommitted_work(tmp_path: Path) -> None:
    repo, status = three_streams(tmp_path)
    parts = repo / ".specrelay" / "parts" / status["id"]
    assert sorted(p.name for p in parts.iterdir()) == ["ws-1", "ws-2", "ws-3"]
    assert len(part_branches(repo)) == 3
    assert run_cli("merge", status["id"], cwd=repo).returncode == 0
    (parts / "ws-2" / "notes.txt").write_text("mine\n")
    proc = run_cli("discard", status["id"], cwd=repo)
    assert_clean_error(proc, "ws-2", "notes.txt", "--force")
    assert (parts / "ws-2" / "notes.txt").exists() and len(part_branches(repo)) == 3
    assert run_cli("discard", status["id"], "--force", cwd=repo).returncode == 0
    assert not parts.exists() and part_branches(repo) == []


def test_gc_removes_a_merged_tasks_workstream_worktrees_and_branches(tmp_path: Path) -> None:
    repo, status = three_streams(tmp_path)
    assert run_cli("merge", status["id"], cwd=repo).returncode == 0
    proc = run_cli("gc", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (repo / ".specrelay" / "parts" / status["id"]).exists()
    assert part_branches(repo) == []
    assert "ws-1" in proc.stdout
