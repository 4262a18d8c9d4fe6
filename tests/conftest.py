"""Every test runs offline, in its own temp folder, with its own specrelay home and no provider keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

KEY_ENVS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")

# The offline switch, for the whole session: every test and every process a test starts (they inherit
# the environment) refuses a real provider request. Set on import, before any test or fixture runs.
os.environ["SPECRELAY_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "specrelay-home"
    monkeypatch.setenv("SPECRELAY_HOME", str(home))
    for env in KEY_ENVS:
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test User")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test User")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    (tmp_path / "user-home").mkdir()
    monkeypatch.chdir(tmp_path)


def write_user_config(text: str) -> Path:
    """Write $SPECRELAY_HOME/config.toml."""
    home = Path(os.environ["SPECRELAY_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def scripted(name: str, replies: list[Any], *, folder: Path | None = None, extra: str = "") -> str:
    """A [presets.NAME] table for a scripted preset, with its replies file written next to the config."""
    folder = folder or Path(os.environ["SPECRELAY_HOME"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(replies), encoding="utf-8")
    return f'[presets.{name}]\nprovider = "scripted"\nmodel = "{name}"\nreplies = "{name}.json"\n{extra}\n'


def make_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    """A git repository with one commit."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    for name, text in (files or {"README.md": "# sample\n"}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    subprocess.run(["git", "add", "-A"], cwd=path, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "initial"], cwd=path, check=True)
    return path


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m specrelay ARGS`` in a fresh process, as a user would."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.run([sys.executable, "-m", "specrelay", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def assert_clean_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """A non-zero exit with one clear message and no traceback."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
