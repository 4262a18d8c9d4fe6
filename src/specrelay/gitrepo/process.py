"""The one door to the ``git`` executable: :func:`run_git`.

Every git call in specrelay goes through here, so that every call gets the same environment, the
same error translation, the same retry on git's own lock files, and is counted in :mod:`.stats`.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from specrelay.errors import GitError

from .stats import record_process

# Variables that point git at a particular repository or index. When specrelay runs from inside a
# git hook they describe the *outer* repository; inherited, they would make every `-C cwd` lie.
_LOCATION_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_GRAFT_FILE",
)

# Another git process holds index.lock, config.lock, a ref lock...: the command did nothing, so it
# is safe to run again once the other process is done.
_LOCK_CONTENTION = re.compile(
    r"\.lock'?: File exists|Unable to create '[^']*\.lock'|could not lock config file", re.IGNORECASE
)
_LOCK_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4)

_STDERR_LINES = 8


class GitCommandError(GitError):
    """A git command exited non-zero; keeps the command, exit code and output for callers to inspect."""

    def __init__(self, message: str, *, command: Sequence[str], cwd: Path, returncode: int,
                 stdout: str, stderr: str) -> None:
        super().__init__(message)
        self.command = list(command)
        self.cwd = cwd
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    @property
    def interrupted(self) -> bool:
        """True when git died of SIGINT or SIGTERM: the user's Ctrl-C (which reaches the whole process
        group, git and its hooks included, often before specrelay's own handler runs) or a stop request."""
        return self.returncode in (-signal.SIGINT, -signal.SIGTERM)


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every git process gets: the user's, minus repository-locating variables,
    never prompting, with C-locale messages (so they can be matched), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _LOCATION_VARS}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


def first_lines(text: str, n: int = _STDERR_LINES) -> str:
    """The first ``n`` non-empty lines of ``text``, with a marker when some were cut."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) > n:
        return "\n".join(lines[:n] + [f"... ({len(lines) - n} more lines)"])
    return "\n".join(lines)


def name_list(names: Sequence[str], limit: int = 10) -> str:
    """``a, b, c`` for a message, cut after ``limit`` names with a count of the rest."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def command_text(args: Sequence[str]) -> str:
    """How a git command is shown in messages: ``git <args>``."""
    return " ".join(["git", *args])


def run_git(args: Sequence[str], cwd: Path | str, check: bool = True,
            env: Mapping[str, str] | None = None, input: str | None = None,
            ) -> subprocess.CompletedProcess[str]:
    """Run ``git -c core.quotepath=off <args>`` in ``cwd`` and capture its text output.

    ``env`` adds to (or overrides) the environment of :func:`git_env`; ``input`` is fed on stdin
    (otherwise stdin is empty, so git never waits on the terminal). A command that fails because
    another git process holds one of git's lock files is retried a few times with a short backoff.

    With ``check`` (the default) a non-zero exit raises :class:`GitCommandError` naming the command
    and quoting git's stderr; without it the result is returned whatever the exit code. A missing
    ``git`` executable or a missing ``cwd`` always raises :class:`GitError`.
    """
    cmd = ["git", "-c", "core.quotepath=off", *args]
    workdir = Path(cwd)
    full_env = git_env(env)
    for delay in (*_LOCK_RETRY_DELAYS, None):
        proc = _run_once(cmd, workdir, full_env, input)
        if proc.returncode == 0 or delay is None or not _LOCK_CONTENTION.search(proc.stderr):
            break
        time.sleep(delay * random.uniform(0.75, 1.25))
    if check and proc.returncode != 0:
        output = proc.stderr.strip() or proc.stdout.strip()
        raise GitCommandError(
            f"`{command_text(args)}` failed in {workdir} (exit {proc.returncode}):\n{first_lines(output)}",
            command=cmd, cwd=workdir, returncode=proc.returncode, stdout=proc.stdout, stderr=proc.stderr,
        )
    return proc


def _run_once(cmd: list[str], cwd: Path, env: dict[str, str],
              input: str | None) -> subprocess.CompletedProcess[str]:
    start = time.perf_counter()
    try:
        return subprocess.run(
            cmd, cwd=cwd, env=env, input=input, capture_output=True, text=True,
            encoding="utf-8", errors="replace",
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        if not cwd.is_dir():
            raise GitError(f"{cwd} does not exist or is not a directory; check the path") from exc
        raise GitError(
            "the `git` executable was not found on PATH; install git (https://git-scm.com) and retry"
        ) from exc
    except NotADirectoryError as exc:
        raise GitError(f"{cwd} is not a directory; check the path") from exc
    finally:
        record_process(time.perf_counter() - start)
