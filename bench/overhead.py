"""Orchestration overhead of a whole task, with zero-delay scripted models.

    python bench/overhead.py [--tasks 20]

Runs N tasks (plan → implement → verify → review, approved in round 1) on a sample repository,
in-process, and splits each task's wall time into git subprocesses, verification commands, model
calls (scripted, zero delay: the seam itself) and everything else: orchestration. Goal:
orchestration ≤ 50 ms per task (median). The first task is a warm-up and not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = "# Sub\n\n## Goal\nAdd sub.\n\n## Approach\nA function.\n\n## Affected files\n- `calc.py`: sub\n\n" \
       "## Edge cases\nNone.\n\n## Verification criteria\nTests pass.\n"
EDIT = ("calc.py\n<<<<<<< SEARCH\ndef add(a, b):\n    return a + b\n=======\ndef add(a, b):\n    return a + b\n\n\n"
        "def sub(a, b):\n    return a - b\n>>>>>>> REPLACE\n")
REVIEW = json.dumps({"verdict": "approve", "summary": "ok", "findings": [],
                     "scores": {"semantic_resolution": 5, "contract_adherence": 5, "regression_safety": 5,
                                "scope_discipline": 5}})


def make_repo(root: Path, tasks: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    for i in range(40):  # a repository with some files, for a realistic repo map
        (root / f"mod{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n\n\nclass C{i}:\n    pass\n")
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "README.md").write_text("# sample\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@b"}
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=root, check=True, env=env)
    sr = root / ".specrelay"
    sr.mkdir()
    lines = []
    for name, reply in (("opus-planner", SPEC), ("flash-builder", EDIT), ("gpt-reviewer", REVIEW)):
        (sr / f"{name}.json").write_text(json.dumps([reply]))
        lines += [f"[presets.{name}]", 'provider = "scripted"', f'model = "{name}"', f'replies = "{name}.json"',
                  'price_as = "gpt-5.4"', "fallbacks = []", ""]
    lines += ["[verify]", 'commands = ["true"]']
    (sr / "config.toml").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SPECRELAY_HOME"] = str(Path(tmp) / "home")
        for k, v in (("GIT_AUTHOR_NAME", "b"), ("GIT_AUTHOR_EMAIL", "b@b"), ("GIT_COMMITTER_NAME", "b"),
                     ("GIT_COMMITTER_EMAIL", "b@b")):
            os.environ.setdefault(k, v)
        root = Path(tmp) / "repo"
        make_repo(root, args.tasks)
        from specrelay import gitrepo, paths
        from specrelay.config import load_config
        from specrelay.engine import Runner, create_task, prepare_workflow
        from specrelay.ledger import Ledger

        config = load_config(root)
        ledger = Ledger(paths.ledger_path(root))
        flow = prepare_workflow(root, config, "multi-model")
        rows = []
        for i in range(args.tasks + 1):
            gitrepo.reset_git_stats()
            t0 = time.perf_counter()
            task = create_task(root, ledger, config, f"Add sub {i}", workflow=flow)
            Runner(root, ledger, config, task.id).run()
            wall = time.perf_counter() - t0
            git_s = gitrepo.git_stats()["seconds"]
            verify_s = sum(c["seconds"] for c in json.loads((task.folder / "verify.json").read_text())["commands"])
            model_s = sum(r["latency_s"] for r in ledger.calls(task.id))
            status = ledger.task(task.id)["status"]
            assert status == "done", status
            if i:
                rows.append((wall, git_s, verify_s, model_s, wall - git_s - verify_s - model_s))
    med = [statistics.median(col) * 1000 for col in zip(*rows, strict=True)]
    print("| tasks | wall ms | git ms | verify ms | model calls ms | orchestration ms | goal |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {len(rows)} | {med[0]:.1f} | {med[1]:.1f} | {med[2]:.1f} | {med[3]:.2f} | {med[4]:.1f} | ≤ 50 ms |")
    return 0 if med[4] <= 50 else 1


if __name__ == "__main__":
    sys.exit(main())
