"""`specrelay demo`: the whole loop, offline, in a few seconds."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import run_cli


def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    proc = run_cli("demo", "--dir", str(target), "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    status = json.loads(proc.stdout)
    assert status["status"] == "done" and status["rounds"] == 2
    assert status["simulated"] and status["cost_usd"] > 0
    assert [s["status"] for s in status["steps"]] == ["done"] * 4
    worktree = Path(status["worktree"])
    log = subprocess.run(["git", "log", "--format=%(trailers:key=Specrelay-Task,valueonly)", "main..HEAD"],
                         cwd=worktree, capture_output=True, text=True, check=True).stdout.split()
    assert log == [status["id"]] * 2
    words = (worktree / "textkit/words.py").read_text()
    assert "raise ValueError" in words and "def truncate_words" in words
    folder = Path(status["folder"])
    assert (folder / "spec.md").read_text().startswith("# truncate_words")
    r1 = json.loads((folder / "review_r1.json").read_text())
    assert r1["verdict"] == "request_changes" and r1["findings"][0]["severity"] == "major"
    assert "### [x] Step: Review" in (folder / "workflow.md").read_text()
    assert "[ ]" not in (folder / "workflow.md").read_text()


def test_demo_text_output_says_it_was_scripted(tmp_path: Path) -> None:
    proc = run_cli("demo", "--dir", str(tmp_path / "d"), env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert "scripted" in proc.stdout and "simulated" in proc.stdout and "done" in proc.stdout
    assert run_cli("demo", "--dir", str(tmp_path / "d")).returncode == 2  # not empty any more


def test_demo_agent_runs_the_loop_with_a_tool_using_builder(tmp_path: Path) -> None:
    proc = run_cli("demo", "--agent", "--dir", str(tmp_path / "demo"), "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    status = json.loads(proc.stdout)
    assert status["status"] == "done" and status["rounds"] == 2
    worktree, folder = Path(status["worktree"]), Path(status["folder"])
    words = (worktree / "textkit/words.py").read_text()
    assert "raise ValueError" in words and "def truncate_words" in words
    for round_no, turns in ((1, 5), (2, 3)):
        lines = (folder / f"implement_r{round_no}.transcript.jsonl").read_text().splitlines()
        entries = [json.loads(line) for line in lines]
        assert len(entries) == turns
        checks = [t for e in entries for t in e["tools"] if t["name"] == "run_check"]
        assert [c["ok"] for c in checks] == [True] and checks[0]["answer"].startswith("exit code 0")
    shown = json.loads(run_cli("show", status["id"], "--json", cwd=tmp_path / "demo").stdout)
    assert len([c for c in shown["calls"] if c["phase"] == "implement"]) == 8
