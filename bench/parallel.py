"""Many tasks at once on one repository: wall time against one task alone, memory, git lock waits.

    python bench/parallel.py [--tasks 20] [--latency 0.5] [--alone 3] [--mode both|processes|one-process]

Builds a sample repository; every task has a scripted team (every model reply takes ``--latency``
seconds; a task makes three calls: plan, build, review) and is verified by the project's unittest
suite. First one task alone (the median of ``--alone`` runs), then ``--tasks`` tasks at once, in
two ways:

- ``processes``: one ``specrelay run`` process per task, all started at the same moment, each with
  its own team and its own change;
- ``one-process``: one ``specrelay run REQUEST...`` with every request (one team, whose presets
  allow ``--tasks`` calls in flight, so every task gets the same change on its own branch).

Reports the wall time of each batch against one task alone (goal: at most 1.5x), peak memory (max
RSS) and CPU time of the specrelay processes and of their children (git, the tests), and how often
and how long the repository lock was waited for.

Each process runs specrelay's CLI in-process through this script (``--child``), which records its
peak RSS and git statistics when it exits.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SPEC = ("# Feature {i}\n\n## Goal\nAdd feature{i}().\n\n## Approach\nA new module.\n\n## Affected files\n"
        "- `feature_{i}.py`: new function\n- `test_feature_{i}.py`: its test\n\n## Edge cases\nNone.\n\n"
        "## Verification criteria\nTests pass.\n")
EDIT = ("feature_{i}.py\n<<<<<<< SEARCH\n=======\ndef feature{i}():\n    return {i}\n>>>>>>> REPLACE\n\n"
        "test_feature_{i}.py\n<<<<<<< SEARCH\n=======\nimport unittest\n\nfrom feature_{i} import feature{i}\n\n\n"
        "class T(unittest.TestCase):\n    def test_it(self):\n        self.assertEqual(feature{i}(), {i})\n"
        ">>>>>>> REPLACE\n")
REVIEW = json.dumps({"verdict": "approve", "summary": "ok", "findings": [],
                     "scores": {"semantic_resolution": 5, "contract_adherence": 5, "regression_safety": 5,
                                "scope_discipline": 5}})
IDENTITY = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}


def child(report: Path, args: list[str]) -> int:
    """Run the CLI in this process, then write peak RSS, CPU and git statistics to ``report``."""
    from specrelay.cli import main
    from specrelay.gitrepo import git_stats

    code = 0
    try:
        main_args = sys.argv
        sys.argv = ["specrelay", *args]
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = main_args
        usage = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        report.write_text(json.dumps({"code": code, "maxrss_mb": usage.ru_maxrss / 1024,
                                      "cpu_s": usage.ru_utime + usage.ru_stime,
                                      "children_cpu_s": children.ru_utime + children.ru_stime, **git_stats()}))
    return code


def make_repo(root: Path) -> None:
    env = {**os.environ, **IDENTITY}
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    for i in range(40):  # some files, for a realistic repository map
        (root / f"mod{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
    (root / "README.md").write_text("# sample\n")
    (root / "test_mods.py").write_text("import unittest\n\nfrom mod1 import f1\n\n\nclass T(unittest.TestCase):\n"
                                       "    def test_f1(self):\n        self.assertEqual(f1(1), 2)\n")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=root, check=True, env=env)
    (root / ".specrelay").mkdir()
    (root / ".specrelay" / "config.toml").write_text(
        f'[verify]\ncommands = ["{sys.executable} -m unittest -q"]\n')


def make_home(home: Path, i: int, latency: float, concurrency: int = 4) -> None:
    home.mkdir(parents=True)
    lines = []
    for name, text in (("opus-planner", SPEC), ("flash-builder", EDIT), ("gpt-reviewer", REVIEW)):
        (home / f"{name}.json").write_text(json.dumps([text.replace("{i}", str(i))]))
        lines += [f"[presets.{name}]", 'provider = "scripted"', f'model = "{name}"', f'replies = "{name}.json"',
                  'price_as = "gpt-5.4"', "fallbacks = []", f"delay_s = {latency}",
                  f"max_concurrency = {concurrency}", ""]
    (home / "config.toml").write_text("\n".join(lines))


def launch(repo: Path, home: Path, report: Path, requests: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, **IDENTITY, "SPECRELAY_HOME": str(home), "SPECRELAY_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, __file__, "--child", str(report), "run", *requests, "--json"],
                            cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], report: Path) -> tuple[dict[str, Any], list[str]]:
    """The process's report and the status of each of its tasks."""
    out, err = proc.communicate(timeout=600)
    try:
        data = json.loads(out)
        statuses = [item.get("status", item.get("error")) for item in (data if isinstance(data, list) else [data])]
    except ValueError:
        statuses = [f"no status: {err.strip()}"]
    return json.loads(report.read_text()), statuses


def batch(repo: Path, homes: list[Path], reports: Path, tag: str) -> tuple[float, list[dict[str, Any]]]:
    """Start one ``specrelay run`` per home at once; the wall time until the last one exits."""
    t0 = time.perf_counter()
    procs = [(launch(repo, home, reports / f"{tag}-{n}.json", [f"Add feature {home.name}"]),
              reports / f"{tag}-{n}.json") for n, home in enumerate(homes)]
    results = []
    for proc, report in procs:
        data, statuses = finish(proc, report)
        results.append({**data, "status": statuses[0]})
    return time.perf_counter() - t0, results


def one_process(repo: Path, home: Path, reports: Path, tasks: int, tag: str) -> tuple[float, dict[str, Any]]:
    """One ``specrelay run`` with ``tasks`` requests; the wall time until it exits."""
    t0 = time.perf_counter()
    proc = launch(repo, home, reports / f"{tag}.json", [f"Add feature {n}" for n in range(tasks)])
    data, statuses = finish(proc, reports / f"{tag}.json")
    return time.perf_counter() - t0, {**data, "statuses": statuses}


def processes_row(args: argparse.Namespace, repo: Path, homes: list[Path], reports: Path) -> dict[str, Any]:
    alone = [batch(repo, [homes[args.tasks + k]], reports, f"alone{k}") for k in range(args.alone)]
    alone_s = statistics.median(t for t, _ in alone)
    wall, results = batch(repo, homes[:args.tasks], reports, "batch")
    one = alone[0][1][0]
    return {
        "mode": "processes", "tasks": args.tasks, "alone_s": round(alone_s, 2), "batch_s": round(wall, 2),
        "ratio": round(wall / alone_s, 2),
        "not_done": sum(r["status"] != "done" or r["code"] != 0 for r in results),
        "alone_cpu_s": round(one["cpu_s"], 2), "alone_children_cpu_s": round(one["children_cpu_s"], 2),
        "alone_maxrss_mb": round(one["maxrss_mb"], 1),
        "batch_cpu_s_median": round(statistics.median(r["cpu_s"] for r in results), 2),
        "batch_cpu_s_total": round(sum(r["cpu_s"] for r in results), 1),
        "batch_children_cpu_s_total": round(sum(r["children_cpu_s"] for r in results), 1),
        "maxrss_mb_median": round(statistics.median(r["maxrss_mb"] for r in results), 1),
        "maxrss_mb_max": round(max(r["maxrss_mb"] for r in results), 1),
        "git_processes_per_task": round(statistics.median(r["calls"] for r in results)),
        "lock_waits_total": sum(r["lock_waits"] for r in results),
        "lock_wait_s_total": round(sum(r["lock_wait_seconds"] for r in results), 3),
        "lock_wait_s_max": round(max(r["lock_wait_seconds"] for r in results), 3),
    }


def one_process_row(args: argparse.Namespace, repo: Path, home: Path, reports: Path) -> dict[str, Any]:
    alone = [one_process(repo, home, reports, 1, f"one-alone{k}") for k in range(args.alone)]
    alone_s = statistics.median(t for t, _ in alone)
    wall, result = one_process(repo, home, reports, args.tasks, "one-batch")
    return {
        "mode": "one-process", "tasks": args.tasks, "alone_s": round(alone_s, 2), "batch_s": round(wall, 2),
        "ratio": round(wall / alone_s, 2),
        "not_done": sum(s != "done" for s in result["statuses"]) + (result["code"] != 0),
        "alone_cpu_s": round(alone[0][1]["cpu_s"], 2),
        "alone_children_cpu_s": round(alone[0][1]["children_cpu_s"], 2),
        "batch_cpu_s_total": round(result["cpu_s"], 2),
        "batch_children_cpu_s_total": round(result["children_cpu_s"], 2),
        "maxrss_mb": round(result["maxrss_mb"], 1),
        "git_processes_per_task": round(result["calls"] / args.tasks),
        "lock_waits_total": result["lock_waits"], "lock_wait_s_total": round(result["lock_wait_seconds"], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per scripted reply")
    parser.add_argument("--alone", type=int, default=3, help="single-task runs to take the median of")
    parser.add_argument("--mode", choices=("both", "processes", "one-process"), default="both")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(Path(args.child[0]), args.child[1:])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo, reports = root / "repo", root / "reports"
        reports.mkdir()
        make_repo(repo)
        if args.mode in ("both", "one-process"):
            make_home(root / "team", 0, args.latency, concurrency=args.tasks)
            rows.append(one_process_row(args, repo, root / "team", reports))
        if args.mode in ("both", "processes"):
            homes = []
            for i in range(args.tasks + args.alone):
                make_home(root / f"{i}", i, args.latency)
                homes.append(root / f"{i}")
            rows.append(processes_row(args, repo, homes, reports))
    print(json.dumps({"latency_s": args.latency, "cpus": os.cpu_count(), "rows": rows}, indent=2))
    bad = [r for r in rows if r["not_done"]]
    if bad:
        print(f"tasks did not finish done: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
