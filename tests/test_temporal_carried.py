"""Tasks carried to workers through a git remote (``[backend] remote``), as to workers on other machines.

Each worker runs in a folder of its own, outside the submitter's repository, and keeps its own clones
(``--clones``): the task reaches it only through the shared bare remote, and comes back the same way.
What the user sees is checked on the submitting machine: its ledger holds every call exactly once, its
branches and worktrees hold the workers' commits, and ``status`` reads as a local run's would.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

from conftest import assert_clean_error, run_cli
from taskkit import ADD_SUB, SPEC, project, review
from temporalkit import TEMPORAL, DevServer, Worker
from test_agent_loop import PANEL
from test_temporal import assert_paid_once, calls, env, statuses, submit, wait_for

from specrelay import paths
from specrelay.engine.temporal import carry

pytestmark = TEMPORAL


def carried_project(tmp_path: Path, server: DevServer, replies: dict[str, list[object]] | None = None,
                    attempts: int = 8) -> Path:
    team = replies or {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]}
    repo = project(tmp_path, team, delay=0.05, extra=f'\n[backend]\nkind = "temporal"\naddress = "{server.address}"\n'
                                                    f'remote = "shared"\nstep_attempts = {attempts}\n')
    shared = tmp_path / "shared.git"
    subprocess.run(["git", "init", "--bare", "--quiet", str(shared)], check=True)
    subprocess.run(["git", "remote", "add", "shared", str(shared)], cwd=repo, check=True)
    return repo


def far_worker(tmp_path: Path, server: DevServer, name: str, *queues: str, **more_env: str) -> Worker:
    """A worker in a folder of its own, with clones of its own: it sees only the shared remote."""
    home = tmp_path / f"{name}-machine"
    home.mkdir()
    return Worker(home, server.address, tmp_path / f"{name}.log", {**env(), **more_env}, *queues,
                  clones=home / "clones")


def clone_ledgers(tmp_path: Path, name: str) -> list[Path]:
    return list((tmp_path / f"{name}-machine" / "clones").glob("*/*/.specrelay/ledger.db"))


def test_ten_tasks_on_two_workers_through_a_shared_remote(tmp_path: Path, dev_server: DevServer) -> None:
    repo = carried_project(tmp_path, dev_server)
    workers = [far_worker(tmp_path, dev_server, f"w{n}") for n in (1, 2)]
    try:
        for w in workers:
            w.wait_ready()
        proc = submit(repo, *[f"Add sub, take {n}" for n in range(10)], "--json")
        seen: set[object] = set()
        while proc.poll() is None:  # status on the submitting machine, while the workers run the tasks
            seen |= {row["status"] for row in list(statuses(repo).values())}
            time.sleep(0.5)
        assert seen <= {"running", "done"}, seen
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err + "".join(w.text() for w in workers)
        reported = json.loads(out)
        assert [r["status"] for r in reported] == ["done"] * 10
        for row in reported:
            diff = subprocess.run(["git", "diff", f"{row['base_sha']}..{row['branch']}", "--", "calc.py"], cwd=repo,
                                  capture_output=True, text=True, check=True).stdout
            assert "+def sub(a, b):" in diff, "the worker's commit is on the submitter's branch"
            tree = Path(row["worktree"])
            assert "def sub(a, b):" in (tree / "calc.py").read_text(), "and in its worktree"
            assert (Path(row["folder"]) / "spec.md").is_file(), "the task's artifacts came back"
        ran = [{line.split(":")[0] for line in w.text().splitlines() if ": ran " in line} for w in workers]
        assert ran[0] and ran[1], "both workers ran steps"
        assert ran[0] | ran[1] == {r["id"] for r in reported}
        assert clone_ledgers(tmp_path, "w1") and clone_ledgers(tmp_path, "w2"), "each worker ran in its own clones"
        assert_paid_once(repo, 10)
        assert not list((repo / ".specrelay" / "tasks").glob("*/remote.json")), "a finished task is let go"
        shown = run_cli("show", reported[0]["id"], "--json", cwd=repo)
        assert shown.returncode == 0, shown.stderr
        assert {c["phase"] for c in json.loads(shown.stdout)["calls"]} == {"plan", "implement", "review"}
    finally:
        for w in workers:
            w.stop()


def test_a_worker_killed_mid_step_its_completed_calls_are_reused(tmp_path: Path, dev_server: DevServer) -> None:
    """The review panel's first reviewer has answered when the worker dies; the slow second has not. The
    step is redone on the other machine, which reuses the first answer (carried by the dead worker's
    heartbeats, never pushed) instead of paying for it again."""
    slow = {"text": review(), "delay_s": 20}
    repo = carried_project(tmp_path, dev_server, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB],
                                                  "gpt-reviewer": [review()], "sonnet-reviewer": [slow, review()]})
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "panel.md").write_text(PANEL)
    names = ("w1", "w2")
    workers = dict(zip(names, (far_worker(tmp_path, dev_server, n) for n in names), strict=True))
    try:
        for w in workers.values():
            w.wait_ready()
        proc = submit(repo, "Add sub", "--workflow", "panel", "--json")

        def reviewed_by_gpt() -> str | None:
            for name in names:
                for ledger in clone_ledgers(tmp_path, name):
                    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
                        try:
                            found = db.execute("SELECT 1 FROM calls WHERE preset='gpt-reviewer' AND outcome='ok'")
                        except sqlite3.OperationalError:  # the worker is making it
                            continue
                        if found.fetchone():
                            return name
            return None

        victim = wait_for("the first reviewer's answer", reviewed_by_gpt, timeout=120, every=0.1)
        time.sleep(2.5)  # a heartbeat carries it
        killed_at = time.time()
        workers[victim].kill()
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        assert json.loads(out)["status"] == "done"
        [survivor] = [w for n, w in workers.items() if n != victim]
        assert "ran Review" in survivor.text()
        with sqlite3.connect(repo / ".specrelay" / "ledger.db") as db:
            gpt = db.execute("SELECT started_at FROM calls WHERE preset='gpt-reviewer' AND outcome='ok'").fetchall()
        assert len(gpt) == 1 and gpt[0][0] < killed_at, "the dead worker's answer was reused, not paid again"
        ok = [(t, k) for t, _, outcome, k in calls(repo) if outcome == "ok"]
        assert len(ok) == len(set(ok)) == 4
    finally:
        for w in workers.values():
            w.stop()


def test_a_remote_nobody_can_reach_is_one_line_and_creates_nothing(tmp_path: Path, dev_server: DevServer) -> None:
    repo = carried_project(tmp_path, dev_server)
    config = repo / ".specrelay" / "config.toml"
    config.write_text(config.read_text().replace('remote = "shared"', 'remote = "nowhere"'))
    assert_clean_error(run_cli("run", "Add sub", cwd=repo), "remote = 'nowhere'", "git remote add")
    assert not (repo / ".specrelay" / "tasks").exists() or not list((repo / ".specrelay" / "tasks").iterdir())


def test_a_worker_that_cannot_reach_the_remote_pauses_the_task_resumably(tmp_path: Path,
                                                                          dev_server: DevServer) -> None:
    repo = carried_project(tmp_path, dev_server, attempts=3)  # a step tried three times, then the task pauses
    cut_off = far_worker(tmp_path, dev_server, "cut-off", GIT_ALLOW_PROTOCOL="ssh")  # no local paths
    good: Worker | None = None
    try:
        cut_off.wait_ready()
        proc = run_cli("run", "Add sub", "--json", cwd=repo, subprocess=True, timeout=240)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
        [row] = list(statuses(repo).values())
        assert row["status"] == "paused", row
        assert str(row["message"]).startswith(f"task {row['id']}: cannot reach its git remote "
                                              f"{tmp_path / 'shared.git'}"), row["message"]
        assert "transport 'file' not allowed" in str(row["message"])
        cut_off.stop()
        # Another machine's late push, while the user has changes in the task's worktree: resume refuses to
        # hand the task over (it would rewind the branch), and the task is left as it was.
        task_id, worktree = str(row["id"]), Path(str(row["worktree"]))
        place = carry.take(str(tmp_path / "shared.git"), task_id, str(row["branch"]), tmp_path / "late-machine")
        (paths.worktree_dir(place.root, task_id) / "NOTES.md").write_text("late\n")
        subprocess.run(["git", "add", "NOTES.md"], cwd=paths.worktree_dir(place.root, task_id), check=True)
        subprocess.run(["git", "-c", "user.name=w", "-c", "user.email=w@x", "commit", "-qm", "late"],
                       cwd=paths.worktree_dir(place.root, task_id), check=True)
        carry.give_back(place)
        (worktree / "README.md").write_text("# calc, the user's own edit\n")
        refused = run_cli("resume", task_id, cwd=repo, subprocess=True, timeout=120)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr, refused.stderr
        assert "holds changes of yours" in refused.stdout + refused.stderr
        [again] = list(statuses(repo).values())
        assert again["status"] == "paused" and "not handed to Temporal" in str(again["message"]), again
        subprocess.run(["git", "stash", "-q"], cwd=worktree, check=True)
        good = far_worker(tmp_path, dev_server, "good")
        good.wait_ready()
        resumed = run_cli("resume", task_id, "--json", cwd=repo, subprocess=True, timeout=240)
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads(resumed.stdout)["status"] == "done"
        assert (worktree / "NOTES.md").read_text() == "late\n", "the late push is on the branch"
        assert_paid_once(repo, 1)
    finally:
        cut_off.stop()
        if good is not None:
            good.stop()


AGENTIC = """# Agentic

### [ ] Step: Planning
<!-- agent: opus-planner -->
Write spec.md.

### [ ] Step: Implementation
<!-- agent: claude-code -->
Implement spec.md.
"""


def test_a_step_whose_agent_no_worker_has_pauses_the_task_with_one_line(tmp_path: Path,
                                                                       dev_server: DevServer) -> None:
    """The build step's preset runs an agent CLI on the workers of its queue (the submitting machine need
    not have it). The worker lacks it: it never starts the step (nothing is paid for it); the step is
    tried on the queue's workers, then the task pauses saying which agent, where."""
    repo = carried_project(tmp_path, dev_server, attempts=3)
    config = repo / ".specrelay" / "config.toml"
    config.write_text(config.read_text() + '\n[presets.claude-code]\ncommand = "/nowhere/claude"\nqueue = "agents"\n')
    (repo / ".specrelay" / "workflows").mkdir()
    (repo / ".specrelay" / "workflows" / "agentic.md").write_text(AGENTIC)
    w = far_worker(tmp_path, dev_server, "w1", "specrelay", "agents")
    try:
        w.wait_ready()
        proc = run_cli("run", "Add sub", "--workflow", "agentic", "--json", cwd=repo, subprocess=True, timeout=240)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
        [row] = list(statuses(repo).values())
        assert row["status"] == "paused", row
        assert "cannot run step 'Implementation'" in str(row["message"]), row["message"]
        assert "runs `/nowhere/claude`, which is not installed" in str(row["message"])
        assert [phase for _, phase, _, _ in calls(repo)] == ["plan"], "the build step was never started"
    finally:
        w.stop()
