"""A real llama.cpp server (llama-cpp-python's OpenAI-compatible server) on 127.0.0.1, for tests.

``.ci/setup-local-model`` installs the server and a small model and prints where they are as
``SPECRELAY_LLAMA_PYTHON`` (the python of a virtualenv with ``llama_cpp.server``) and
``SPECRELAY_LLAMA_MODEL`` (a GGUF file). Without them a test module that needs the server is
skipped, with the command to run; with ``SPECRELAY_REQUIRE_LOCAL_MODEL=1`` (CI) it fails instead,
so that a broken install is never a green run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

#: The name the server answers to: what a preset's ``model`` says.
ALIAS = "smol"

SETUP_HINT = 'eval "$(.ci/setup-local-model)" (installs llama-cpp-python and SmolLM2-135M, ~8 min cold)'


def installed() -> tuple[Path, Path]:
    """The server's python and the model file; skips (or, when required, fails) the test without them."""
    python, model = os.environ.get("SPECRELAY_LLAMA_PYTHON"), os.environ.get("SPECRELAY_LLAMA_MODEL")
    missing = [name for name, value in (("SPECRELAY_LLAMA_PYTHON", python), ("SPECRELAY_LLAMA_MODEL", model))
               if not value or not Path(value).exists()]
    if missing:
        reason = f"no local model server: {' and '.join(missing)} unset or missing; run {SETUP_HINT}"
        if os.environ.get("SPECRELAY_REQUIRE_LOCAL_MODEL", "") not in ("", "0"):
            pytest.fail(reason + " (SPECRELAY_REQUIRE_LOCAL_MODEL is set)", pytrace=False)
        pytest.skip(reason)
    assert python and model
    return Path(python), Path(model)


def free_port() -> int:
    """A loopback port nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """One server process on a fixed port: started, killed and started again on the same port."""

    def __init__(self, python: Path, model: Path, log: Path, port: int | None = None) -> None:
        self.python, self.model, self.log = python, model, log
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """What a preset's ``base_url`` says."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until ``/v1/models`` answers."""
        assert self.proc is None, "already running"
        command = [str(self.python), "-m", "llama_cpp.server", "--model", str(self.model), "--model_alias", ALIAS,
                   "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "4096", "--n_threads", "1",
                   "--n_threads_batch", "1"]
        with self.log.open("ab") as log:
            # A session of its own: killing it never reaches the test run, and its children go with it.
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise RuntimeError(f"llama server exited at start-up; see {self.log}:\n{self._log_tail()}")
            if self.models() is not None:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"llama server not ready in {timeout:g} s; see {self.log}:\n{self._log_tail()}")

    def models(self) -> list[str] | None:
        """The model ids the server lists, or None when it does not answer."""
        try:
            with urllib.request.urlopen(self.base_url + "/models", timeout=1) as response:
                return [m["id"] for m in json.load(response)["data"]]
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no clean shutdown, connections cut."""
        self._signal(signal.SIGKILL, wait=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL when it does not go."""
        if self.proc is None:
            return
        try:
            self._signal(signal.SIGTERM, wait=5)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self) -> None:
        """Kill whatever runs and start again on the same port."""
        if self.proc is not None:
            self.kill()
        self.start()

    def _signal(self, sig: int, *, wait: float) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=wait)
        self.proc = None

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class StreamTap:
    """A loopback relay in front of a server that counts the server-sent events passing through it:
    how a test knows a streamed answer is under way (to kill the server in the middle of one).

    With ``hold_s`` it passes nothing of the server's answer on before that many seconds: a server
    slow to answer, however fast the model writes and whatever it writes (the request still reaches
    the server, which answers it as it would)."""

    def __init__(self, target_port: int, hold_s: float = 0.0) -> None:
        self.target_port = target_port
        self.hold_s = hold_s
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        #: ``data:`` lines seen from the server so far, over every connection.
        self.events = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self._closed.set()  # answers still held are dropped
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:  # the server is down: the client sees its connection refused, as it would
                client.close()
                continue
            upstream.settimeout(None)
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, count: bool) -> None:
        try:
            if count and self.hold_s and self._closed.wait(self.hold_s):
                return
            while data := source.recv(65536):
                if count:
                    with self._lock:
                        self.events += data.count(b"data: ")
                sink.sendall(data)
        except OSError:
            pass
        finally:  # one side gone: the other goes too, as with a direct connection
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
