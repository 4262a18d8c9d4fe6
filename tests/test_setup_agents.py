""".ci/setup-agents on a warm cache: it prints the variables the agent tests read, naming a bin dir with all
five CLIs, Aider's price file and OpenCode's prepared config dir, in well under a second (skipped when the
agents were never installed here)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "setup-agents"
REAL_HOME = Path.home()  # at import: each test runs with a HOME of its own
CACHE = REAL_HOME / ".cache" / "specrelay-ci"
PINS = dict(re.findall(r"^(\w+)_VERSION=(\S+)$", SCRIPT.read_text(), re.M))
#: The bin dir of the pinned version set, made last of all.
BIN = CACHE / "agents" / ("bin-codex-{CODEX}-claude-{CLAUDE}-gemini-{GEMINI}-opencode-{OPENCODE}-aider-{AIDER}"
                          .format(**PINS))


def test_a_warm_run_prints_the_variables_in_well_under_a_second() -> None:
    env = {**os.environ, "HOME": str(REAL_HOME), "SPECRELAY_CI_CACHE": str(CACHE)}
    if not (BIN / ".installed").exists():  # a cold install is not this test's to do
        pytest.skip(f"no install of the pinned agents in {BIN} (run .ci/setup-agents)")
    start = time.monotonic()
    proc = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    took = time.monotonic() - start
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    found = dict(line.split("=", 1) for line in proc.stdout.splitlines())
    assert sorted(found) == ["SPECRELAY_AGENT_BIN", "SPECRELAY_AIDER_PRICES", "SPECRELAY_OPENCODE_CONFIG_DIR"]
    assert Path(found["SPECRELAY_AGENT_BIN"]) == BIN
    tools = [p for p in BIN.iterdir() if not p.name.startswith(".")]
    assert sorted(p.name for p in tools) == ["aider", "claude", "codex", "gemini", "opencode"]
    assert all(os.access(p, os.X_OK) for p in tools)
    assert Path(found["SPECRELAY_AIDER_PRICES"]).stat().st_size > 100_000
    assert (Path(found["SPECRELAY_OPENCODE_CONFIG_DIR"]) / "node_modules" / "@opencode-ai" / "plugin").is_dir()
    assert took < 1.0, took
