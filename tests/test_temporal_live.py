"""What ``status``, ``show``, ``cost`` and the dashboard say of a task handed to Temporal while it runs:
its workflow asked (a query and its pending step) on a real dev server, and the ledger's message when the
server does not answer.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import assert_clean_error, run_cli
from markupsafe import escape
from temporalkit import TEMPORAL, DevServer
from test_temporal import statuses, temporal_project, wait_for, worker
from webkit import TOKEN, client

from specrelay.app.live import remote_of

pytestmark = TEMPORAL

DRIVER = {"backend": "temporal", "address": "127.0.0.1:7233", "namespace": "default", "queue": "specrelay",
          "workflow_id": "specrelay-t1"}


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An address that takes connections and never answers: a server that hangs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield f"127.0.0.1:{s.getsockname()[1]}"


def test_the_live_line_says_where_the_step_runs_or_waits() -> None:
    started = {"state": "running", "pending": "started", "running_on": "box:41@gpu", "attempt": 1,
               "step_queue": "gpu", "queue": "gpu", "step": "Planning", "next_step": "Implementation"}
    remote = remote_of(DRIVER, started, "Implementation", "old message")
    assert (remote.state, remote.worker, remote.queue) == ("running", "box:41", "gpu")
    assert remote.line == "on Temporal: Implementation on worker box:41 (queue 'gpu')"
    again = remote_of(DRIVER, {**started, "attempt": 3}, "Implementation", None)
    assert again.line == "on Temporal: Implementation on worker box:41 (queue 'gpu', attempt 3)"
    waiting = remote_of(DRIVER, {**started, "pending": "scheduled", "running_on": None}, "Implementation", None)
    assert (waiting.state, waiting.worker) == ("waiting", None)
    assert waiting.line == "next: Implementation, waiting on Temporal queue 'gpu' for a worker"
    # No step scheduled yet and no worker to answer the query: the workflow's own queue, the query's step.
    first = remote_of(DRIVER, {"state": "running", "pending": None, "next_step": "Planning"}, None, None)
    assert first.line == "next: Planning, waiting on Temporal queue 'specrelay' for a worker"
    lost = remote_of(DRIVER, {"state": "unreachable", "error": "no answer within 2 s"}, "Planning", "from the ledger")
    assert (lost.state, lost.line, lost.error) == ("unreachable", "from the ledger", "no answer within 2 s")


def test_status_show_cost_and_the_dashboard_follow_a_remote_task(tmp_path: Path, dev_server: DevServer) -> None:
    repo = temporal_project(tmp_path, dev_server, builder_delay=8.0)
    config = repo / ".specrelay" / "config.toml"
    config.write_text(config.read_text().replace("[presets.flash-builder]\n",
                                                 '[presets.flash-builder]\nqueue = "gpu"\n'))
    general = worker(repo, dev_server, "general")
    gpu = None
    try:
        general.wait_ready()
        started = run_cli("run", "Add sub", "--detach", "--json", cwd=repo, subprocess=True)
        assert started.returncode == 0, started.stderr
        task_id = json.loads(started.stdout)["id"]
        waits = "next: Implementation, waiting on Temporal queue 'gpu' for a worker"
        row = wait_for("the build step to wait", lambda: (r := statuses(repo)[task_id])["message"] == waits and r)
        assert row["status"] == "running"
        assert {k: row["remote"][k] for k in ("state", "queue", "step", "worker", "workflow_id", "address")} == {
            "state": "waiting", "queue": "gpu", "step": "Implementation", "worker": None,
            "workflow_id": f"specrelay-{task_id}", "address": dev_server.address}
        assert f"{task_id} {waits}" in run_cli("status", cwd=repo, env={"COLUMNS": "200"}).stdout
        shown = json.loads(run_cli("show", task_id, "--json", cwd=repo).stdout)
        assert shown["remote"]["state"] == "waiting" and shown["message"] == waits
        text = run_cli("show", task_id, cwd=repo, env={"COLUMNS": "200"}).stdout
        assert f"Temporal: workflow specrelay-{task_id} at {dev_server.address} (namespace default) · queue 'gpu'" \
            in text and "step Implementation · waiting for a worker on queue 'gpu'" in text
        cost = run_cli("cost", "--task", task_id, cwd=repo, env={"COLUMNS": "200"}).stdout
        assert f"Task {task_id} is still running on Temporal ({waits}): these are its costs so far." in cost
        assert json.loads(run_cli("cost", "--task", task_id, "--json", cwd=repo).stdout)["remote"]["state"] == "waiting"
        web = client(repo)
        page = web.get(f"/tasks/{task_id}?token={TOKEN}").text
        assert escape(waits) in page and f"specrelay-{task_id}" in page and "waiting for one" in page

        gpu = worker(repo, dev_server, "gpu", "gpu")
        gpu.wait_ready()
        runs = f"on Temporal: Implementation on worker {socket.gethostname()}:{gpu.proc.pid} (queue 'gpu')"
        row = wait_for("a worker to take the build step", lambda: (r := statuses(repo)[task_id])["message"] == runs
                       and r)
        here = f"{socket.gethostname()}:{gpu.proc.pid}"
        assert (row["remote"]["state"], row["remote"]["worker"]) == ("running", here)
        # The dashboard keeps an answer a few seconds, then asks again.
        wait_for("the dashboard to see the worker", lambda: escape(runs) in web.get(f"/tasks/{task_id}").text,
                 timeout=4, every=0.5)
        done = wait_for("the task to end", lambda: (r := statuses(repo)[task_id])["status"] == "done" and r)
        assert done["remote"] is None
        assert "running on Temporal" not in run_cli("cost", "--task", task_id, cwd=repo).stdout
    finally:
        general.stop()
        if gpu is not None:
            gpu.stop()


def test_a_server_that_does_not_answer_leaves_status_quick(tmp_path: Path, dev_server: DevServer,
                                                           silent_server: str) -> None:
    repo = temporal_project(tmp_path, dev_server)
    many = 8
    started = run_cli("run", *[f"Add sub {n}" for n in range(many)], "--detach", cwd=repo, subprocess=True)
    assert started.returncode == 0, started.stderr
    before = wait_for("every task to wait for a worker", lambda: len(got := statuses(repo)) == many
                      and all(r["remote"]["state"] == "waiting" for r in got.values()) and got)
    for folder in (repo / ".specrelay" / "tasks").iterdir():  # their server now hangs
        remote = folder / "remote.json"
        remote.write_text(remote.read_text().replace(dev_server.address, silent_server))
    clock = time.monotonic()
    after = statuses(repo)
    took = time.monotonic() - clock
    assert took < 3, f"status took {took:.1f} s: the {many} tasks' server is asked at once, for 2 s at most"
    for task_id, row in after.items():
        assert row["status"] == "running", "a server that cannot be asked lets no task go"
        assert row["remote"]["state"] == "unreachable" and "did not answer within 2 s" in row["remote"]["error"]
        assert row["message"] == "next: Planning, on Temporal queue 'specrelay': waiting for a worker there"
        assert before[task_id]["message"] != row["message"], "the server's line, then the ledger's"
    web = client(repo)
    clock = time.monotonic()
    assert web.get(f"/?token={TOKEN}").status_code == 200
    first = time.monotonic() - clock
    clock = time.monotonic()
    for task_id in list(after)[:5]:
        assert "cannot be asked now" in web.get(f"/tasks/{task_id}").text
    again = time.monotonic() - clock
    assert first < 3 and again < 1, f"the dashboard keeps its answers a few seconds ({first:.1f} s, then {again:.1f} s)"


def test_temporal_dev_with_a_db_where_no_folder_can_be_made(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    db = tmp_path / "a-file" / "state" / "temporal.db"
    assert_clean_error(run_cli("temporal", "dev", "--db", str(db), cwd=tmp_path), f"--db {db}",
                       "cannot make its folder", "a folder you can write to")
