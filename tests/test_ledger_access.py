"""A healthy ledger is never called corrupt: a read-only folder or file, a lock, a file in the way.

The commands that only read (status, show, cost) work on a ledger the user cannot write, and
create nothing; the others say which path is not writable, or which process holds the lock.

Root ignores file modes, and CI runs as root. So the CLI runs under ``setpriv`` with
CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH removed from its bounding set: still uid 0, owner of
the test's files, but bound by their modes like any user (as a non-root user, plain chmod holds).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import assert_clean_error, make_repo, run_cli, scripted, write_user_config
from taskkit import happy_replies, project, review

DROP = ["--bounding-set", "-dac_override,-dac_read_search"]


def _prefix() -> list[str]:
    """What to run the CLI under so that file modes hold for it, as they would for a user."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv and subprocess.run([setpriv, *DROP, "true"], capture_output=True).returncode == 0:
        return [setpriv, *DROP]
    pytest.skip("root without a working setpriv: file modes cannot be made to hold")  # pragma: no cover


def run_bound(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``run_cli``, bound by file modes even as root."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    full_env.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.run([*_prefix(), sys.executable, "-m", "specrelay", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120)


def test_file_modes_hold_for_the_cli(tmp_path: Path) -> None:
    """The mechanism itself: without it every test below would pass vacuously as root."""
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    try:
        proc = subprocess.run([*_prefix(), sys.executable, "-c", f"open({str(folder / 'x')!r}, 'w')"],
                              capture_output=True, text=True)
        assert proc.returncode != 0 and "PermissionError" in proc.stderr
    finally:
        folder.chmod(0o755)


@pytest.fixture
def done_task(tmp_path: Path) -> tuple[Path, str]:
    """A repository with one finished task, its ledger closed cleanly (no -wal, no -shm left)."""
    repo = project(tmp_path, happy_replies())
    proc = run_cli("run", "Add sub", "--json", cwd=repo)
    task = json.loads(proc.stdout)
    assert task["status"] == "done", proc.stderr
    ledger = repo / ".specrelay" / "ledger.db"
    assert ledger.exists() and not ledger.with_name("ledger.db-wal").exists()
    return repo, task["id"]


@contextmanager
def mode(path: Path, bits: int) -> Iterator[None]:
    old = path.stat().st_mode & 0o777
    path.chmod(bits)
    try:
        yield
    finally:
        path.chmod(old)


def _reads_work(repo: Path, task_id: str) -> None:
    status = run_bound("status", "--json", cwd=repo)
    assert status.returncode == 0, status.stderr
    assert [r["id"] for r in json.loads(status.stdout)] == [task_id]
    show = run_bound("show", task_id, "--json", cwd=repo)
    assert show.returncode == 0, show.stderr
    assert json.loads(show.stdout)["id"] == task_id
    cost = run_bound("cost", "--by", "phase", "--json", cwd=repo)
    assert cost.returncode == 0, cost.stderr
    assert json.loads(cost.stdout)["total"]["calls"] == 3
    for command in ("presets", "workflows"):
        proc = run_bound(command, cwd=repo)
        assert proc.returncode == 0, proc.stderr
    diff = run_bound("diff", task_id, "--stat", "--json", cwd=repo)
    assert diff.returncode == 0, diff.stderr
    assert json.loads(diff.stdout)["files_changed"] >= 1
    logs = run_bound("logs", task_id, cwd=repo)
    assert logs.returncode == 0 and task_id in logs.stdout, logs.stderr


def test_read_only_folder(done_task: tuple[Path, str]) -> None:
    repo, task_id = done_task
    folder = repo / ".specrelay"
    with mode(folder, 0o555):
        _reads_work(repo, task_id)
        proc = run_bound("run", "Add mul", cwd=repo)
    assert_clean_error(proc, f"{folder} is not writable", f"chmod u+w {folder}")
    assert "not a readable SQLite database" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in (folder / "tasks").iterdir()) == [task_id]


def test_read_only_ledger_file(done_task: tuple[Path, str]) -> None:
    repo, task_id = done_task
    ledger = repo / ".specrelay" / "ledger.db"
    before = ledger.read_bytes()
    with mode(ledger, 0o444):
        _reads_work(repo, task_id)
        proc = run_bound("discard", task_id, "--force", cwd=repo)
        assert_clean_error(proc, f"{ledger} is not writable", f"chmod u+w {ledger}")
        assert "not a readable" not in proc.stderr
    assert (repo / ".specrelay" / "worktrees" / task_id).is_dir()  # refused before it acted, not after
    assert ledger.read_bytes() == before  # read, never migrated nor switched


def test_read_only_open_never_migrates(done_task: tuple[Path, str]) -> None:
    """A ledger of an older specrelay, read-only: said so, not upgraded behind the user's back."""
    repo, _ = done_task
    ledger = repo / ".specrelay" / "ledger.db"
    with sqlite3.connect(ledger) as db:
        db.execute("DELETE FROM migrations WHERE name='004_task_state'")
    db.close()
    with mode(ledger, 0o444):
        proc = run_bound("status", cwd=repo)
    assert_clean_error(proc, "older specrelay", f"chmod u+w {ledger}")
    with sqlite3.connect(ledger) as db:
        assert not db.execute("SELECT 1 FROM migrations WHERE name='004_task_state'").fetchone()
    db.close()


HOLD = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("UPDATE tasks SET title = title")
print("held", flush=True)
time.sleep(60)
"""


def test_ledger_locked_by_another_process(done_task: tuple[Path, str]) -> None:
    repo, task_id = done_task
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(repo / ".specrelay" / "ledger.db")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        _reads_work(repo, task_id)  # WAL: readers go on while another process writes
        started = time.monotonic()
        proc = run_cli("run", "Add mul", cwd=repo, env={"SPECRELAY_LEDGER_WAIT_S": "1"})
        assert time.monotonic() - started < 30
    finally:
        holder.kill()
        holder.wait()
    assert_clean_error(proc, "ledger.db", f"process {holder.pid}", " -c import sqlite3", "wait for it to finish")
    assert "not a readable" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert sorted(p.name for p in (repo / ".specrelay" / "tasks").iterdir()) == [task_id]  # nothing half-made
    assert run_cli("status", "--json", cwd=repo).stdout.count('"id"') == 1


def test_corrupt_ledger_is_still_called_corrupt(done_task: tuple[Path, str]) -> None:
    repo, _ = done_task
    ledger = repo / ".specrelay" / "ledger.db"
    ledger.write_bytes(b"these are not the pages you are looking for\n" * 200)
    before = ledger.read_bytes()
    for args in (["status"], ["cost"], ["run", "Add mul"]):
        proc = run_bound(*args, cwd=repo)
        assert_clean_error(proc, "not a readable SQLite database", "move it aside")
    assert ledger.read_bytes() == before


def test_read_commands_create_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    exclude = (repo / ".git" / "info" / "exclude").read_bytes()
    for args, needle in ((["status"], "No tasks yet"), (["status", "--json"], "[]"),
                         (["cost"], "0 calls"), (["cost", "--json"], '"calls": 0'),
                         (["presets"], "opus-planner"), (["workflows"], "multi-model")):
        proc = run_cli(*args, cwd=repo)
        assert proc.returncode == 0, proc.stderr
        assert needle in proc.stdout
    assert not (repo / ".specrelay").exists()
    assert (repo / ".git" / "info" / "exclude").read_bytes() == exclude
    outside = tmp_path / "outside"
    outside.mkdir()
    assert run_cli("cost", cwd=outside).returncode == 0
    assert not (Path(os.environ["SPECRELAY_HOME"]) / "ledger.db").exists()


def test_failing_run_creates_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    assert_clean_error(run_cli("run", "Add sub", "--workflow", "no-such-flow", cwd=repo), "no-such-flow")
    assert not (repo / ".specrelay").exists()
    (repo / ".specrelay").mkdir()
    (repo / ".specrelay" / "config.toml").write_text("[budget]\ntask_usd = -1\n")
    assert_clean_error(run_cli("run", "Add sub", cwd=repo), "config.toml")
    assert sorted(p.name for p in (repo / ".specrelay").iterdir()) == ["config.toml"]


def _user_team() -> None:
    """The scripted team in the user's config, so that the project folder can be broken."""
    replies = happy_replies()
    write_user_config("".join(scripted(name, replies[name]) for name in replies)
                      + "[verify]\ncommands = []\n")


def test_specrelay_folder_is_a_file(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    _user_team()
    (repo / ".specrelay").write_text("my notes\n")
    for args in (["run", "Add sub"], ["status"], ["cost"]):
        proc = run_cli(*args, cwd=repo)
        assert_clean_error(proc, f"{repo / '.specrelay'} is a file", "mv ")
        assert "internal error" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert (repo / ".specrelay").read_text() == "my notes\n"


def test_tasks_folder_unwritable(done_task: tuple[Path, str]) -> None:
    repo, task_id = done_task
    tasks = repo / ".specrelay" / "tasks"
    with mode(tasks, 0o555):
        proc = run_bound("run", "Add mul", cwd=repo)
    assert_clean_error(proc, f"{tasks} is not writable", f"chmod u+w {tasks}")
    assert "internal error" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tasks.iterdir()) == [task_id]


def test_ledger_path_is_a_folder(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    ledger = repo / ".specrelay" / "ledger.db"
    (ledger / "keep").mkdir(parents=True)
    for args in (["status"], ["run", "Add sub"]):
        proc = run_cli(*args, cwd=repo)
        assert_clean_error(proc, f"{ledger} is a folder", "move it aside")
        assert "not a readable" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert (ledger / "keep").is_dir()


def test_commands_on_a_task_that_does_not_exist_create_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    for args in (["merge", "nope"], ["discard", "nope"], ["resume", "nope"], ["show", "nope"]):
        assert_clean_error(run_cli(*args, cwd=repo), "no task 'nope'")
    assert not (repo / ".specrelay").exists()


def test_unreadable_ledger_file(done_task: tuple[Path, str]) -> None:
    repo, _ = done_task
    ledger = repo / ".specrelay" / "ledger.db"
    with mode(ledger, 0o000):
        for args in (["status"], ["run", "Add mul"]):
            proc = run_bound(*args, cwd=repo)
            assert_clean_error(proc, f"{ledger}: the ledger cannot be read", f"chmod u+r {ledger}")
            assert "not a readable SQLite database" not in proc.stderr


def test_diff_and_logs_of_no_task_create_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    for args in (["diff", "x"], ["diff", "x", "--stat"], ["logs", "x"], ["logs", "last"]):
        assert_clean_error(run_cli(*args, cwd=repo), "no task")
    assert not (repo / ".specrelay").exists()


def test_refused_asks_and_reviews_create_nothing(tmp_path: Path) -> None:
    """A refused ask or review records nothing, so it creates no ledger (nor .specrelay/)."""
    repo = make_repo(tmp_path / "repo")
    write_user_config(scripted("mock", ["x"], extra='price_as = "gpt-4"')
                      + scripted("sonnet-reviewer", [review()])
                      + '[presets.bad]\nprovider = "scripted"\nmodel = "bad"\nreplies = "bad.json"\n')
    (Path(os.environ["SPECRELAY_HOME"]) / "bad.json").write_text('[{"text": 123}]')
    assert_clean_error(run_cli("ask", "", "--preset", "mock", cwd=repo), "the prompt is empty")
    assert_clean_error(run_cli("ask", "hi", "--preset", "mock", "--budget", "0.000001", cwd=repo), "ask not sent")
    assert_clean_error(run_cli("ask", "hi", "--preset", "bad", cwd=repo), "bad.json: reply [0]")
    nothing = run_cli("review", "--json", cwd=repo)
    assert nothing.returncode == 0 and json.loads(nothing.stdout)["verdict"] == "approve", nothing.stderr
    assert_clean_error(run_cli("review", "nope..main", cwd=repo), "nope")
    (repo / "README.md").write_text("# changed\n")
    assert_clean_error(run_cli("review", "--preset", "bad", cwd=repo), "bad.json: reply [0]")
    assert_clean_error(run_cli("review", "--preset", "gpt-reviewer", cwd=repo), "missing API key")
    assert not (repo / ".specrelay").exists()
    assert not (Path(os.environ["SPECRELAY_HOME"]) / "ledger.db").exists()
    assert run_cli("review", cwd=repo).returncode == 0  # something to review: now it is recorded
    assert (repo / ".specrelay" / "ledger.db").is_file()
