"""SIGKILL a running task at many points, resume it, and get exactly what an uninterrupted run gets.

The task runs two rounds (plan → implement → verify → review asks for changes → implement → verify →
review approves). Scripted models answer in 0.3 s, a git pre-commit hook takes 0.3 s (the window
between a model's reply and its commit) and verification takes 0.3 s, so that every phase has an
inside to be killed in. Each *lineage* starts one task and kills it again and again at chosen moments,
each time resuming it, until it finishes; its final result must equal the uninterrupted run's:

- the tree of the task branch's HEAD and its commit subjects;
- the ledger's successful calls: how many, in what order, which preset, which key, what tokens
  (each recorded exactly once), and no other rows;
- the artifacts (spec.md, review.json, review.md, the per-round reviews...), byte for byte;
- workflow.md's checkboxes, which must match the ledger's step statuses.

Moments are read from the ledger (current step, finished steps, recorded calls) and from marker
files the hook and the verify command leave. Some lineages kill only the specrelay process (its git
and verify children live on, as after an OOM kill), some kill its whole process group.
Slow: about a minute for the whole file.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from fleet import env_for, git
from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, project, review

from specrelay import paths

PHASE_S = 0.3  # each model reply, the pre-commit hook, and the verify command take this long
HOOK = f"#!/bin/sh\ntouch \"$KILLTEST_MARKS/hook-$$\"\nsleep {PHASE_S}\n"
VERIFY = (f"sh -c 'touch \"$KILLTEST_MARKS/verify-$$\"; sleep {PHASE_S}' && {sys.executable} -m unittest -q")

Snapshot = dict[str, Any]


@dataclass(frozen=True)
class KillPoint:
    """Kill ``after`` seconds once ``when(state, state_when_the_wait_began)`` holds."""

    name: str
    when: Callable[[Snapshot, Snapshot], bool]
    after: float = 0.0


Check = Callable[[Snapshot, Snapshot], bool]


def running_step(idx: int, rnd: int = 1) -> Check:
    return lambda s, _: s["status"] == "running" and s["rounds"] == rnd and s["steps"][idx] == "running"


def step_done(idx: int, rnd: int = 1) -> Check:
    return lambda s, _: s["rounds"] == rnd and s["steps"][idx] == "done" and s["status"] == "running"


def calls_at_least(n: int) -> Check:
    return lambda s, _: s["ok_calls"] >= n


def new_mark(kind: str, rnd: int) -> Check:
    """The hook or the verify command started (again) in round ``rnd``."""
    return lambda s, base: s["rounds"] == rnd and s[kind] > base[kind]


# Steps: 0 plan, 1 implement, 2 verify, 3 review. Calls: 1 plan, 2 build, 3 review, 4 build, 5 review.
LINEAGES: dict[str, tuple[bool, list[KillPoint]]] = {
    "inside-each-phase": (False, [
        KillPoint("in the plan call", running_step(0), 0.1),
        KillPoint("in the first build call", running_step(1), 0.1),
        KillPoint("in the first pre-commit hook", new_mark("hook", 1), 0.1),
        KillPoint("in the first verification", new_mark("verify", 1), 0.1),
        KillPoint("in the first review call", running_step(3), 0.1),
        KillPoint("in the second pre-commit hook", new_mark("hook", 2), 0.1),
        KillPoint("in the second verification", new_mark("verify", 2), 0.1),
        KillPoint("in the final review call", running_step(3, 2), 0.1),
    ]),
    "right-after-each-record": (False, [
        KillPoint("plan reply recorded, spec.md not yet written", calls_at_least(1)),
        KillPoint("plan step finished", step_done(0)),
        KillPoint("build reply recorded, not yet applied", calls_at_least(2)),
        KillPoint("first commit made", step_done(1)),
        KillPoint("verification finished", step_done(2)),
        KillPoint("first review recorded, loop not yet reopened", calls_at_least(3)),
        KillPoint("second round opened", lambda s, _: s["rounds"] == 2 and s["status"] == "running"),
        KillPoint("second build reply recorded", calls_at_least(4)),
        KillPoint("final review recorded", calls_at_least(5)),
    ]),
    "whole-process-group": (True, [
        KillPoint("in the plan call", running_step(0), 0.2),
        KillPoint("in the first pre-commit hook", new_mark("hook", 1), 0.05),
        KillPoint("as the first hook ends", new_mark("hook", 1), PHASE_S - 0.02),
        KillPoint("in the first verification", new_mark("verify", 1), 0.2),
        KillPoint("in the second build call", running_step(1, 2), 0.15),
        KillPoint("in the second pre-commit hook", new_mark("hook", 2), 0.15),
        KillPoint("in the second verification", new_mark("verify", 2), 0.1),
    ]),
}


def make_template(where: Path, phase_s: float) -> Path:
    """The project every run copies: same files, same base commit, so the results compare."""
    env = {"GIT_AUTHOR_NAME": "Test User", "GIT_AUTHOR_EMAIL": "test@example.com", "GIT_COMMITTER_NAME": "Test User",
           "GIT_COMMITTER_EMAIL": "test@example.com", "GIT_AUTHOR_DATE": "2025-01-01T00:00:00Z",
           "GIT_COMMITTER_DATE": "2025-01-01T00:00:00Z"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        replies = {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
                   "gpt-reviewer": [review("request_changes", [MAJOR]), review()]}
        verify = VERIFY if phase_s else f"{sys.executable} -m unittest -q"
        repo = project(where, replies, verify=[verify], delay=phase_s)
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    if phase_s:
        hook = repo / ".git" / "hooks" / "pre-commit"
        hook.parent.mkdir(exist_ok=True)
        hook.write_text(HOOK)
        hook.chmod(0o755)
    return repo


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_template(tmp_path_factory.mktemp("template"), PHASE_S)


@pytest.fixture(scope="module")
def quick_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_template(tmp_path_factory.mktemp("quick"), 0.0)


def copy_of(template: Path, where: Path) -> tuple[Path, dict[str, str]]:
    repo = where / "repo"
    shutil.copytree(template, repo, symlinks=True)
    marks = where / "marks"
    marks.mkdir()
    env = {**env_for(Path(os.environ["SPECRELAY_HOME"])), "KILLTEST_MARKS": str(marks)}
    return repo, env


def launch(repo: Path, env: dict[str, str], *args: str, group: bool) -> Any:
    import subprocess

    return subprocess.Popen([sys.executable, "-m", "specrelay", *args], cwd=repo, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=group)


def snapshot(ledger: sqlite3.Connection, marks: Path) -> Snapshot | None:
    try:
        task = ledger.execute("SELECT id, status, rounds FROM tasks").fetchone()
    except sqlite3.OperationalError:  # the ledger is being created
        return None
    if task is None:
        return None
    steps = [r[0] for r in ledger.execute("SELECT status FROM steps WHERE task_id=? ORDER BY idx", (task[0],))]
    ok = ledger.execute("SELECT COUNT(*) FROM calls WHERE outcome='ok'").fetchone()[0]
    names = os.listdir(marks)
    return {"id": task[0], "status": task[1], "rounds": task[2], "steps": steps, "ok_calls": ok,
            "hook": sum(n.startswith("hook") for n in names), "verify": sum(n.startswith("verify") for n in names)}


def open_ledger(repo: Path, deadline: float) -> sqlite3.Connection:
    path = paths.ledger_path(repo)
    while not path.exists():
        assert time.monotonic() < deadline, "the ledger never appeared"
        time.sleep(0.01)
    return sqlite3.connect(path, isolation_level=None, timeout=10)


def final_result(repo: Path) -> dict[str, Any]:
    [status] = json.loads(_cli(repo, "status", "--json"))
    assert status["status"] != "running"
    worktree, folder = Path(status["worktree"]), Path(status["folder"])
    ledger = sqlite3.connect(paths.ledger_path(repo))
    calls = ledger.execute("SELECT phase, preset, step, call_key, input_tokens, output_tokens, outcome FROM calls "
                           "ORDER BY id").fetchall()
    artifacts = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or p.name in ("run.lock", "run.log", "events.jsonl") or p.name.endswith(".log"):
            continue
        text = p.read_text()
        if p.name == "verify.json":
            text = re.sub(r'"seconds": [0-9.e-]+', '"seconds": 0', text)
        artifacts[p.name] = text
    workflow = artifacts["workflow.md"]
    ticks = ["x" if m == "x" else " " for m in re.findall(r"^### \[([ x])\] Step:", workflow, re.M)]
    step_rows = ledger.execute("SELECT status FROM steps WHERE task_id=? ORDER BY idx", (status["id"],)).fetchall()
    assert ticks == ["x" if r[0] == "done" else " " for r in step_rows], "workflow.md disagrees with the ledger"
    return {
        "status": status["status"], "rounds": status["rounds"], "message": status["message"],
        "tree": git(worktree, "rev-parse", "HEAD^{tree}").strip(),
        "subjects": git(worktree, "log", "--format=%s", f"{status['base_sha']}..HEAD").splitlines(),
        "clean": git(worktree, "status", "--porcelain", "--untracked-files=no") == "",
        "calls": calls, "artifacts": artifacts,
    }


def _cli(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = run_cli(*args, cwd=repo, env=env or env_for(Path(os.environ["SPECRELAY_HOME"])))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


_references: dict[Path, dict[str, Any]] = {}


def reference(template: Path, tmp_path: Path) -> dict[str, Any]:
    """The final result of one uninterrupted run of the template (computed once per template)."""
    if template not in _references:
        repo, env = copy_of(template, tmp_path / "reference")
        _cli(repo, "run", "Add sub", env=env)  # in this process: no kill, only the result to compare with
        ref = _references[template] = final_result(repo)
        assert ref["status"] == "done" and ref["rounds"] == 2 and ref["clean"]
        assert len(ref["calls"]) == 5 and ref["subjects"] == [
            "Fix review findings: Subtraction", "Subtraction"]
    return _references[template]


# Runs a task like `specrelay run` / `resume` does, and SIGKILLs itself at its N-th progress event
# (step started or finished, call started or finished, note): a crash at an exact point of the run.
CRASH_AT_EVENT = """
import os, signal, sys
from pathlib import Path
from specrelay import paths
from specrelay.config import load_config
from specrelay.engine import Runner, create_task, prepare_workflow
from specrelay.ledger import Ledger

root, crash_at, workflow = Path.cwd(), int(sys.argv[1]), sys.argv[2]
config, ledger = load_config(root), Ledger(paths.ledger_path(root))
seen = []

def emit(event):
    if event.event in ("call_started", "call_delta"):  # nothing is recorded between them and the call's end
        return
    seen.append(event.event)
    data = event.fields()
    print(len(seen), event.event, data.get("title") or data.get("preset") or data.get("text") or "", flush=True)
    if len(seen) == crash_at:
        os.kill(os.getpid(), signal.SIGKILL)

task = create_task(root, ledger, config, "Add sub", workflow=prepare_workflow(root, config, workflow))
Runner(root, ledger, config, task.id, emit=emit).run()
print("finished after", len(seen), "events")
"""


@pytest.mark.parametrize("lineage", list(LINEAGES))
def test_sigkill_at_many_points_then_resume_gives_the_uninterrupted_result(
        lineage: str, template: Path, tmp_path: Path) -> None:
    expected = reference(template, tmp_path)
    group, points = LINEAGES[lineage]
    repo, env = copy_of(template, tmp_path / lineage)
    marks = Path(env["KILLTEST_MARKS"])
    proc = launch(repo, env, "run", "Add sub", group=group)
    ledger = open_ledger(repo, time.monotonic() + 30)
    hits: list[str] = []
    for point in points:
        deadline = time.monotonic() + 30
        snap = base = None
        while proc.poll() is None and time.monotonic() < deadline:
            snap = snapshot(ledger, marks)
            if snap is None or not snap["steps"]:
                continue
            base = base or snap
            if point.when(snap, base):
                break
            time.sleep(0.005)
        else:
            raise AssertionError(f"{lineage}: never reached '{point.name}' (last state {snap}); "
                                 f"{proc.communicate()[1] if proc.poll() is not None else 'still running'}")
        time.sleep(point.after)
        assert proc.poll() is None, f"{lineage}: the task ended before '{point.name}'"
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait()
        hits.append(point.name)
        assert snap is not None
        proc = launch(repo, env, "resume", snap["id"], group=group)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert hits == [p.name for p in points]
    got = final_result(repo)
    assert got == expected


def test_sigkill_at_random_moments_then_resume(template: Path, tmp_path: Path) -> None:
    """Eight kills at random times (seeded), wherever they land."""
    expected = reference(template, tmp_path)
    rng = random.Random(20)
    repo, env = copy_of(template, tmp_path / "random")
    proc = launch(repo, env, "run", "Add sub", group=False)
    ledger = open_ledger(repo, time.monotonic() + 30)
    kills = 0
    task_id = None
    while kills < 8:
        time.sleep(rng.uniform(0.2, 1.0))
        snap = snapshot(ledger, marks=Path(env["KILLTEST_MARKS"]))
        if proc.poll() is not None:
            break
        proc.kill()
        proc.wait()
        kills += 1
        task_id = task_id or (snap or snapshot(ledger, Path(env["KILLTEST_MARKS"])) or {}).get("id")
        if task_id is None:  # killed before the task existed: start again, as a user would
            shutil.rmtree(repo / ".specrelay" / "tasks", ignore_errors=True)
            proc = launch(repo, env, "run", "Add sub", group=False)
            continue
        proc = launch(repo, env, "resume", task_id, group=False)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert kills >= 5
    assert final_result(repo) == expected


Crash = tuple[Path, dict[str, str], str, bool]


def _crash(template: Path, where: Path, event: int, workflow: str = "multi-model") -> Crash:
    """A copy of the template whose run SIGKILLed itself at its ``event``-th progress event: the copy,
    its environment, the last event printed, and whether it crashed (False: fewer events than that)."""
    import subprocess

    repo, env = copy_of(template, where)
    crashed = subprocess.run([sys.executable, "-c", CRASH_AT_EVENT, str(event), workflow], cwd=repo, env=env,
                             capture_output=True, text=True, timeout=120)
    last = (crashed.stdout.strip().splitlines() or ["(no event)"])[-1]
    if crashed.returncode != 0:
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    return repo, env, last, crashed.returncode != 0


def _resume(crash: Crash) -> dict[str, Any] | None:
    """Resume the crashed task (in this process: the kill is over) and its final result; None when
    it did not crash."""
    repo, env, last, crashed = crash
    if not crashed:
        return None
    [(task_id, status)] = sqlite3.connect(paths.ledger_path(repo)).execute("SELECT id, status FROM tasks")
    if status not in ("done", "needs_attention"):  # a crash after the task ended leaves nothing to resume
        proc = run_cli("resume", task_id, cwd=repo, env=env)
        assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, \
            f"resume after a crash at event {last}: {proc.stderr}"
    return final_result(repo)


def _crash_then_resume(template: Path, where: Path, event: int,
                       workflow: str = "multi-model") -> tuple[str, dict[str, Any] | None]:
    crash = _crash(template, where, event, workflow)
    return crash[2], _resume(crash)


def test_sigkill_at_every_progress_event_then_resume(quick_template: Path, tmp_path: Path) -> None:
    """A crash right at each event of the run: every step start and end, every call, every note."""
    from concurrent.futures import ThreadPoolExecutor

    expected = reference(quick_template, tmp_path)
    with ThreadPoolExecutor(2) as pool:  # the crashes side by side; the resumes one by one, in this process
        crashes = list(pool.map(lambda n: _crash(quick_template, tmp_path / f"e{n}", n), range(1, 26)))
    results = [(n, crash[2], _resume(crash)) for n, crash in enumerate(crashes, 1)]
    crashed = [(n, last, got) for n, last, got in results if got is not None]
    assert len(crashed) == 24 and results[-1][2] is None, [last for _, last, _ in results]
    wrong = [last for _, last, got in crashed if got != expected]
    assert not wrong, f"a crash at these events changed the final result: {wrong}"


def test_resume_while_the_killed_runs_commit_is_still_in_its_hook(quick_template: Path, tmp_path: Path) -> None:
    """Killed while `git commit` runs a slow hook: the orphaned commit lands after the resume started."""
    expected = reference(quick_template, tmp_path)
    repo, env = copy_of(quick_template, tmp_path / "orphan")
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\ntouch \"$KILLTEST_MARKS/hook-$$\"\nsleep 2\n")
    hook.chmod(0o755)
    marks = Path(env["KILLTEST_MARKS"])
    proc = launch(repo, env, "run", "Add sub", group=False)
    deadline = time.monotonic() + 60
    while not os.listdir(marks):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    [(task_id,)] = sqlite3.connect(paths.ledger_path(repo)).execute("SELECT id FROM tasks")
    proc = launch(repo, env, "resume", task_id, group=False)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert final_result(repo) == expected


def test_sigkill_around_the_last_review_of_a_task_that_needs_attention(quick_template: Path, tmp_path: Path) -> None:
    """With one round allowed, a review asking for changes ends the task as needs_attention, crash or not."""
    import subprocess

    template = tmp_path / "one-round"
    shutil.copytree(quick_template, template, symlinks=True)
    flows = template / ".specrelay" / "workflows"
    flows.mkdir()
    text = (paths.data_dir() / "workflows" / "multi-model.md").read_text()
    (flows / "one-round.md").write_text(text.replace("<!-- max-rounds: 3 -->", "<!-- max-rounds: 1 -->"))
    repo, env = copy_of(template, tmp_path / "reference-one-round")
    proc = subprocess.run([sys.executable, "-c", CRASH_AT_EVENT, "0", "one-round"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    expected = final_result(repo)
    assert expected["status"] == "needs_attention" and "sub has no docstring" in expected["message"]
    events = [e.strip() for e in proc.stdout.strip().splitlines()]
    assert events[-3].endswith("step_finished Review") and events[-2].endswith("task_finished")
    for n in range(len(events) - 4, len(events)):  # the review's call, its end, the task's end
        last, got = _crash_then_resume(template, tmp_path / f"one-round-{n}", n, "one-round")
        assert got == expected, f"crash at event {last}"


def test_a_stale_index_lock_left_by_a_killed_git_is_removed_on_resume(tmp_path: Path) -> None:
    """A git command killed with its run leaves ``index.lock`` behind; the resumed run clears it (no
    git process works in the task's worktree any more) instead of failing on it at the commit."""
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [], "gpt-reviewer": [review()]})
    assert run_cli("run", "Add sub", cwd=repo).returncode != 0  # pauses at the build: no replies yet
    [task] = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    gitdir = Path(task["worktree"]) / Path(task["worktree"], ".git").read_text().removeprefix("gitdir:").strip()
    (gitdir / "index.lock").write_text("")
    (repo / ".specrelay" / "flash-builder.json").write_text(json.dumps([ADD_SUB]))
    proc = run_cli("resume", task["id"], cwd=repo, env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert "removed the index.lock" in proc.stdout
    assert not (gitdir / "index.lock").exists()
    assert git(Path(task["worktree"]), "log", "-1", "--format=%(trailers:key=Specrelay-Step,valueonly)").strip()
