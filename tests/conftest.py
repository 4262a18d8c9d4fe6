"""Every test runs offline, in its own temp folder, with its own specrelay home and no provider keys."""

from __future__ import annotations

import gc
import io
import json
import os
import signal
import subprocess
import subprocess as _subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess
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


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120,
            input: str | None = None, subprocess: bool = False) -> CompletedProcess[str]:
    """Run the CLI with ARGS as a user would: stdout and stderr apart, and the exit code.

    In this process by default (see :func:`_run_in_process`: the same entry point, streams, environment
    and working directory a fresh process would have, and nothing left behind). ``subprocess=True``
    starts ``python -m specrelay`` instead; a test says so where the process itself is the point
    (signals, exit codes as a shell sees them, start-up, ``--detach``). ``timeout`` applies to a
    process only; ``input`` is the text on stdin (an empty, closed-at-EOF stdin in process when None;
    a process then inherits this one's, as it always did).
    """
    if subprocess:
        full_env = {**os.environ, **(env or {})}
        full_env.pop("PYTEST_CURRENT_TEST", None)
        return _subprocess.run([sys.executable, "-m", "specrelay", *args], cwd=cwd, env=full_env, input=input,
                               capture_output=True, text=True, timeout=timeout)
    return _run_in_process(list(args), cwd=cwd, env=env, input=input)


def _run_in_process(args: list[str], *, cwd: Path | None, env: dict[str, str] | None,
                    input: str | None) -> CompletedProcess[str]:
    """``specrelay.cli.main()`` called here, with what a fresh process would see and no trace left after.

    What a process gets and a call must be given: ``sys.argv``; stdout, stderr and stdin that are
    pipes (not terminals), UTF-8, with a binary ``buffer``; the environment (``env`` over this one,
    without ``PYTEST_CURRENT_TEST``) and the working directory; consoles that detect the terminal
    anew (width from ``COLUMNS``, colour, wrapping); the process-wide caches empty
    (:data:`PROCESS_STATE`). What a call must give back: all of these, the signal handlers and
    ``sys.excepthook``. ``sys.exit`` becomes the exit code, an exception that escapes ``main`` the
    traceback on stderr and exit 1, as Python does for a process.
    """
    from specrelay.cli import main
    from specrelay.cli.common import detect_terminal

    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    saved_argv, saved_hook = sys.argv, sys.excepthook
    saved_signals = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    out, err = _pipe(), _pipe()
    code: int
    try:
        os.environ.clear()
        os.environ.update({k: v for k, v in {**saved_env, **(env or {})}.items() if k != "PYTEST_CURRENT_TEST"})
        if cwd is not None:
            os.chdir(cwd)
        sys.stdin = _pipe((input or "").encode("utf-8"))
        sys.stdout, sys.stderr = out, err
        sys.argv = ["specrelay", *args]
        _fresh_process_state()
        detect_terminal()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = _exit_status(exc.code, err)
        except BaseException:  # what Python does with an exception that ends a process
            traceback.print_exc(file=err)
            code = 1
        for stream in (out, err):
            stream.flush()
        gc.collect()  # what a process frees as it ends: its ledger connections, first of all
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        sys.argv, sys.excepthook = saved_argv, saved_hook
        for sig, handler in saved_signals.items():
            signal.signal(sig, handler)
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        detect_terminal()
    return CompletedProcess([sys.executable, "-m", "specrelay", *args], code, _text(out), _text(err))


def _pipe(data: bytes = b"") -> io.TextIOWrapper:
    """A text stream over bytes, like a pipe's: not a terminal, UTF-8, with ``.buffer``."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    """What ``subprocess.run(text=True)`` reads: decoded, with universal newlines."""
    data = stream.buffer.getvalue()  # type: ignore[attr-defined]
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _exit_status(code: object, err: io.TextIOWrapper) -> int:
    """``sys.exit(code)`` as a process ends: None is 0, an int itself, anything else printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=err)
    return 1


#: The module-level state of specrelay that lives as long as a process, and how a call starts it
#: afresh: a method of the object (``clear``, ``cache_clear``) or, after ``=``, a function of its
#: module. A cache that is a pure function of its arguments (and of installed files) may stay: those
#: are in PURE_CACHES. ``test_in_process_state_is_listed`` fails when a module grows one in neither.
PROCESS_STATE = {
    "specrelay.engine.signals:_received": "clear",  # signals caught by an earlier run
    "specrelay.gitrepo.commits:_have_identity": "clear",  # identity checked under another HOME
    "specrelay.llm.backends.scripted:_cache": "clear",  # replies files by path and mtime
    "specrelay.llm.pricing:_price_cache": "cache_clear",  # the price cache file of another SPECRELAY_HOME
    "specrelay.gitrepo.repo:_common_dir": "cache_clear",  # a repository a test may have moved
    "specrelay.gitrepo.stats:_stats": "=reset_git_stats",  # counters since the process started
    "specrelay.llm.backends.agents.base:binary_version": "cache_clear",  # an agent binary's --version
}
PURE_CACHES = {
    "specrelay.llm.pricing:_lookup",  # genai-prices' table, installed
    "specrelay.workflow.parse:_parser",  # a markdown parser
    "specrelay.engine.context:_outlines",  # outlines by a hash of the source
    "specrelay.registry:_registered",  # the backends: built in, or plugins installed in the environment
    "specrelay.config:_foreign_field",  # a validator per preset field, from the registered backends
    "specrelay.web.markup:_markdown",  # a markdown renderer
}


def _fresh_process_state() -> None:
    for where, how in PROCESS_STATE.items():
        module, name = where.split(":")
        if module not in sys.modules:  # never imported: nothing to reset
            continue
        if how.startswith("="):
            getattr(sys.modules[module], how[1:])()
        else:
            getattr(getattr(sys.modules[module], name), how)()


def assert_clean_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """A non-zero exit with one clear message and no traceback."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[Any]:
    """A real Temporal dev server of the test's own (:class:`temporalkit.DevServer`), killed at its end."""
    from temporalkit import DevServer

    server = DevServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()
