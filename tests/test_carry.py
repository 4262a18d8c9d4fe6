"""A task carried through a git remote, without a Temporal server: the submitter publishes it, a
"worker" (a clone of its own) takes it, works and gives it back, and the submitter takes it back."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli
from taskkit import happy_replies, project

from specrelay import paths
from specrelay.app.workspace import ledger_of
from specrelay.engine.temporal import carry
from specrelay.ledger import CallRecord
from specrelay.ledger.portable import export_task, import_task


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def carried(tmp_path: Path) -> tuple[Path, str, dict[str, str]]:
    """A finished task on a repository with a shared bare remote, published there."""
    repo = project(tmp_path, happy_replies())
    proc = run_cli("run", "Add sub", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    task = json.loads(proc.stdout)
    shared = tmp_path / "shared.git"
    git(tmp_path, "init", "--bare", "--quiet", str(shared))
    git(repo, "remote", "add", "shared", str(shared))
    url = carry.remote_url(repo, "shared")
    assert url == str(shared)
    with ledger_of(repo) as ledger:
        carry.publish(repo, ledger, task["id"], url)
    return repo, url, task


def a_call(task_id: str, phase: str = "review") -> CallRecord:
    return CallRecord(run_id=task_id, phase=phase, preset="gpt-reviewer", provider="scripted", model="m",
                      started_at=1.0, latency_s=0.1, outcome="ok", task_id=task_id, call_key=f"{phase}-extra")


def calls_of(repo: Path, task_id: str) -> list[str]:
    with ledger_of(repo) as ledger:
        return [c.call_key or "" for c in ledger.calls(task_id)]


def test_a_worker_takes_the_task_works_and_the_submitter_takes_it_back(
        tmp_path: Path, carried: tuple[Path, str, dict[str, str]]) -> None:
    repo, url, task = carried
    before = calls_of(repo, task["id"])
    place = carry.take(url, task["id"], task["branch"], tmp_path / "worker-clones")
    assert place.root != repo and place.root.is_relative_to(tmp_path / "worker-clones")
    assert (paths.task_dir(place.root, task["id"]) / "spec.md").read_text() == \
        (Path(task["folder"]) / "spec.md").read_text()
    assert paths.project_config(place.root).read_text() == paths.project_config(repo).read_text()
    worktree = paths.worktree_dir(place.root, task["id"])
    with ledger_of(place.root) as ledger:
        assert ledger.task(task["id"]).worktree == str(worktree), "the worker's own worktree"  # type: ignore[union-attr]
        assert [c.call_key for c in ledger.calls(task["id"])] == before
        ledger.record_call(a_call(task["id"]))
    (worktree / "NOTES.md").write_text("from the worker\n")
    git(worktree, "add", "NOTES.md")
    git(worktree, "-c", "user.name=w", "-c", "user.email=w@x", "commit", "-qm", "worker commit")
    git(worktree, "branch", f"{task['branch']}.cand-2")  # a best-of-N step's losing candidate
    carry.give_back(place)

    with ledger_of(repo) as ledger:
        assert carry.sync(repo, ledger, task["id"], url)
        assert not carry.sync(repo, ledger, task["id"], url), "nothing new the second time"
    assert calls_of(repo, task["id"]) == [*before, "review-extra"], "the new call, exactly once"
    assert (Path(task["worktree"]) / "NOTES.md").read_text() == "from the worker\n"
    assert git(repo, "log", "-1", "--format=%s", task["branch"]) == "worker commit"
    assert git(repo, "log", "-1", "--format=%s", f"{task['branch']}.cand-2") == "worker commit"
    with ledger_of(repo) as ledger:
        assert ledger.task(task["id"]).worktree == task["worktree"], "the submitter keeps its own path"  # type: ignore[union-attr]


def test_of_two_attempts_only_the_first_push_lands(tmp_path: Path, carried: tuple[Path, str, dict[str, str]]) -> None:
    repo, url, task = carried
    first = carry.take(url, task["id"], task["branch"], tmp_path / "a")
    second = carry.take(url, task["id"], task["branch"], tmp_path / "b")
    with ledger_of(second.root) as ledger:
        ledger.record_call(a_call(task["id"], "paid-by-the-loser"))
    carry.give_back(first)
    with pytest.raises(carry.PushRefused, match="another attempt"):
        carry.give_back(second)
    with ledger_of(repo) as ledger:
        carry.sync(repo, ledger, task["id"], url)
    assert "paid-by-the-loser-extra" in calls_of(repo, task["id"]), "what the loser paid for is recorded"
    again = carry.take(url, task["id"], task["branch"], tmp_path / "b")  # the retry goes on from what landed
    carry.give_back(again)
    with ledger_of(repo) as ledger:
        carry.sync(repo, ledger, task["id"], url)
    assert calls_of(repo, task["id"]).count("paid-by-the-loser-extra") == 1, "and only once"


def test_the_users_changes_in_the_submitters_worktree_are_never_overwritten(
        tmp_path: Path, carried: tuple[Path, str, dict[str, str]]) -> None:
    repo, url, task = carried
    place = carry.take(url, task["id"], task["branch"], tmp_path / "w")
    worktree = paths.worktree_dir(place.root, task["id"])
    (worktree / "calc.py").write_text("# the worker's\n")
    git(worktree, "-c", "user.name=w", "-c", "user.email=w@x", "commit", "-qam", "worker commit")
    carry.give_back(place)
    mine = Path(task["worktree"]) / "calc.py"
    mine.write_text(mine.read_text() + "# the user's own, uncommitted\n")
    with ledger_of(repo) as ledger:
        assert carry.sync(repo, ledger, task["id"], url)
        assert "holds changes of yours" in (ledger.task(task["id"]).message or "")  # type: ignore[union-attr]
    assert mine.read_text().endswith("# the user's own, uncommitted\n")
    git(Path(task["worktree"]), "stash", "-q")
    with ledger_of(repo) as ledger:
        assert not carry.sync(repo, ledger, task["id"], url), "nothing new on the remote"
    assert (Path(task["worktree"]) / "calc.py").read_text() == "# the worker's\n", "but the branch moved on now"


def test_carried_rows_are_data_never_sql(tmp_path: Path, carried: tuple[Path, str, dict[str, str]]) -> None:
    repo, _, task = carried
    with ledger_of(repo) as ledger:
        rows = export_task(ledger, task["id"])
        count = len(rows["calls"])
        rows["task"]["status = 'x'; DROP TABLE calls; --"] = 1
        rows["calls"][0]["uid"] = "new-one"
        assert import_task(ledger, rows, task_id=task["id"]) == 1, "a new uid is added, the others are here"
        assert import_task(ledger, rows, task_id=task["id"]) == 0
        assert len(ledger.calls(task["id"])) == count + 1
        rows["calls"][0]["reply"] = {"nested": 1}
        with pytest.raises(Exception, match="not a plain value"):
            import_task(ledger, rows, task_id=task["id"])
        rows["calls"][0]["reply"] = "fine"
        with pytest.raises(Exception, match="refused"):
            import_task(ledger, rows, task_id="another-task")


def test_a_remote_that_is_not_one_is_a_clear_error(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    with pytest.raises(Exception, match="neither a git remote"):
        carry.remote_url(repo, "nowhere")


def test_a_worker_whose_clones_folder_cannot_be_made_says_so(tmp_path: Path) -> None:
    from conftest import assert_clean_error

    (tmp_path / "afile").write_text("x")
    assert_clean_error(run_cli("worker", "--temporal", "127.0.0.1:1", "--clones", str(tmp_path / "afile" / "c"),
                               cwd=tmp_path), str(tmp_path / "afile"))


def worker_commits(tmp_path: Path, url: str, task: dict[str, str], name: str = "w", edit: str = "NOTES.md") -> None:
    """A worker takes the task, commits a file and gives it back."""
    place = carry.take(url, task["id"], task["branch"], tmp_path / name)
    worktree = paths.worktree_dir(place.root, task["id"])
    (worktree / edit).write_text(f"from {name}\n")
    git(worktree, "add", edit)
    git(worktree, "-c", "user.name=w", "-c", "user.email=w@x", "commit", "-qm", f"{name}'s commit")
    carry.give_back(place)


def test_a_resume_never_rewinds_the_workers_commits(tmp_path: Path, carried: tuple[Path, str, dict[str, str]]) -> None:
    repo, url, task = carried
    worker_commits(tmp_path, url, task)
    mine = Path(task["worktree"]) / "calc.py"
    mine.write_text(mine.read_text() + "# mine\n")  # the sync cannot move the branch on
    with ledger_of(repo) as ledger:
        assert carry.sync(repo, ledger, task["id"], url)
        with pytest.raises(Exception, match="are not on .* yet.*holds changes of yours"):
            carry.publish(repo, ledger, task["id"], url)
    assert git(tmp_path, "--git-dir", url, "log", "-1", "--format=%s", task["branch"]) == "w's commit"
    git(Path(task["worktree"]), "stash", "-q")
    with ledger_of(repo) as ledger:
        carry.sync(repo, ledger, task["id"], url)
        carry.publish(repo, ledger, task["id"], url)  # now a fast-forward of what the workers pushed
    assert git(tmp_path, "--git-dir", url, "log", "-1", "--format=%s", task["branch"]) == "w's commit"


def test_a_sync_cut_short_is_done_again(tmp_path: Path, carried: tuple[Path, str, dict[str, str]],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    repo, url, task = carried
    worker_commits(tmp_path, url, task)
    real = carry.import_task

    def cut(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(carry, "import_task", cut)
    with ledger_of(repo) as ledger, pytest.raises(KeyboardInterrupt):
        carry.sync(repo, ledger, task["id"], url)
    monkeypatch.setattr(carry, "import_task", real)
    with ledger_of(repo) as ledger:
        assert carry.sync(repo, ledger, task["id"], url), "the interrupted import is done now"
    assert (Path(task["worktree"]) / "NOTES.md").read_text() == "from w\n"


def test_the_submitters_own_config_is_never_replaced_by_a_sync(
        tmp_path: Path, carried: tuple[Path, str, dict[str, str]]) -> None:
    repo, url, task = carried
    config = paths.project_config(repo)
    config.write_text(config.read_text() + "\n# edited after the hand-over\n")
    (paths.project_workflows(repo)).mkdir(exist_ok=True)
    (paths.project_workflows(repo) / "new.md").write_text("# New\n")
    worker_commits(tmp_path, url, task)
    with ledger_of(repo) as ledger:
        assert carry.sync(repo, ledger, task["id"], url)
    assert config.read_text().endswith("# edited after the hand-over\n")
    assert (paths.project_workflows(repo) / "new.md").is_file()


def test_merge_brings_in_the_workers_last_commits_or_says_why_not(
        tmp_path: Path, carried: tuple[Path, str, dict[str, str]]) -> None:
    from conftest import assert_clean_error

    repo, url, task = carried
    worker_commits(tmp_path, url, task)
    mine = Path(task["worktree"]) / "calc.py"
    mine.write_text(mine.read_text() + "# mine\n")
    with ledger_of(repo) as ledger:
        carry.sync(repo, ledger, task["id"], url)
    assert_clean_error(run_cli("merge", task["id"], cwd=repo), "the workers' commits", "holds changes of yours")
    git(Path(task["worktree"]), "checkout", "-q", "--", "calc.py")
    merged = run_cli("merge", task["id"], cwd=repo)
    assert merged.returncode == 0, merged.stderr
    assert (repo / "NOTES.md").read_text() == "from w\n", "the worker's commit was merged"


def test_a_push_the_remote_refuses_is_one_line_not_a_lost_race(
        tmp_path: Path, carried: tuple[Path, str, dict[str, str]]) -> None:
    _, url, task = carried
    hook = Path(url) / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected: no pushes today' >&2\nexit 1\n")
    hook.chmod(0o755)
    place = carry.take(url, task["id"], task["branch"], tmp_path / "w")
    with pytest.raises(Exception, match="cannot push to") as refused:
        carry.give_back(place)
    assert not isinstance(refused.value, carry.PushRefused)


def test_names_from_a_workflows_input_are_checked(tmp_path: Path) -> None:
    for task_id in ("../x", "/abs", "a b"):
        with pytest.raises(Exception, match="not a specrelay task's name"):
            carry.clone_of("/r.git", task_id, tmp_path)


def test_a_steps_heartbeats_carry_every_call_the_remote_lacks(tmp_path: Path,
                                                              carried: tuple[Path, str, dict[str, str]]) -> None:
    """Calls an earlier attempt made on this machine (still in the clone's ledger, never pushed) are
    carried by the next attempt's heartbeats too, so a third attempt elsewhere reuses them."""
    from specrelay.engine.temporal.activities import _Heartbeat

    _, url, task = carried
    place = carry.take(url, task["id"], task["branch"], tmp_path / "w")
    ledger_path = paths.ledger_path(place.root)
    with ledger_of(place.root) as ledger:
        ledger.record_call(a_call(task["id"], "first-attempt"))  # the attempt that died before giving back
    again = carry.take(url, task["id"], task["branch"], tmp_path / "w")  # the next attempt, same machine
    beat = _Heartbeat([])
    beat._look(ledger_path, task["id"], again.carried_uids)
    assert [c["call_key"] for c in beat.details] == ["first-attempt-extra"]
    with ledger_of(place.root) as ledger:
        ledger.record_call(a_call(task["id"], "second-attempt"))
    beat._look(ledger_path, task["id"], again.carried_uids)
    assert [c["call_key"] for c in beat.details] == ["first-attempt-extra", "second-attempt-extra"]


def test_temporal_dev_refuses_an_ip_that_is_none(tmp_path: Path) -> None:
    from conftest import assert_clean_error

    assert_clean_error(run_cli("temporal", "dev", "--ip", "everywhere", "--db", str(tmp_path / "t.db"), cwd=tmp_path),
                       "--ip everywhere", "0.0.0.0")


def test_merge_moves_the_task_branch_even_when_its_worktree_is_on_another(
        tmp_path: Path, carried: tuple[Path, str, dict[str, str]]) -> None:
    repo, url, task = carried
    git(Path(task["worktree"]), "switch", "-q", "-c", "scratch")  # the user looks at something else there
    worker_commits(tmp_path, url, task)
    with ledger_of(repo) as ledger:
        carry.sync(repo, ledger, task["id"], url)
    assert git(repo, "log", "-1", "--format=%s", task["branch"]) == "w's commit", "the branch itself moved"
    assert git(Path(task["worktree"]), "branch", "--show-current") == "scratch", "the worktree as the user left it"


def test_merge_takes_the_task_back_once_more_from_the_remote_it_remembers(
        tmp_path: Path, carried: tuple[Path, str, dict[str, str]]) -> None:
    """A push that landed after the task was last taken back (its workflow had ended) is merged too; a
    remote out of reach leaves what was taken before."""
    repo, url, task = carried
    carry.remember(Path(task["folder"]), url)
    worker_commits(tmp_path, url, task)  # never synced by a status
    merged = run_cli("merge", task["id"], cwd=repo)
    assert merged.returncode == 0, merged.stderr
    assert (repo / "NOTES.md").read_text() == "from w\n"


def test_gits_own_reason_is_its_fatal_line_not_its_hints() -> None:
    from specrelay.gitrepo.process import GitCommandError

    exc = GitCommandError("x", command=["git"], cwd=Path("."), returncode=128, stdout="",
                          stderr="fatal: '/gone.git' does not appear to be a git repository\n"
                                 "fatal: Could not read from remote repository.\n\n"
                                 "Please make sure you have the correct access rights\nand the repository exists.\n")
    assert carry._last_line(exc) == "'/gone.git' does not appear to be a git repository"
