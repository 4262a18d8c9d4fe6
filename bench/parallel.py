"""Many tasks at once on one repository: wall time against one task alone, memory, git lock waits.

    python bench/parallel.py [--tasks 20] [--latency 0.5] [--rounds 3] [--mode both|processes|one-process]
    python bench/parallel.py --mode workstreams [--latency 0.5] [--rounds 5]

Builds a sample repository; every task has a scripted team (every model reply takes ``--latency``
seconds; a task makes three calls: plan, build, review) and is verified by the project's unittest
suite. Each of ``--rounds`` rounds runs one task alone, then ``--tasks`` tasks at once, in two ways:

- ``processes``: one ``specrelay run`` process per task, all started at the same moment, each with
  its own team and its own change;
- ``one-process``: one ``specrelay run REQUEST...`` with every request (one team, whose presets
  allow ``--tasks`` calls in flight, so every task gets the same change on its own branch).

Reports the median wall time of the batch against the median of one task alone (goal: at most
1.5x), each round's ratio, peak memory (max RSS) and CPU time of the specrelay processes and of
their children (git, the tests), and how often and how long the repository lock was waited for.

``--mode workstreams`` measures parallel workstreams inside one task instead: a task whose spec has
three workstreams (``<!-- parallel: workstreams -->``, three builders at once, each reply taking
``--latency`` seconds, then three merges) against the same task with one workstream's work and one
builder; reported: the build step's median time (from the ledger's step start and end) with three
against one (goal: at most 1.3x), and the whole task's.

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


def run_processes(repo: Path, groups: list[list[Path]], reports: Path,
                  tag: str) -> tuple[float, list[dict[str, Any]]]:
    """Start one ``specrelay run`` per group at once, with a request per home of the group (all of a
    group's homes must be the same); the wall time until the last process exits, and each one's report."""
    t0 = time.perf_counter()
    procs = []
    for n, homes in enumerate(groups):
        report = reports / f"{tag}-{n}.json"
        requests = [f"Add feature {home.name} ({k})" for k, home in enumerate(homes)]
        procs.append((launch(repo, homes[0], report, requests), report))
    results = []
    for proc, report in procs:
        data, statuses = finish(proc, report)
        results.append({**data, "statuses": statuses})
    return time.perf_counter() - t0, results


def measure(args: argparse.Namespace, mode: str, fresh_repo: Any, alone_run: Any, batch_run: Any) -> dict[str, Any]:
    """``--rounds`` rounds of (one task alone, then the batch), interleaved so that the machine's load
    weighs on both alike, each round on a new copy of the repository (git's worktree commands slow
    down as worktrees pile up); times are medians over the rounds, resources those of the last round."""
    alone_s, batch_s, ratios = [], [], []
    for _ in range(args.rounds):
        repo = fresh_repo()
        one_s, one = alone_run(repo)
        wall, results = batch_run(repo)
        alone_s.append(one_s)
        batch_s.append(wall)
        ratios.append(wall / one_s)
    return {
        "mode": mode, "tasks": args.tasks, "rounds": args.rounds,
        "alone_s": round(statistics.median(alone_s), 2), "batch_s": round(statistics.median(batch_s), 2),
        "ratio": round(statistics.median(batch_s) / statistics.median(alone_s), 2),
        "ratio_per_round": [round(r, 2) for r in ratios],
        "not_done": sum(s != "done" for r in results for s in r["statuses"]) + sum(r["code"] != 0 for r in results),
        "alone_cpu_s": round(one["cpu_s"], 2), "alone_children_cpu_s": round(one["children_cpu_s"], 2),
        "alone_maxrss_mb": round(one["maxrss_mb"], 1),
        "batch_processes": len(results),
        "batch_cpu_s_total": round(sum(r["cpu_s"] for r in results), 2),
        "batch_children_cpu_s_total": round(sum(r["children_cpu_s"] for r in results), 2),
        "maxrss_mb_max": round(max(r["maxrss_mb"] for r in results), 1),
        "git_processes_per_task": round(sum(r["calls"] for r in results) / args.tasks),
        "lock_waits_total": sum(r["lock_waits"] for r in results),
        "lock_wait_s_total": round(sum(r["lock_wait_seconds"] for r in results), 3),
        "lock_wait_s_max_per_process": round(max(r["lock_wait_seconds"] for r in results), 3),
    }


WORKFLOW = ("# Workstreams\n\n### [ ] Step: Planning\n<!-- agent: opus-planner -->\nPlan.\n\n"
            "### [ ] Step: Implementation\n<!-- agent: flash-builder -->\n<!-- parallel: workstreams -->\n"
            "Build.\n\n### [ ] Step: Verification\n<!-- kind: verify -->\n\n"
            "### [ ] Step: Review\n<!-- agent: gpt-reviewer -->\nReview it.\n")


def ws_spec(n: int) -> str:
    streams = "".join(f"### Feature {i}\nAffected files: `feature_{i}.py`, `test_feature_{i}.py`\n"
                      f"Verification: its test passes\n\nAdd feature{i}() and its test.\n\n" for i in range(n))
    files = "".join(f"- `feature_{i}.py`\n- `test_feature_{i}.py`\n" for i in range(n))
    return (f"# Features\n\n## Goal\nAdd {n} features.\n\n## Approach\nOne module each.\n\n"
            f"## Affected files\n{files}\n" + (f"## Workstreams\n\n{streams}" if n > 1 else "")
            + "## Verification criteria\nTests pass.\n")


def make_ws_home(home: Path, streams: int, latency: float) -> None:
    home.mkdir(parents=True)
    builds = [EDIT.replace("{i}", str(i)) for i in range(streams)]
    replies = {"opus-planner": [ws_spec(streams)], "flash-builder": builds, "gpt-reviewer": [REVIEW]}
    lines = []
    for name, items in replies.items():
        (home / f"{name}.json").write_text(json.dumps(items))
        lines += [f"[presets.{name}]", 'provider = "scripted"', f'model = "{name}"', f'replies = "{name}.json"',
                  'price_as = "gpt-5.4"', "fallbacks = []", f"delay_s = {latency}", "max_concurrency = 4", ""]
    (home / "config.toml").write_text("\n".join(lines))


def build_step_s(repo: Path) -> float:
    """How long the task's build step took, from the ledger."""
    import sqlite3

    with sqlite3.connect(repo / ".specrelay" / "ledger.db") as db:
        start, end = db.execute("SELECT started_at, finished_at FROM steps WHERE kind = 'implement'").fetchone()
    return float(end - start)


def measure_workstreams(args: argparse.Namespace, root: Path, reports: Path) -> dict[str, Any]:
    """``--rounds`` rounds of (one workstream alone, three at once), each on a new repository."""
    homes = {n: root / f"ws{n}" for n in (1, 3)}
    for n, home in homes.items():
        make_ws_home(home, n, args.latency)
    build: dict[int, list[float]] = {1: [], 3: []}
    task: dict[int, list[float]] = {1: [], 3: []}
    statuses = []
    for r in range(args.rounds):
        for n in (1, 3):
            repo = root / f"wsrepo{r}-{n}"
            make_repo(repo)
            (repo / ".specrelay" / "workflows").mkdir()
            (repo / ".specrelay" / "workflows" / "streams.md").write_text(WORKFLOW)
            report = reports / f"ws{r}-{n}.json"
            t0 = time.perf_counter()
            proc = launch(repo, homes[n], report, ["Add features", "--workflow", "streams"])
            data, status = finish(proc, report)
            task[n].append(time.perf_counter() - t0)
            build[n].append(build_step_s(repo))
            statuses += status + ([] if data["code"] == 0 else [f"exit {data['code']}"])
    med = {n: statistics.median(v) for n, v in build.items()}
    return {"mode": "workstreams", "rounds": args.rounds, "build_one_s": round(med[1], 2),
            "build_three_s": round(med[3], 2), "build_ratio": round(med[3] / med[1], 2),
            "build_ratio_per_round": [round(b / a, 2) for a, b in zip(build[1], build[3], strict=True)],
            "task_one_s": round(statistics.median(task[1]), 2), "task_three_s": round(statistics.median(task[3]), 2),
            "task_ratio": round(statistics.median(task[3]) / statistics.median(task[1]), 2),
            "not_done": sum(s != "done" for s in statuses)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per scripted reply")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (one alone, the batch) to take medians of")
    parser.add_argument("--mode", choices=("both", "processes", "one-process", "workstreams"), default="both")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(Path(args.child[0]), args.child[1:])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        reports = root / "reports"
        reports.mkdir()
        runs = iter(range(10**6))
        if args.mode == "workstreams":
            rows.append(measure_workstreams(args, root, reports))

        def fresh_repo() -> Path:
            repo = root / f"repo{next(runs)}"
            make_repo(repo)
            return repo

        if args.mode in ("both", "one-process"):
            team = root / "team"
            make_home(team, 0, args.latency, concurrency=args.tasks)

            def one_alone(repo: Path) -> tuple[float, dict[str, Any]]:
                wall, [result] = run_processes(repo, [[team]], reports, f"r{next(runs)}")
                return wall, result

            rows.append(measure(args, "one-process", fresh_repo, one_alone,
                                lambda repo: run_processes(repo, [[team] * args.tasks], reports, f"r{next(runs)}")))
        if args.mode in ("both", "processes"):
            homes = []
            for i in range(args.tasks):
                make_home(root / f"{i}", i, args.latency)
                homes.append(root / f"{i}")

            def alone(repo: Path) -> tuple[float, dict[str, Any]]:
                wall, [result] = run_processes(repo, [[homes[0]]], reports, f"r{next(runs)}")
                return wall, result

            rows.append(measure(args, "processes", fresh_repo, alone,
                                lambda repo: run_processes(repo, [[h] for h in homes], reports, f"r{next(runs)}")))
    print(json.dumps({"latency_s": args.latency, "cpus": os.cpu_count(), "rows": rows}, indent=2))
    bad = [r for r in rows if r["not_done"]]
    if bad:
        print(f"tasks did not finish done: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
