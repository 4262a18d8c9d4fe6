"""Building blocks for the dashboard's tests: a repository with tasks in known states, and its app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import run_cli
from taskkit import MAJOR, happy_replies, project, review

TOKEN = "test-token-0123456789"


def run_json(repo: Path, *args: str, subprocess: bool = False) -> dict[str, Any]:
    """``specrelay ARGS --json`` in ``repo``: its one status object."""
    proc = run_cli(*args, "--json", cwd=repo, subprocess=subprocess)
    try:
        out = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(proc.stdout + proc.stderr) from None
    assert isinstance(out, dict), out
    return out


def repo_with_tasks(tmp_path: Path, *, delay: float = 0.0,
                    subprocess: bool = False) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """A repository with a done task (approved, with a minor finding) and a task paused by its budget
    before it built anything. Returns the repo and the two status objects. ``subprocess``: the CLI runs
    as a process (beside a browser's event loop, which an in-process run cannot share)."""
    replies = happy_replies()
    replies["opus-planner"] = replies["opus-planner"] * 3
    replies["flash-builder"] = replies["flash-builder"] * 3
    replies["gpt-reviewer"] = [review("approve", [{**MAJOR, "severity": "minor"}])] * 3
    repo = project(tmp_path, replies, delay=delay)
    done = run_json(repo, "run", "Add sub", subprocess=subprocess)
    assert done["status"] == "done", done
    paused = run_json(repo, "run", "Add sub again", "--budget", "0.001", subprocess=subprocess)
    assert paused["status"] == "paused", paused
    return repo, done, paused


def client(repo: Path, *, token: str = TOKEN) -> Any:
    """A Starlette test client of the dashboard of ``repo`` (no token given yet)."""
    from starlette.testclient import TestClient

    from specrelay.web.server import create_app

    return TestClient(create_app(repo, token, 80), base_url="http://127.0.0.1")
