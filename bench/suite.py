"""Wall time of the test suite from a clean clone, as CI runs it: install, then the README's test command.

    python bench/suite.py [--ref HEAD] [--durations 15] [-- PYTEST ARGS...]

Clones this repository at REF (committed work only) into a temporary folder, makes a fresh
virtualenv, times ``pip install -e '.[dev]'`` and then the test command (``pytest -n auto``, the README's, unless
other arguments follow ``--``) separately, and prints a Markdown report: both wall times, the
outcome line, the slowest tests and the machine's load while the tests ran (it is shared: the load
says how much else was running), and the CPU time the tests took, which the load changes less.
Goal: the tests in ≤ 180 s.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
DEFAULT_TEST = ["pytest", "-n", "auto"]  # the README's test command
GOAL_S = 180.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="HEAD", help="the commit to measure (default HEAD)")
    parser.add_argument("--durations", type=int, default=15, help="how many of the slowest tests to list")
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    parser.add_argument("test", nargs="*", help="the test command (after --); default: pytest -n auto")
    args = parser.parse_args()
    test_cmd = args.test or DEFAULT_TEST
    tmp = Path(tempfile.mkdtemp(prefix="specrelay-suite-"))
    clone = tmp / "clone"
    commit = _git(HERE, "rev-parse", args.ref).strip()
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(HERE), str(clone)], check=True)
    subprocess.run(["git", "-c", "advice.detachedHead=false", "checkout", "-q", commit], cwd=clone, check=True)
    venv = clone / ".ci-venv"
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    subprocess.run(["pip", "install", "-q", "-e", ".[dev]"], cwd=clone, env=env, check=True)
    install_s = time.monotonic() - t0
    load = _LoadSampler()
    load.start()
    cpu0 = _children_cpu()
    t1 = time.monotonic()
    full_cmd = [*test_cmd, f"--durations={args.durations}", "-p", "no:cacheprovider"]
    proc = subprocess.run(full_cmd, cwd=clone, env=env, capture_output=True, text=True)
    test_s = time.monotonic() - t1
    cpu_s = _children_cpu() - cpu0
    load.stop()
    _report(commit, test_cmd, install_s, (test_s, cpu_s), proc, load, args.durations)
    if args.keep:
        print(f"\nclone kept at {clone}")
    else:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return 0 if proc.returncode == 0 and test_s <= GOAL_S else 1


class _LoadSampler:
    """The 1-minute load average every 5 s, and the other sessions' busiest processes once, midway."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(5)


def _children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process and of their own children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _report(commit: str, test_cmd: list[str], install_s: float, test: tuple[float, float],
            proc: subprocess.CompletedProcess[str], load: _LoadSampler, durations: int) -> None:
    test_s, cpu_s = test
    lines = proc.stdout.splitlines()
    outcome = next((ln.strip("= ") for ln in reversed(lines) if re.search(r"\b(passed|failed|error)", ln)), "?")
    cpus = os.cpu_count() or 0
    samples = load.samples or [0.0]
    print(f"commit {commit[:10]} · {cpus} CPUs · `{' '.join(test_cmd)}`\n")
    print("| step | wall s |")
    print("|---|---|")
    print(f"| fresh venv + `pip install -e '.[dev]'` | {install_s:.1f} |")
    print(f"| tests | {test_s:.1f} (goal ≤ {GOAL_S:.0f}; {cpu_s:.0f} CPU s) |")
    print(f"\n{outcome} (exit {proc.returncode})")
    print(f"load average while testing: mean {sum(samples) / len(samples):.1f}, max {max(samples):.1f} "
          f"({len(samples)} samples; {cpus} CPUs)")
    slow = [ln for ln in lines if re.match(r"^\d+\.\d+s (call|setup|teardown) ", ln)][:durations]
    if slow:
        print(f"\nslowest {len(slow)}:\n")
        print("| s | test |")
        print("|---|---|")
        for ln in slow:
            secs, phase, name = ln.split(None, 2)
            print(f"| {secs.rstrip('s')} | `{name}`{'' if phase == 'call' else f' ({phase})'} |")
    if proc.returncode != 0:
        failed = [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))]
        print("\n" + "\n".join(failed or lines[-30:]))
        if proc.stderr.strip():
            print(proc.stderr[-2000:])


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


if __name__ == "__main__":
    sys.exit(main())
