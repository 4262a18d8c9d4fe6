"""``specrelay gc``: removes only worktrees nobody needs, lists them with --dry-run, never loses work."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from conftest import run_cli
from taskkit import happy_replies, project


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def cli_json(repo: Path, *args: str) -> dict:
    proc = run_cli(*args, "--json", cwd=repo)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def run_task(repo: Path, request: str = "Add sub") -> dict:
    proc = run_cli("run", request, "--json", cwd=repo)
    status = json.loads(proc.stdout)
    assert status["status"] == "done", proc.stderr
    return status


def outcomes(report: dict) -> dict[tuple[str, str], str]:
    """(kind, path or branch) → outcome."""
    return {(a["kind"], a["path"] or a["branch"]): a["outcome"] for a in report["actions"]}


def branches(repo: Path) -> set[str]:
    return set(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads").split())


def test_merged_task_worktree_is_listed_by_dry_run_then_removed_with_its_branch(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    status = run_task(repo)
    done = run_task(repo, "Another one")  # not merged: gc leaves it alone
    assert run_cli("merge", status["id"], cwd=repo).returncode == 0
    wt, branch = status["worktree"], status["branch"]

    dry = cli_json(repo, "gc", "--dry-run")
    assert dry["dry_run"] is True
    assert outcomes(dry) == {("worktree", wt): "would remove", ("branch", branch): "would remove"}
    assert Path(wt).is_dir() and branch in branches(repo)
    text = run_cli("gc", "--dry-run", cwd=repo, env={"COLUMNS": "300"}).stdout
    assert f"would remove worktree {wt}" in text and "Run without --dry-run" in text

    report = cli_json(repo, "gc")
    assert outcomes(report) == {("worktree", wt): "removed", ("branch", branch): "removed"}
    assert not Path(wt).exists() and branch not in branches(repo)
    assert Path(done["worktree"]).is_dir() and done["branch"] in branches(repo)
    assert str(Path(wt).resolve()) not in git(repo, "worktree", "list")
    assert "def sub" in (repo / "calc.py").read_text()  # the merged work is in main
    assert cli_json(repo, "gc")["actions"] == []
    assert "Nothing to clean up" in run_cli("gc", cwd=repo).stdout


def test_uncommitted_work_is_skipped_unless_forced_and_unmerged_commits_keep_the_branch(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    a, b = run_task(repo), run_task(repo, "Second")
    assert run_cli("merge", a["id"], cwd=repo).returncode == 0
    assert run_cli("merge", b["id"], cwd=repo).returncode == 0
    (Path(a["worktree"]) / "notes.txt").write_text("mine\n")  # untracked work in a merged task's tree
    (Path(b["worktree"]) / "later.py").write_text("x = 1\n")  # committed after the merge
    git(Path(b["worktree"]), "add", "later.py")
    git(Path(b["worktree"]), "commit", "-qm", "after the merge")

    report = cli_json(repo, "gc")
    got = outcomes(report)
    assert got[("worktree", a["worktree"])] == "skipped"
    assert got[("branch", a["branch"])] == "kept"  # still checked out in the skipped worktree
    assert got[("worktree", b["worktree"])] == "removed"  # clean: its commits live on its branch
    assert got[("branch", b["branch"])] == "kept"
    skipped = next(x for x in report["actions"] if x["path"] == a["worktree"])
    assert "uncommitted changes (notes.txt)" in skipped["reason"] and "--force" in skipped["reason"]
    assert (Path(a["worktree"]) / "notes.txt").read_text() == "mine\n"
    assert "after the merge" in git(repo, "log", "-1", "--format=%s", b["branch"])

    forced = outcomes(cli_json(repo, "gc", "--force"))
    assert forced[("worktree", a["worktree"])] == "removed"
    assert not Path(a["worktree"]).exists() and a["branch"] not in branches(repo)
    assert b["branch"] in branches(repo)  # --force never deletes unmerged commits


def test_stray_worktrees_and_folders(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    stray_root = repo / ".specrelay" / "worktrees"
    stray_root.mkdir(parents=True)
    for name in ("clean", "dirty", "ahead"):
        git(repo, "worktree", "add", "-q", "-b", f"specrelay/{name}", str(stray_root / name))
    (stray_root / "dirty" / "wip.py").write_text("work in progress\n")
    (stray_root / "ahead" / "new.py").write_text("y = 2\n")
    git(stray_root / "ahead", "add", "new.py")
    git(stray_root / "ahead", "commit", "-qm", "unmerged")
    (stray_root / "empty").mkdir()
    (stray_root / "loose").mkdir()
    (stray_root / "loose" / "keep.txt").write_text("not in git\n")
    # A task being created right now: its folder and worktree exist, its ledger record not yet.
    git(repo, "worktree", "add", "-q", "-b", "specrelay/creating", str(stray_root / "creating"))
    (repo / ".specrelay" / "tasks" / "creating").mkdir(parents=True)

    dry = outcomes(cli_json(repo, "gc", "--dry-run"))
    report = cli_json(repo, "gc")
    got = outcomes(report)
    assert dry == {k: v.replace("removed", "would remove") for k, v in got.items()}
    path = {n: str(stray_root / n) for n in ("clean", "dirty", "ahead", "empty", "loose")}
    assert got[("stray", path["clean"])] == "removed" and got[("branch", "specrelay/clean")] == "removed"
    assert got[("stray", path["dirty"])] == "skipped"
    assert got[("stray", path["ahead"])] == "removed" and got[("branch", "specrelay/ahead")] == "kept"
    assert got[("stray", path["empty"])] == "removed"
    assert got[("stray", path["loose"])] == "skipped"
    assert got[("stray", str(stray_root / "creating"))] == "skipped" and ("branch", "specrelay/creating") not in got
    assert sorted(p.name for p in stray_root.iterdir()) == ["creating", "dirty", "loose"]
    assert (stray_root / "dirty" / "wip.py").exists() and (stray_root / "loose" / "keep.txt").exists()
    assert {"specrelay/dirty", "specrelay/ahead"} <= branches(repo) and "specrelay/clean" not in branches(repo)


def test_worktree_deleted_by_hand_is_reported_not_crashed_on(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    task = run_task(repo)
    shutil.rmtree(task["worktree"])
    report = cli_json(repo, "gc")
    got = outcomes(report)
    assert got[("missing", task["worktree"])] == "reported"
    assert got[("prune", task["worktree"])] == "removed"
    assert task["branch"] in branches(repo)  # its commits are kept
    assert str(Path(task["worktree"]).resolve()) not in git(repo, "worktree", "list")
    [listed] = cli_json(repo, "status")
    assert listed["worktree_exists"] is False and listed["status"] == "done"
    text = run_cli("gc", cwd=repo, env={"COLUMNS": "300"})
    assert text.returncode == 0 and "is missing" in text.stdout and "Traceback" not in text.stderr
    # discard still refuses to drop its unmerged commits, then cleans up with --force
    proc = run_cli("discard", task["id"], cwd=repo)
    assert proc.returncode != 0 and "not merged" in proc.stderr and "Traceback" not in proc.stderr
    assert run_cli("discard", task["id"], "--force", cwd=repo).returncode == 0
    assert task["branch"] not in branches(repo)
    assert cli_json(repo, "gc")["actions"] == []


# -- the repository lock: a dry run takes none, and a read-only .specrelay is said so ----------


def test_gc_dry_run_creates_nothing_in_a_repository_without_specrelay(tmp_path: Path) -> None:
    from conftest import make_repo

    repo = make_repo(tmp_path / "plain")
    for args in (("gc", "--dry-run"), ("gc", "--dry-run", "--json")):
        proc = run_cli(*args, cwd=repo)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert not (repo / ".specrelay").exists()


def test_gc_on_a_read_only_specrelay_is_one_line_naming_it_and_a_dry_run_still_works(tmp_path: Path) -> None:
    from conftest import assert_clean_error
    from test_ledger_access import mode, run_bound

    repo = project(tmp_path, happy_replies())
    folder = repo / ".specrelay"
    assert not (folder / "git.lock").exists()
    with mode(folder, 0o555):
        proc = run_bound("gc", cwd=repo)
        assert_clean_error(proc, f"{folder} is not writable", f"chmod u+w {folder}")
        assert "internal error" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        dry = run_bound("gc", "--dry-run", "--json", cwd=repo)
        assert dry.returncode == 0, dry.stderr
        assert json.loads(dry.stdout)["dry_run"] is True
    assert not (folder / "git.lock").exists()
