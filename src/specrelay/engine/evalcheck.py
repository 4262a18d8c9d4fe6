"""A case's hidden check, run on a commit in a scratch worktree of its own.

:func:`run_check` checks a commit out into a detached worktree in a temporary folder (outside the
repository, so the user's tree and the task's worktree are untouched), copies the case's ``check/``
files over it (the hidden tests, at their repository paths), and runs the case's ``test_commands`` in
order through :func:`specrelay.proc.run`, the runner the verify step uses: the user's commands only,
with no API key in their environment, each in a process group of its own that a timeout kills. The first
failing command ends the check. The scratch worktree is removed whatever happens.

A check that could not say anything about the code is an ``error``, not a failure: no test command, a
missing ``check/`` folder, a commit the repository does not have, a command the shell could not start
(exit 126 or 127) or one that timed out.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from specrelay import proc
from specrelay.engine.evalcases import CHECK_DIR, Case
from specrelay.errors import UserError
from specrelay.gitrepo import repo_lock, run_git

#: Characters of the commands' output a :class:`CheckResult` keeps (the end of it).
OUTPUT_CHARS = 4000
#: Exit codes of a shell that could not start the command: the machine's setup, not the code.
_NOT_RUNNABLE = {126: "found but not executable", 127: "command not found"}
#: The exit code of pytest (and unittest, from Python 3.12) when there was no test to run.
_NO_TESTS = 5

CheckStatus = Literal["passed", "failed", "error"]


@dataclass(frozen=True)
class CheckResult:
    """How a hidden check ended. ``error``: it could not run, which says nothing about the code."""

    status: CheckStatus
    exit_code: int | None
    seconds: float
    commands: list[str] = field(default_factory=list)
    output: str = ""
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_json(self) -> dict[str, object]:
        return {"status": self.status, "exit_code": self.exit_code, "seconds": round(self.seconds, 3),
                "commands": list(self.commands), "output": self.output, "reason": self.reason}


def run_check(root: Path, commit: str, case_folder: Path, case: Case, *, timeout_s: float,
              apply_check: bool = True, env: Mapping[str, str] | None = None,
              log_dir: Path | None = None) -> CheckResult:
    """Run ``case``'s hidden check on ``commit`` (see the module's docstring). A check that cannot run is
    an ``error`` result, not an exception (only a project config that cannot be read raises its
    ConfigError). Inside a running event loop, await :func:`check_commit` instead."""
    return asyncio.run(check_commit(root, commit, case_folder, case, timeout_s=timeout_s,
                                    apply_check=apply_check, env=env, log_dir=log_dir))


async def check_commit(root: Path, commit: str, case_folder: Path, case: Case, *, timeout_s: float,
                       apply_check: bool = True, env: Mapping[str, str] | None = None,
                       log_dir: Path | None = None) -> CheckResult:
    """:func:`run_check` for async callers. ``env`` is the commands' environment (by default the
    process's, without the project's API keys); ``log_dir`` keeps each command's whole output as
    ``check_N.log`` (by default it goes with the scratch folder)."""
    t0 = time.perf_counter()

    def error(reason: str, commands: list[str] | None = None, output: str = "",
              exit_code: int | None = None) -> CheckResult:
        return CheckResult("error", exit_code, time.perf_counter() - t0, commands or [], output, reason)

    if not case.test_commands:
        return error(f"case {case.name} has no test command: set test_commands in "
                     f"{case_folder / 'case.toml'} (or [verify] commands in .specrelay/config.toml)")
    check = case_folder / CHECK_DIR
    if apply_check and not check.is_dir():
        return error(f"case {case.name} has no {CHECK_DIR}/ folder ({check}): the hidden check's files are missing")
    sha = _commit_sha(root, commit)
    if sha is None:
        return error(f"commit {commit!r} is not in the repository {root}")
    if env is None:
        env = _default_env(root)
    scratch = Path(tempfile.mkdtemp(prefix="specrelay-check-"))
    tree = scratch / "tree"
    try:
        try:
            _add_tree(root, tree, sha)
        except Exception as exc:  # a failing checkout hook, a full disk: the check cannot run
            return error(f"cannot check out {sha[:12]} into a scratch worktree: {exc}".splitlines()[0])
        if apply_check:
            try:
                shutil.copytree(check, tree, dirs_exist_ok=True)
            except OSError as exc:  # a check file where the commit has a folder, say
                return error(f"cannot apply {check} to {sha[:12]}: {exc}".splitlines()[0])
        return await _run_commands(case.test_commands, tree, env, timeout_s, log_dir or scratch, t0)
    finally:
        _remove_tree(root, tree)
        shutil.rmtree(scratch, ignore_errors=True)


async def _run_commands(commands: list[str], tree: Path, env: Mapping[str, str], timeout_s: float,
                        log_dir: Path, t0: float) -> CheckResult:
    ran: list[str] = []
    output = ""
    for n, command in enumerate(commands, 1):
        ran.append(command)
        try:
            done = await proc.run(command, cwd=tree, log=log_dir / f"check_{n}.log", env=env, timeout_s=timeout_s,
                                  header=f"$ {command}\n")
        except OSError as exc:  # the log cannot be written, the shell cannot start
            return CheckResult("error", None, time.perf_counter() - t0, ran, output[-OUTPUT_CHARS:],
                               f"`{command}` could not be started: {exc}")
        output = (output + f"$ {command}\n" + done.tail)[-OUTPUT_CHARS:]
        seconds = time.perf_counter() - t0
        if done.timed_out:
            return CheckResult("error", None, seconds, ran, output,
                               f"`{command}` timed out after {timeout_s:g} s ([verify] timeout_s)")
        if done.exit_code in _NOT_RUNNABLE:
            return CheckResult("error", done.exit_code, seconds, ran, output,
                               f"`{command}` exited {done.exit_code}: {_NOT_RUNNABLE[done.exit_code]} "
                               "(is it installed and on PATH?)")
        if done.exit_code != 0:
            return CheckResult("failed", done.exit_code, seconds, ran, output,
                               f"`{command}` exited {done.exit_code}")
    return CheckResult("passed", 0, time.perf_counter() - t0, ran, output, "")


def _commit_sha(root: Path, commit: str) -> str | None:
    if not commit or commit.startswith("-"):
        return None
    got = run_git(["rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"], root, check=False)
    return got.stdout.strip() if got.returncode == 0 and got.stdout.strip() else None


def _default_env(root: Path) -> dict[str, str]:
    """The process's environment without any API key the project's presets name: the check runs code a
    model wrote."""
    from specrelay.config import load_config

    return proc.scrubbed_env(load_config(root).secret_envs())


def _add_tree(root: Path, tree: Path, sha: str) -> None:
    """A detached worktree at ``sha``: recorded under the repository lock, its files checked out outside
    it (as a task's worktree is)."""
    with repo_lock(root):
        run_git(["worktree", "add", "--no-checkout", "--detach", "--", str(tree), sha], root)
    run_git(["checkout", "--force", "--quiet", "--detach", sha], tree)


def _remove_tree(root: Path, tree: Path) -> None:
    """Remove the scratch worktree and git's record of it; quietly, whatever state it is in."""
    with repo_lock(root):
        if tree.exists():
            run_git(["worktree", "remove", "--force", "--force", "--", str(tree)], root, check=False)
        shutil.rmtree(tree, ignore_errors=True)
        run_git(["worktree", "prune"], root, check=False)


def why_invalid(root: Path, case: Case, case_folder: Path, *, timeout_s: float,
                env: Mapping[str, str] | None = None) -> str | None:
    """None when ``case``'s hidden check tells its source commit from its base; otherwise why it does
    not, as a one-line reason to skip the case.

    Three runs, cheapest verdict first: the base as it is (its own tests must pass, or there must be none:
    exit 5, "no tests collected", as pytest and unittest say it), the source with the check (the source's
    own test files: they must pass), the base with the check (it must fail). A test command the shell
    cannot start is the project's setup, the same for every commit: a UserError saying how to fix it.
    """
    def run(commit: str, apply_check: bool) -> CheckResult:
        result = run_check(root, commit, case_folder, case, timeout_s=timeout_s, apply_check=apply_check, env=env)
        if result.status == "error" and result.exit_code in _NOT_RUNNABLE:
            raise UserError(f"eval make cannot validate the cases: {result.reason}; fix [verify] commands in "
                            ".specrelay/config.toml, or pass --no-validate.")
        return result

    parent = run(case.base, False)
    if parent.status == "error":
        return f"the tests cannot run at the parent ({parent.reason})"
    if parent.status == "failed" and parent.exit_code != _NO_TESTS:
        return f"tests already fail at the parent ({parent.reason})"
    own = run(case.source, True)
    if own.status != "passed":
        return (f"the check fails at the commit itself ({own.reason})" if own.status == "failed"
                else f"the check cannot run at the commit ({own.reason})")
    applied = run(case.base, True)
    if applied.status == "passed":
        return "the check already passes at the parent: it cannot tell the change from none"
    if applied.status == "error":
        return f"the check cannot run at the parent ({applied.reason})"
    return None
