"""The dashboard under a big ledger: time to first byte of the task list, and how soon a ledger write
reaches a browser.

    python bench/serve.py [--tasks 1000] [--calls 50000] [--requests 20] [--writes 20]

Builds a repository whose ledger holds ``--tasks`` tasks (four steps each, a mix of statuses, each
with its task folder and verify.json) and ``--calls`` model calls spread over them, then serves it with
``specrelay serve``'s app on 127.0.0.1 (uvicorn, on a thread of this process):

- time to first byte of ``GET /`` (every task's row), over one kept-alive connection, as a browser
  holding the cookie asks it. The server reads every task whole for its first request (reported apart)
  and then only the tasks written since (``app/board.py``). Goal: ≤ 100 ms (median).
- event latency: a server-sent event stream of the task list is open (as the page's script holds it);
  another connection to the ledger changes one task (its status and message, as a run does), and the
  time from its commit to that task's event read off the stream is measured. Goal: ≤ 500 ms (median).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

STATUSES = ("done", "merged", "needs_attention", "paused", "failed", "discarded")
STEPS = (("Planning", "plan", "opus-planner"), ("Implementation", "implement", "flash-builder"),
         ("Verification", "verify", ""), ("Review", "review", "gpt-reviewer"))


def make_repo(root: Path, tasks: int, calls: int) -> list[str]:
    """A git repository with a ledger of ``tasks`` tasks and ``calls`` calls; the tasks' ids."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@b"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    (root / "README.md").write_text("# sample\n")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=root, check=True, env=env)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True,
                         text=True).stdout.strip()

    from specrelay import paths
    from specrelay.ledger import CallRecord, Ledger, NewStep, StepStatus, TaskStatus

    rng = random.Random(16)
    ledger = Ledger(paths.ledger_path(root))
    ids = [f"bench-task-{i:04d}-{rng.randrange(16**4):04x}" for i in range(tasks)]
    start = time.time() - 86400
    with ledger.transaction():
        for n, task_id in enumerate(ids):
            status = TaskStatus(STATUSES[n % len(STATUSES)])
            ledger.insert_task(id=task_id, title=f"Bench task {n}", request=f"Do thing {n}", status=status,
                               workflow="multi-model", base_ref=None, base_sha=sha, base_branch="main",
                               branch=f"specrelay/{task_id}", worktree=str(paths.worktree_dir(root, task_id)),
                               rounds=1 + n % 3, current_step=None if status is TaskStatus.DONE else "Review",
                               budget_usd=None)
            ledger.conn.execute("UPDATE tasks SET created_at=?, updated_at=? WHERE id=?",
                                (start + n * 60, start + n * 60 + 30, task_id))
            ledger.put_steps(task_id, [NewStep(title, kind, (preset,) if preset else (), StepStatus.PENDING)
                                       for title, kind, preset in STEPS])
            for idx in range(len(STEPS)):
                ledger.update_step(task_id, idx, status=StepStatus.DONE, round=1, started_at=start + n * 60,
                                   finished_at=start + n * 60 + 5, detail=json.dumps({"verdict": "approve"})
                                   if idx == 3 else None)
            folder = paths.task_dir(root, task_id)
            folder.mkdir(parents=True)
            (folder / "verify.json").write_text(json.dumps({"passed": True, "state": "passed", "commands": []}))
        for c in range(calls):
            task_id = ids[c % tasks]
            title, kind, preset = STEPS[(c // tasks) % len(STEPS)]
            ledger.record_call(CallRecord(
                run_id=f"run-{task_id}", phase=kind, preset=preset or "opus-planner", provider="scripted",
                model=f"scripted-{preset or 'opus-planner'}", started_at=start + c, latency_s=0.5, outcome="ok",
                input_tokens=rng.randrange(500, 20_000), output_tokens=rng.randrange(50, 4000),
                cost_usd=rng.random() / 50, simulated=True, estimated=True, task_id=task_id, step=title,
                context={"system": 300, "spec": 800, "files": 4000}))
    ledger.close()
    return ids


def first_byte(conn: http.client.HTTPConnection, path: str, cookie: str) -> tuple[float, int, int]:
    """Seconds to the response's first byte (its status line and headers), its status and body size."""
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie})
    response = conn.getresponse()
    took = time.perf_counter() - t0
    body = response.read()
    return took, response.status, len(body)


def next_event(stream: http.client.HTTPResponse) -> dict[str, object]:
    """The next ``task`` event's data off a server-sent event stream."""
    name = None
    while True:
        line = stream.readline()
        if not line:
            raise RuntimeError("the event stream ended")
        if line.startswith(b"event: "):
            name = line[7:].strip().decode()
        elif line.startswith(b"data: ") and name == "task":
            data = json.loads(line[6:])
            assert isinstance(data, dict)
            return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--writes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SPECRELAY_HOME"] = str(Path(tmp) / "home")
        root = Path(tmp) / "repo"
        t0 = time.perf_counter()
        ids = make_repo(root, args.tasks, args.calls)
        print(f"ledger: {args.tasks} tasks, {args.calls} calls, built in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)

        from specrelay.app.workspace import ledger_of
        from specrelay.ledger import TaskStatus
        from specrelay.web.guard import cookie_name
        from specrelay.web.server import Background

        server = Background(root)
        try:
            where = urlsplit(server.base)
            host, port = where.hostname or "127.0.0.1", where.port or 80
            cookie = f"{cookie_name(port)}={server.token}"
            conn = http.client.HTTPConnection(host, port, timeout=60)
            ttfb = []
            for i in range(args.requests + 1):
                took, status, size = first_byte(conn, "/", cookie)
                assert status == 200, status
                if i:
                    ttfb.append(took)
                else:
                    cold = took
            conn.close()

            sse = http.client.HTTPConnection(host, port, timeout=30)
            sse.request("GET", "/live/tasks", headers={"Cookie": cookie})
            stream = sse.getresponse()
            assert stream.status == 200
            time.sleep(1.0)  # the stream's watch takes its first mark
            latencies = []
            rng = random.Random(7)
            with ledger_of(root) as ledger:
                for n in range(args.writes):
                    task_id = rng.choice(ids)
                    status = TaskStatus.NEEDS_ATTENTION if n % 2 else TaskStatus.FAILED
                    ledger.update_task(task_id, status=status, message=f"changed {n}")
                    wrote = time.perf_counter()
                    while next_event(stream)["id"] != task_id:
                        pass
                    latencies.append(time.perf_counter() - wrote)
                    time.sleep(rng.uniform(0.1, 0.4))  # writes come at any moment of the stream's poll
            sse.close()
        finally:
            server.stop()
    load = os.getloadavg()[0]

    def ms(values: list[float], q: float) -> float:
        return 1000 * statistics.quantiles(values, n=10)[int(q * 10) - 1] if len(values) > 1 else 1000 * values[0]

    print(f"load average {load:.1f} on {os.cpu_count()} cores")
    print(f"task list ({args.tasks} tasks, {size / 1024:.0f} KiB): time to first byte median "
          f"{1000 * statistics.median(ttfb):.1f} ms, p90 {ms(ttfb, 0.9):.1f} ms over {len(ttfb)} requests "
          f"(goal ≤ 100 ms); the first, reading every task whole: {1000 * cold:.0f} ms")
    print(f"ledger write to its server-sent event: median {1000 * statistics.median(latencies):.0f} ms, "
          f"p90 {ms(latencies, 0.9):.0f} ms over {len(latencies)} writes (goal ≤ 500 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
