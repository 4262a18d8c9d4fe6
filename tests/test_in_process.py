"""The tests' in-process CLI (``run_cli``) says what a process says and leaves nothing behind."""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
import signal
import sys
from pathlib import Path

import pytest
from conftest import PROCESS_STATE, PURE_CACHES, make_repo, run_cli

import specrelay

CASES = [
    (["--help"], {"COLUMNS": "80"}),
    (["run", "-h"], {"COLUMNS": "200"}),
    (["--version"], {}),
    (["presets"], {}),
    (["presets"], {"COLUMNS": "60"}),
    (["status", "--json"], {}),
    (["show", "nope"], {}),  # an error: one line on stderr, exit 2
    (["status", "--bogus"], {}),  # a usage error
    ([], {}),  # no command: the help
    (["run", "-"], {}),  # an empty stdin
    (["cost", "--by", "phase"], {"FORCE_COLOR": "1"}),  # colour forced, as a user may
]


@pytest.mark.parametrize(("args", "env"), CASES, ids=[" ".join(a) + " " + " ".join(e) for a, e in CASES])
def test_in_process_output_is_a_processs(tmp_path: Path, args: list[str], env: dict[str, str]) -> None:
    repo = make_repo(tmp_path / "repo")
    inside = run_cli(*args, cwd=repo, env=env)
    alone = run_cli(*args, cwd=repo, env=env, subprocess=True, input="")
    assert (inside.returncode, inside.stdout, inside.stderr) == (alone.returncode, alone.stdout, alone.stderr)


def test_a_call_leaves_the_process_as_it_found_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    before = (dict(os.environ), os.getcwd(), sys.stdout, sys.stderr, sys.stdin, sys.argv, sys.excepthook,
              signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    proc = run_cli("status", cwd=repo, env={"COLUMNS": "33", "SPECRELAY_PROGRESS_INTERVAL": "5"})
    assert proc.returncode == 0, proc.stderr
    after = (dict(os.environ), os.getcwd(), sys.stdout, sys.stderr, sys.stdin, sys.argv, sys.excepthook,
             signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    assert after == before

    from specrelay.cli.common import console

    assert console.width != 33  # the next call's consoles do not keep this one's width


def test_in_process_state_is_listed(tmp_path: Path) -> None:
    """Every module-level cache or mutable container in specrelay is either started afresh for each
    call (PROCESS_STATE) or a pure function of its inputs (PURE_CACHES): a new one must be sorted."""
    found = set()
    for info in pkgutil.walk_packages(specrelay.__path__, "specrelay."):
        if info.name == "specrelay.__main__":
            continue  # the entry point that runs main()
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if name.startswith("__") or getattr(value, "__module__", module.__name__) != module.__name__:
                continue
            cached = isinstance(value, functools._lru_cache_wrapper)  # type: ignore[attr-defined]
            mutable = isinstance(value, list | dict | set) and name.startswith("_") and not name.isupper()
            if cached or mutable:
                found.add(f"{info.name}:{name}")
    unsorted = found - set(PROCESS_STATE) - PURE_CACHES
    assert not unsorted, f"sort these into conftest.PROCESS_STATE or PURE_CACHES: {sorted(unsorted)}"
    gone = (set(PROCESS_STATE) | PURE_CACHES) - found
    assert not gone, f"listed in conftest but no longer in specrelay: {sorted(gone)}"
