""".ci/setup-browser where the browser is installed: it prints the variable the browser tests read and
touches no package (no apt at all), in well under a second (skipped where Chromium was never installed)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "setup-browser"
MAJOR = re.search(r"^CHROMIUM_MAJOR=(\d+)$", SCRIPT.read_text(), re.M)


def test_a_warm_run_prints_the_browser_in_well_under_a_second() -> None:
    assert MAJOR, "CHROMIUM_MAJOR is not pinned in .ci/setup-browser"
    version = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True).stdout \
        if os.access("/usr/bin/chromium", os.X_OK) else ""
    if not version.startswith(f"Chromium {MAJOR[1]}."):
        pytest.skip(f"no Chromium {MAJOR[1]} at /usr/bin/chromium (run .ci/setup-browser)")
    start = time.monotonic()
    proc = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=30)
    took = time.monotonic() - start
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout == "SPECRELAY_CHROMIUM=/usr/bin/chromium\n"
    assert took < 1.0, took
