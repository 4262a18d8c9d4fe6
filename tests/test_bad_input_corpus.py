"""The bad-input corpus (``tests/bad_input/cases*.toml``) through the CLI, one case per test.

Every case must give exactly one line on stderr (``error: ...`` naming what is wrong), a non-zero
exit and no traceback, and change nothing outside ``.specrelay/tasks/``: the main working tree, the
index, the refs, HEAD, the git config and hooks, the config and workflows, all byte for byte. A case
that starts a task may add that task's own branch and worktree, and nothing else; the others may not
add a task at all. (Opening the ledger or the repository lock may create their files.)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli, write_user_config
from taskkit import happy_replies, project

CORPUS = Path(__file__).parent / "bad_input"
#: Every ``cases*.toml`` file: ``cases.toml`` and one file per area (``cases_merge.toml``, ...).
CASES: list[dict[str, Any]] = [case for path in sorted(CORPUS.glob("cases*.toml"))
                               for case in tomllib.loads(path.read_text())["case"]]
#: Created as a side effect of opening them; their content is specrelay's own bookkeeping.
OWN_FILES = (".specrelay/ledger.db", ".specrelay/ledger.db-wal", ".specrelay/ledger.db-shm", ".specrelay/git.lock")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def state(repo: Path) -> dict[str, Any]:
    """Everything a bad input must leave alone (task branches and worktrees listed apart)."""
    files: dict[str, str] = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if (rel.startswith((".git/", ".specrelay/tasks/", ".specrelay/worktrees/")) or rel in OWN_FILES
                or path.is_dir() and not path.is_symlink()):
            continue
        files[rel] = path.readlink().as_posix() if path.is_symlink() else hashlib.sha256(path.read_bytes()).hexdigest()
    dot_git = repo / ".git"
    for name in ("index", "config", "HEAD", "info/exclude"):
        if (dot_git / name).exists():
            files[f".git/{name}"] = hashlib.sha256((dot_git / name).read_bytes()).hexdigest()
    hooks = dot_git / "hooks"
    files[".git/hooks/"] = ",".join(sorted(p.name for p in hooks.iterdir())) if hooks.is_dir() else ""
    refs = git(repo, "for-each-ref", "--format=%(refname) %(objectname)").splitlines()
    worktrees = [line for line in git(repo, "worktree", "list", "--porcelain").splitlines()
                 if line.startswith("worktree ")]
    ledger = repo / ".specrelay" / "ledger.db"
    tasks = []
    if ledger.exists():
        try:
            tasks = [r[0] for r in sqlite3.connect(ledger).execute("SELECT id FROM tasks ORDER BY id")]
        except sqlite3.DatabaseError:  # a case may damage the ledger itself
            tasks = []
    return {
        "files": files,
        "refs": [r for r in refs if not r.startswith("refs/heads/specrelay/")],
        "task_refs": [r for r in refs if r.startswith("refs/heads/specrelay/")],
        "worktrees": [w for w in worktrees if "/.specrelay/worktrees/" not in w],
        "task_worktrees": [w for w in worktrees if "/.specrelay/worktrees/" in w],
        "tasks": tasks,
    }


def setup_case(case: dict[str, Any], tmp_path: Path) -> tuple[Path, dict[str, str]]:
    repo = project(tmp_path, happy_replies())
    subst: dict[str, str] = {}
    if case.get("task"):
        proc = run_cli("run", "Add sub", "--json", cwd=repo)
        task = json.loads(proc.stdout)
        assert task["status"] == "done", proc.stderr
        subst = {"{id}": task["id"], "{folder}": task["folder"]}
    if "config" in case:
        shutil.copyfile(CORPUS / case["config"], repo / ".specrelay" / "config.toml")
    if "user_config" in case:
        write_user_config((CORPUS / case["user_config"]).read_text())
    if "workflow" in case:
        flows = repo / ".specrelay" / "workflows"
        flows.mkdir(exist_ok=True)
        shutil.copyfile(CORPUS / case["workflow"], flows / "bad.md")
    for dest, source in case.get("files", {}).items():
        shutil.copyfile(CORPUS / source, repo / dest)
    damage = case.get("damage", {})
    for rel in damage.get("remove", []):
        target = repo / _fill(rel, subst)
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    for rel in damage.get("mkdir", []):
        (repo / _fill(rel, subst)).mkdir(parents=True)
    for rel, text in damage.get("write", {}).items():
        (repo / _fill(rel, subst)).write_text(text)
    for sql in damage.get("sql", []):
        with sqlite3.connect(repo / ".specrelay" / "ledger.db") as db:
            db.execute(_fill(sql, subst))
    for args in damage.get("git", []):
        git(repo, *[_fill(a, subst) for a in args])
    return repo, subst


def _fill(text: str, subst: dict[str, str]) -> str:
    for key, value in subst.items():
        text = text.replace(key, value)
    return text


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(reason=c["xfail"], strict=True))
                                  if "xfail" in c else c for c in CASES], ids=[c["name"] for c in CASES])
def test_bad_input(case: dict[str, Any], tmp_path: Path) -> None:
    repo, subst = setup_case(case, tmp_path)
    cwd = repo
    if case.get("cwd") == "outside":
        cwd = tmp_path / "outside"
        cwd.mkdir()
    elif "cwd" in case:  # a folder inside the repository, e.g. a task's own worktree
        cwd = repo / _fill(case["cwd"], subst)
    before = state(repo)
    outside_before = sorted(p.name for p in tmp_path.iterdir())
    proc = run_cli(*[_fill(a, subst) for a in case["args"]], cwd=cwd, env={"COLUMNS": "300"})

    assert proc.returncode != 0, proc.stdout + proc.stderr
    if "exit" in case:
        assert proc.returncode == case["exit"], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, f"not one line:\n{proc.stderr}"
    assert lines[0].startswith("error: ") or lines[0].startswith("Error: "), lines[0]
    for needle in case["expect"]:
        assert _fill(needle, subst) in lines[0], f"{needle!r} not in: {lines[0]}"

    after = state(repo)
    for key in ("files", "refs", "worktrees"):
        assert after[key] == before[key], f"{key} changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == outside_before
    if case.get("starts_task"):
        [new] = sorted(set(after["tasks"]) - set(before["tasks"]))
        assert after["task_refs"][:-1] == before["task_refs"] or len(after["task_refs"]) == len(before["task_refs"]) + 1
        assert all(f"/{new}" in w for w in set(after["task_worktrees"]) - set(before["task_worktrees"]))
        status = json.loads(run_cli("status", new, "--json", cwd=repo).stdout)[0]
        assert status["status"] in ("failed", "paused"), status
        assert status["message"], status
    else:
        assert after["tasks"] == before["tasks"] and after["task_refs"] == before["task_refs"]
        assert after["task_worktrees"] == before["task_worktrees"]
