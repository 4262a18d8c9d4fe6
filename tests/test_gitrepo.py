"""specrelay.gitrepo against real git, in temporary repositories, never the network."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from specrelay.errors import GitError, UserError
from specrelay.gitrepo import (
    add_exclude,
    add_worktree,
    branch_exists,
    changed_files,
    clear_stale_index_lock,
    commit_all,
    current_branch,
    delete_branch,
    diff,
    diff_uncommitted,
    find_root,
    git_stats,
    has_commits,
    head_sha,
    is_dirty,
    is_merged,
    list_worktrees,
    merge,
    prune_worktrees,
    remove_worktree,
    repo_lock,
    reset_git_stats,
    resolve_ref,
    run_git,
    task_branch,
    tracked_files,
    unmerged_commits,
)
from specrelay.paths import worktree_dir


def git(cwd: Path, *args: str) -> str:
    """Plain git, independent of the module under test."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git config leaks in; a known identity comes from the environment."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test User")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.com")
    reset_git_stats()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("hello\n")
    (root / "app.py").write_text("x = 1\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return root


def make_task(root: Path, task_id: str) -> Path:
    path = worktree_dir(root, task_id)
    add_worktree(root, path, task_branch(task_id), head_sha(root))
    return path


def commit_file(cwd: Path, name: str, text: str, message: str = "change") -> str:
    (cwd / name).write_text(text)
    git(cwd, "add", name)
    git(cwd, "commit", "-q", "-m", message)
    return git(cwd, "rev-parse", "HEAD").strip()


# --- run_git ------------------------------------------------------------------------------------


def test_run_git_counts_processes_and_time(repo: Path) -> None:
    run_git(["status"], repo)
    run_git(["rev-parse", "HEAD"], repo)
    stats = git_stats()
    assert stats["calls"] == 2
    assert stats["seconds"] > 0
    reset_git_stats()
    assert git_stats()["calls"] == 0


def test_run_git_failure_names_command_and_stderr(repo: Path) -> None:
    with pytest.raises(GitError) as info:
        run_git(["checkout", "no-such-branch"], repo)
    message = str(info.value)
    assert "git checkout no-such-branch" in message
    assert "no-such-branch" in message.splitlines()[-1]
    assert isinstance(info.value, UserError)
    assert run_git(["checkout", "no-such-branch"], repo, check=False).returncode != 0


def test_run_git_without_git_on_path(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GitError, match="install git"):
        run_git(["status"], repo)


def test_run_git_in_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="does not exist"):
        run_git(["status"], tmp_path / "nowhere")


def test_run_git_ignores_inherited_repository_variables(repo: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # As when specrelay runs from inside another repository's hook.
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere" / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "elsewhere" / "index"))
    assert run_git(["rev-parse", "--show-toplevel"], repo).stdout.strip() == str(repo)


def test_run_git_retries_while_another_process_holds_index_lock(repo: Path) -> None:
    (repo / "new.txt").write_text("new\n")
    lock = repo / ".git" / "index.lock"
    lock.write_text("")
    threading.Timer(0.12, lock.unlink).start()
    run_git(["add", "new.txt"], repo)
    assert "new.txt" in git(repo, "diff", "--cached", "--name-only")
    assert git_stats()["calls"] >= 2


def test_run_git_gives_up_on_a_stale_lock(repo: Path) -> None:
    (repo / "new.txt").write_text("new\n")
    (repo / ".git" / "index.lock").write_text("")
    with pytest.raises(GitError, match=r"index\.lock"):
        run_git(["add", "new.txt"], repo)


def test_a_stale_index_lock_is_cleared_only_once_no_git_works_in_the_worktree(repo: Path) -> None:
    wt = make_task(repo, "t1")
    lock = Path(git(wt, "rev-parse", "--absolute-git-dir").strip()) / "index.lock"
    assert not clear_stale_index_lock(wt)  # none there
    lock.write_text("")
    waiting = subprocess.Popen(["git", "hash-object", "--stdin"], cwd=wt, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)  # a git process at work in the worktree
    cmdline = Path(f"/proc/{waiting.pid}/cmdline")
    deadline = time.monotonic() + 10
    while not cmdline.read_bytes().startswith(b"git") and time.monotonic() < deadline:
        time.sleep(0.01)  # until the child has become git (right after the fork, it is still python)
    try:
        assert not clear_stale_index_lock(wt, wait_s=0.3)  # its lock may be live: left alone
        assert lock.exists()
    finally:
        waiting.communicate("x", timeout=10)
    assert clear_stale_index_lock(wt)
    assert not lock.exists()
    (wt / "app.py").write_text("x = 5\n")
    assert commit_all(wt, "after the crash")


# --- finding the repository, refs, status -----------------------------------------------------


def test_find_root_from_subdir_and_file(repo: Path) -> None:
    sub = repo / "a" / "b"
    sub.mkdir(parents=True)
    assert find_root(sub) == repo.resolve()
    assert find_root(repo / "app.py") == repo.resolve()


def test_find_root_from_inside_linked_worktree(repo: Path) -> None:
    wt = make_task(repo, "t1")
    (wt / "pkg").mkdir()
    assert find_root(wt) == repo.resolve()
    assert find_root(wt / "pkg") == repo.resolve()


def test_find_root_outside_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitError, match="not inside a git repository; run `git init`"):
        find_root(plain)


def test_find_root_in_bare_repository(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    with pytest.raises(GitError, match="bare repository"):
        find_root(bare)
    # the "bare repo + worktrees" layout has no main working tree either
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(tmp_path / "proj" / ".bare"))
    git(tmp_path / "proj" / ".bare", "worktree", "add", "-q", str(tmp_path / "proj" / "main"), "main")
    with pytest.raises(GitError, match="bare repository"):
        find_root(tmp_path / "proj" / "main")


def test_resolve_ref(repo: Path) -> None:
    sha = resolve_ref(repo, "main")
    assert len(sha) == 40 and sha == git(repo, "rev-parse", "HEAD").strip()
    assert head_sha(repo) == sha


def test_resolve_ref_unknown_names_ref_and_fix(repo: Path) -> None:
    with pytest.raises(GitError, match=r"unknown ref 'nope'.*git branch -a"):
        resolve_ref(repo, "nope")
    with pytest.raises(GitError, match="not a valid ref"):
        resolve_ref(repo, "--all")


def test_repository_without_commits(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    git(tmp_path, "init", "-q", "-b", "trunk", str(empty))
    assert not has_commits(empty)
    assert current_branch(empty) == "trunk"
    with pytest.raises(GitError, match="no commits yet"):
        head_sha(empty)


def test_current_branch_and_detached_head(repo: Path) -> None:
    assert has_commits(repo)
    assert current_branch(repo) == "main"
    git(repo, "checkout", "-q", "--detach")
    assert current_branch(repo) is None


def test_is_dirty_lists_changes_but_not_specrelay_folder(repo: Path) -> None:
    (repo / ".specrelay" / "tasks").mkdir(parents=True)
    (repo / ".specrelay" / "tasks" / "x.md").write_text("artifact\n")
    assert is_dirty(repo) == []
    (repo / "app.py").write_text("x = 2\n")
    (repo / "notes café.txt").write_text("new\n")
    git(repo, "mv", "README.md", "READ.md")
    assert sorted(is_dirty(repo)) == ["READ.md", "app.py", "notes café.txt"]
    assert sorted(is_dirty(repo, untracked=False)) == ["READ.md", "app.py"]


def test_tracked_files(repo: Path) -> None:
    assert tracked_files(repo) == ["README.md", "app.py"]


def test_add_exclude_is_idempotent_and_leaves_gitignore_alone(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.log\n")
    exclude = repo / ".git" / "info" / "exclude"
    exclude.write_text("# user's own\n*.tmp")  # no trailing newline
    assert add_exclude(repo) is True
    assert add_exclude(repo) is False
    assert exclude.read_text() == "# user's own\n*.tmp\n.specrelay/\n"
    assert (repo / ".gitignore").read_text() == "*.log\n"
    (repo / ".specrelay").mkdir()
    (repo / ".specrelay" / "ledger.db").write_text("")
    assert git(repo, "status", "--porcelain") == "?? .gitignore\n"


def test_add_exclude_from_worktree_writes_common_dir(repo: Path) -> None:
    wt = make_task(repo, "t1")
    add_exclude(wt, "*.scratch")
    assert "*.scratch" in (repo / ".git" / "info" / "exclude").read_text()


# --- worktrees ---------------------------------------------------------------------------------


def test_worktree_add_list_remove(repo: Path) -> None:
    base = head_sha(repo)
    wt = make_task(repo, "add-login-1")
    assert (wt / "app.py").read_text() == "x = 1\n"
    assert current_branch(wt) == "specrelay/add-login-1"
    listed = list_worktrees(repo)
    assert [w.path for w in listed] == [repo.resolve(), wt.resolve()]
    assert listed[0].branch == "main"
    assert listed[1].branch == "specrelay/add-login-1" and listed[1].head == base
    remove_worktree(repo, wt)
    assert not wt.exists()
    assert len(list_worktrees(repo)) == 1
    assert branch_exists(repo, "specrelay/add-login-1")  # the work stays on its branch


def test_add_worktree_refuses_existing_branch(repo: Path) -> None:
    git(repo, "branch", "specrelay/t1")
    with pytest.raises(GitError, match="already exists.*pick another task id"):
        make_task(repo, "t1")


def test_remove_worktree_refuses_uncommitted_changes_unless_forced(repo: Path) -> None:
    wt = make_task(repo, "t1")
    (wt / "app.py").write_text("x = 2\n")
    (wt / "new.py").write_text("y = 1\n")
    with pytest.raises(GitError, match=r"uncommitted changes \(app.py, new.py\).*--force"):
        remove_worktree(repo, wt)
    assert (wt / "new.py").exists()
    remove_worktree(repo, wt, force=True)
    assert not wt.exists()


def test_remove_worktree_whose_folder_was_deleted(repo: Path) -> None:
    wt = make_task(repo, "t1")
    subprocess.run(["rm", "-rf", str(wt)], check=True)
    assert list_worktrees(repo)[1].prunable
    remove_worktree(repo, wt)
    assert len(list_worktrees(repo)) == 1
    prune_worktrees(repo)


_ADD_CHILD = """
import sys, time
from pathlib import Path
from specrelay.gitrepo import add_worktree, task_branch
from specrelay.paths import worktree_dir
root, task_id, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
add_worktree(root, worktree_dir(root, task_id), task_branch(task_id), sys.argv[4])
"""


def test_eight_processes_adding_worktrees_at_once_all_succeed(repo: Path, tmp_path: Path) -> None:
    # Unlocked, concurrent `git worktree add`s trip over each other's half-made
    # .git/worktrees/<name> ("failed to read ... commondir").
    base, go = head_sha(repo), tmp_path / "go"
    ids = [f"task-{i}" for i in range(8)]
    children = [subprocess.Popen([sys.executable, "-c", _ADD_CHILD, str(repo), i, str(go), base],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in ids]
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    go.touch()
    errors = [child.communicate(timeout=30)[1] for child in children]
    assert [c.returncode for c in children] == [0] * 8, errors
    branches = {w.branch for w in list_worktrees(repo)}
    assert branches == {"main", *(task_branch(i) for i in ids)}


def test_threads_adding_worktrees_at_once_all_succeed(repo: Path) -> None:
    base = head_sha(repo)
    ids = [f"task-{i}" for i in range(8)]

    def add(task_id: str) -> None:
        add_worktree(repo, worktree_dir(repo, task_id), task_branch(task_id), base)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(add, ids))
    assert len(list_worktrees(repo)) == 9


# --- commits -----------------------------------------------------------------------------------


def test_commit_all_with_trailers(repo: Path) -> None:
    wt = make_task(repo, "t1")
    (wt / "app.py").write_text("x = 2\n")
    (wt / "new.py").write_text("y = 1\n")
    message = "Add rate limiting\n\n# Spec\nA heading that is not a comment.\n"
    sha = commit_all(wt, message, {"Specrelay-Task": "t1", "Specrelay-Step": "implement\nround 2"})
    assert sha == git(wt, "rev-parse", "HEAD").strip()
    trailers = git(wt, "log", "-1", "--format=%(trailers)")
    assert "Specrelay-Task: t1" in trailers
    assert "Specrelay-Step: implement round 2" in trailers
    body = git(wt, "log", "-1", "--format=%B")
    assert "# Spec" in body
    assert git(wt, "log", "-1", "--format=%an <%ae>").strip() == "Test User <test@example.com>"
    assert is_dirty(wt) == []
    assert commit_all(wt, "nothing to do") is None


def test_commit_all_never_commits_specrelay_folder(repo: Path) -> None:
    (repo / ".specrelay").mkdir()
    (repo / ".specrelay" / "ledger.db").write_text("")
    (repo / "app.py").write_text("x = 3\n")
    commit_all(repo, "change")
    assert ".specrelay/ledger.db" not in git(repo, "ls-files")


def test_commit_all_reports_failing_pre_commit_hook(repo: Path) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'lint: app.py:1 trailing whitespace'\nexit 1\n")
    hook.chmod(0o755)
    before = head_sha(repo)
    (repo / "app.py").write_text("x = 2 \n")
    with pytest.raises(GitError, match="lint: app.py:1 trailing whitespace"):
        commit_all(repo, "change")
    assert head_sha(repo) == before
    assert git(repo, "diff", "--cached", "--name-only").strip() == "app.py"


def test_commit_all_falls_back_to_specrelay_identity_only_without_one(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var)
    git(repo, "config", "user.useConfigOnly", "true")  # no guessing from the host name
    (repo / "app.py").write_text("x = 2\n")
    commit_all(repo, "anonymous")
    assert git(repo, "log", "-1", "--format=%an <%ae>").strip() == "specrelay <specrelay@localhost>"
    git(repo, "config", "user.name", "Ada")
    git(repo, "config", "user.email", "ada@example.com")
    (repo / "app.py").write_text("x = 3\n")
    commit_all(repo, "configured")
    assert git(repo, "log", "-1", "--format=%an <%ae>").strip() == "Ada <ada@example.com>"


# --- diffs -------------------------------------------------------------------------------------


def test_diff_and_changed_files(repo: Path) -> None:
    base = head_sha(repo)
    wt = make_task(repo, "t1")
    git(repo, "config", "color.ui", "always")  # the user's colours must not leak into the text
    commit_file(wt, "app.py", "x = 2\n")
    commit_file(wt, "lib.py", "def f(): ...\n")
    text = diff(wt, base)
    assert "diff --git a/app.py b/app.py" in text
    assert "-x = 1\n+x = 2\n" in text
    assert "\x1b[" not in text
    assert changed_files(wt, base) == ["app.py", "lib.py"]
    assert diff(repo, base, task_branch("t1")) == text
    assert changed_files(wt, base, base) == []


def test_diff_uncommitted_shows_staged_unstaged_and_untracked(repo: Path) -> None:
    (repo / "app.py").write_text("x = 2\n")
    (repo / "README.md").write_text("hello\nworld\n")
    git(repo, "add", "README.md")
    (repo / "src").mkdir()
    (repo / "src" / "new.py").write_text("print('hi')\n")
    (repo / ".specrelay").mkdir()
    (repo / ".specrelay" / "ledger.db").write_text("")
    index_before = (repo / ".git" / "index").read_bytes()
    text = diff_uncommitted(repo)
    assert "+x = 2" in text
    assert "+world" in text
    assert "diff --git a/src/new.py b/src/new.py\nnew file mode 100644" in text
    assert "+++ b/src/new.py\n@@ -0,0 +1 @@\n+print('hi')" in text
    assert ".specrelay" not in text
    assert (repo / ".git" / "index").read_bytes() == index_before


def test_diff_uncommitted_before_first_commit(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    git(tmp_path, "init", "-q", str(empty))
    (empty / "a.txt").write_text("a\n")
    (empty / "b.txt").write_text("b\n")
    git(empty, "add", "a.txt")
    text = diff_uncommitted(empty)
    assert "+++ b/a.txt" in text and "+++ b/b.txt" in text


# --- branches and merges -----------------------------------------------------------------------


def test_merge_fast_forward(repo: Path) -> None:
    wt = make_task(repo, "t1")
    tip = commit_file(wt, "app.py", "x = 2\n")
    assert not is_merged(repo, task_branch("t1"), "main")
    assert merge(repo, task_branch("t1"), ff_only=True) == tip
    assert (repo / "app.py").read_text() == "x = 2\n"
    assert is_merged(repo, task_branch("t1"), "main")


def test_merge_creates_merge_commit_with_message(repo: Path) -> None:
    wt = make_task(repo, "t1")
    commit_file(wt, "lib.py", "y = 1\n")
    commit_file(repo, "other.py", "z = 1\n")
    new = merge(repo, task_branch("t1"), message="Merge task t1")
    assert git(repo, "log", "-1", "--format=%s%n%P", new).splitlines()[0] == "Merge task t1"
    assert len(git(repo, "log", "-1", "--format=%P", new).split()) == 2
    assert (repo / "lib.py").exists() and (repo / "other.py").exists()


def test_merge_ff_only_refuses_diverged_branch(repo: Path) -> None:
    wt = make_task(repo, "t1")
    commit_file(wt, "lib.py", "y = 1\n")
    before = commit_file(repo, "other.py", "z = 1\n")
    with pytest.raises(GitError, match="cannot be fast-forwarded"):
        merge(repo, task_branch("t1"), ff_only=True)
    assert head_sha(repo) == before


def test_merge_conflict_is_aborted_and_names_files(repo: Path) -> None:
    wt = make_task(repo, "t1")
    commit_file(wt, "app.py", "x = 'task'\n")
    commit_file(wt, "README.md", "task readme\n")
    commit_file(repo, "app.py", "x = 'main'\n")
    commit_file(repo, "README.md", "main readme\n")
    before = head_sha(repo)
    (repo / "scratch.txt").write_text("untracked, kept\n")
    with pytest.raises(GitError, match=r"conflicts in: README.md, app.py\. The merge was aborted"):
        merge(repo, task_branch("t1"))
    assert head_sha(repo) == before
    assert (repo / "app.py").read_text() == "x = 'main'\n"
    assert is_dirty(repo) == ["scratch.txt"]
    assert not (repo / ".git" / "MERGE_HEAD").exists()


def test_merge_refused_on_dirty_tree(repo: Path) -> None:
    wt = make_task(repo, "t1")
    commit_file(wt, "lib.py", "y = 1\n")
    (repo / "app.py").write_text("x = 'wip'\n")
    with pytest.raises(GitError, match=r"uncommitted changes \(app.py\); commit or stash"):
        merge(repo, task_branch("t1"))
    assert not (repo / "lib.py").exists()
    with pytest.raises(GitError, match="unknown ref 'specrelay/none'"):
        merge(repo, "specrelay/none")


def test_delete_branch_refuses_unmerged_commits(repo: Path) -> None:
    base = head_sha(repo)
    wt = make_task(repo, "t1")
    tip = commit_file(wt, "lib.py", "y = 1\n")
    branch = task_branch("t1")
    assert unmerged_commits(repo, branch, "main") == [tip]
    remove_worktree(repo, wt)
    with pytest.raises(GitError, match=r"1 commit not merged.*--force to drop it"):
        delete_branch(repo, branch)
    with pytest.raises(GitError, match=r"not merged"):
        delete_branch(repo, branch, base=base)
    delete_branch(repo, branch, force=True)
    assert not branch_exists(repo, branch)
    with pytest.raises(GitError, match="no local branch"):
        delete_branch(repo, branch)


def test_delete_branch_after_merge_or_when_another_branch_holds_it(repo: Path) -> None:
    wt = make_task(repo, "t1")
    commit_file(wt, "lib.py", "y = 1\n")
    remove_worktree(repo, wt)
    git(repo, "branch", "keep", task_branch("t1"))
    delete_branch(repo, task_branch("t1"))  # "keep" still has the commit
    merge(repo, "keep")
    assert unmerged_commits(repo, "keep", "main") == []
    delete_branch(repo, "keep")


def test_delete_branch_checked_out_in_worktree(repo: Path) -> None:
    make_task(repo, "t1")
    with pytest.raises(GitError, match="remove the worktree first"):
        delete_branch(repo, task_branch("t1"))


# --- the repository lock -----------------------------------------------------------------------

_CHILD = """
import sys, time
from pathlib import Path
from specrelay.gitrepo import git_stats, repo_lock
print("ready", flush=True)
with repo_lock(Path(sys.argv[1])):
    print(time.time(), flush=True)
stats = git_stats()
print(stats["lock_waits"], stats["lock_wait_seconds"], flush=True)
"""


def test_repo_lock_serialises_processes(repo: Path) -> None:
    with repo_lock(repo):
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(repo)], stdout=subprocess.PIPE,
                                 text=True)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        released = time.time()
    out, _ = child.communicate(timeout=10)
    acquired, stats = out.splitlines()
    assert float(acquired) >= released
    waits, waited = stats.split()
    assert int(waits) == 1 and float(waited) > 0
    assert (repo / ".specrelay" / "git.lock").exists()


def test_repo_lock_is_reentrant_and_counts_no_wait_when_free(repo: Path) -> None:
    with repo_lock(repo), repo_lock(repo):
        pass
    assert git_stats()["lock_waits"] == 0
