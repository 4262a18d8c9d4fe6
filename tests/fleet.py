"""Helpers for tests that run many ``specrelay`` processes on one repository at once.

Each task gets its own scripted team through its own ``$SPECRELAY_HOME`` (the user config layer),
so that every task makes its own change: task ``i`` creates ``feature_i.py`` and a test for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import make_repo, run_cli
from taskkit import CALC, TEST_CALC, review

TEAM = ("opus-planner", "flash-builder", "gpt-reviewer")

#: For a test module that starts many processes at once (``pytestmark = FLEET``): under
#: ``pytest -n N --dist loadgroup`` such modules run on one worker, one after another, so that two
#: fleets never compete for the CPUs (their checks that tasks ran side by side would flake).
FLEET = pytest.mark.xdist_group("fleet")


def feature_spec(i: int) -> str:
    return (f"# Feature {i}\n\n## Goal\nAdd feature{i}().\n\n## Approach\nA new module.\n\n"
            f"## Affected files\n- `feature_{i}.py`: new function feature{i}\n- `test_feature_{i}.py`: its test\n\n"
            "## Edge cases\nNone.\n\n## Verification criteria\nTests pass.\n")


def feature_edit(i: int) -> str:
    return (f"feature_{i}.py\n<<<<<<< SEARCH\n=======\ndef feature{i}():\n    return {i}\n>>>>>>> REPLACE\n\n"
            f"test_feature_{i}.py\n<<<<<<< SEARCH\n=======\nimport unittest\n\nfrom feature_{i} import feature{i}\n\n\n"
            f"class T(unittest.TestCase):\n    def test_it(self):\n        self.assertEqual(feature{i}(), {i})\n"
            ">>>>>>> REPLACE\n")


def feature_replies(i: int) -> dict[str, list[Any]]:
    return {"opus-planner": [feature_spec(i)], "flash-builder": [feature_edit(i)], "gpt-reviewer": [review()]}


def shared_repo(tmp_path: Path, *, verify: list[str] | None = None, extra: str = "") -> Path:
    """A repository whose project config holds only what every task shares (no presets)."""
    repo = make_repo(tmp_path / "repo", {"calc.py": CALC, "test_calc.py": TEST_CALC, "README.md": "# calc\n"})
    sr = repo / ".specrelay"
    sr.mkdir()
    commands = verify if verify is not None else [f"{sys.executable} -m unittest -q"]
    (sr / "config.toml").write_text(f"[verify]\ncommands = {json.dumps(commands)}\ntimeout_s = 300\n{extra}")
    exclude = repo / ".git" / "info" / "exclude"
    exclude.write_text(exclude.read_text() + "\n.specrelay/\n")
    return repo


def team_home(home: Path, replies: dict[str, list[Any]], *, preset_extra: str = "", extra: str = "") -> Path:
    """A ``$SPECRELAY_HOME`` with a scripted preset per entry of ``replies``."""
    home.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, items in replies.items():
        (home / f"{name}.json").write_text(json.dumps(items))
        lines += [f"[presets.{name}]", 'provider = "scripted"', f'model = "scripted-{name}"',
                  f'replies = "{name}.json"', 'price_as = "gpt-5.4"', "fallbacks = []", preset_extra, ""]
    (home / "config.toml").write_text("\n".join(lines) + "\n" + extra)
    return home


def env_for(home: Path) -> dict[str, str]:
    env = {**os.environ, "SPECRELAY_HOME": str(home), "COLUMNS": "200"}
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def start(repo: Path, home: Path, *args: str, new_session: bool = False) -> subprocess.Popen[str]:
    """``python -m specrelay ARGS`` in the background, as a user would start it."""
    return subprocess.Popen([sys.executable, "-m", "specrelay", *args], cwd=repo, env=env_for(home), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=new_session)


def statuses(repo: Path, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    proc = run_cli("status", "--json", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def wait_until_settled(repo: Path, count: int, timeout: float, env: dict[str, str] | None = None,
                       until: tuple[str, ...] = ("done", "needs_attention", "failed")) -> list[dict[str, Any]]:
    """Poll ``status --json`` until ``count`` tasks exist and each has ended (a ``--detach`` task is
    ``paused`` until its background process starts it)."""
    deadline = time.monotonic() + timeout
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = statuses(repo, env)
        if len(rows) >= count and all(r["status"] in until for r in rows):
            return rows
        time.sleep(0.5)
    raise AssertionError(f"tasks did not settle in {timeout} s: {[(r['id'], r['status']) for r in rows]}")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout
