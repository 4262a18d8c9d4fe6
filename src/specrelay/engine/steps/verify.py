"""Verify: the user's own commands, run in the worktree with a timeout; output kept in the task folder.

Only commands the user wrote (workflow ``run:`` lines, ``[verify] commands``) are ever executed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from specrelay import proc
from specrelay.config import read_toml
from specrelay.engine import cascade
from specrelay.engine.events import Note
from specrelay.engine.steps.kind import Outcome, Reopen
from specrelay.engine.steps.run import StepRun
from specrelay.errors import CommandNotRunnable, ConfigError
from specrelay.text import plural
from specrelay.workflow.kinds import KindSpec

OUTPUT_LIMIT = 12000  # characters of failing output handed to the builder

#: Exit codes a shell gives when it cannot start the command at all: the user's setup, not the change.
NOT_RUNNABLE = {126: "found but not executable: check its permissions (chmod +x)",
                127: "command not found: is it installed and on PATH?"}


class VerifyState(StrEnum):
    """What a verification says: its commands passed, one failed, or there was nothing to run."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_CONFIGURED = "not_configured"


@dataclass
class CommandResult:
    command: str
    exit_code: int | None
    timed_out: bool
    seconds: float
    log: str

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def not_runnable(self) -> bool:
        """The shell could not start the command (126: not executable, 127: not found)."""
        return not self.timed_out and self.exit_code in NOT_RUNNABLE


@dataclass
class VerifyResult:
    round: int
    attempt: int
    commands: list[CommandResult]

    @property
    def state(self) -> VerifyState:
        if not self.commands:
            return VerifyState.NOT_CONFIGURED
        return VerifyState.PASSED if all(c.passed for c in self.commands) else VerifyState.FAILED

    @property
    def passed(self) -> bool | None:
        """True or False; None when nothing was configured to run (which is not a pass)."""
        return None if self.state is VerifyState.NOT_CONFIGURED else self.state is VerifyState.PASSED

    def to_json(self) -> dict[str, Any]:
        """The shape of ``verify.json``: round, attempt, state, passed and every command's result."""
        return {**asdict(self), "state": str(self.state), "passed": self.passed}

    def detail(self, logs: Path) -> dict[str, Any]:
        """What the ledger records of this verification; ``logs`` is how its log paths are shown."""
        return {"state": str(self.state), "passed": self.passed,
                "commands": [{"command": c.command, "exit_code": c.exit_code, "timed_out": c.timed_out,
                              "log": (logs / c.log).as_posix()} for c in self.commands]}


def commands_for(run: StepRun) -> list[str]:
    return list(run.step.run) or list(run.config.verify.commands)


def _env(run: StepRun) -> dict[str, str]:
    """The environment for the user's commands, without any preset's API key: the tests run code a
    model wrote, and it has no business reading the user's keys."""
    return proc.scrubbed_env(run.config.secret_envs())


async def _run_one(command: str, run: StepRun, n: int) -> CommandResult:
    log_name = f"verify_r{run.round}_a{run.attempt}_{n}.log"
    done = await proc.run(command, cwd=run.worktree, log=run.artifact(log_name), env=_env(run),
                          timeout_s=run.config.verify.timeout_s, header=f"$ {command}\n")
    return CommandResult(command, done.exit_code, done.timed_out, done.seconds, log_name)


async def run_verify(run: StepRun) -> VerifyResult:
    """Run every command; write verify.json and the logs.

    A failing command is a result, not an error. A command the shell could not start at all (exit
    126 or 127) raises :class:`CommandNotRunnable`: the task pauses for the user to fix the command,
    and no model is paid to "fix" the change for it.
    """
    commands = commands_for(run)
    if not commands:
        run.emit(Note("no verification configured: set [verify] commands in .specrelay/config.toml "
                                  "(`specrelay init` detects your tests) or add <!-- run: ... --> to the step"))
    results = [await _run_one(cmd, run, n) for n, cmd in enumerate(commands, 1)]
    outcome = VerifyResult(run.round, run.attempt, results)
    run.write_artifact("verify.json", json.dumps(outcome.to_json(), indent=2))
    broken = [c for c in results if c.not_runnable]
    if broken:
        raise CommandNotRunnable(_not_runnable_message(run, broken),
                                 detail=outcome.detail(_shown_path(run.folder, run.root)))
    return outcome


def _not_runnable_message(run: StepRun, broken: list[CommandResult]) -> str:
    """One line: each command, its exit code and what it means, where to fix it, how to go on."""
    parts = []
    for c in broken:
        said = _last_line(run.read_artifact(c.log) or "")
        parts.append(f"`{c.command}` exited {c.exit_code}, {NOT_RUNNABLE[c.exit_code or 0]}"
                     + (f" (it said: {said})" if said else ""))
    return (f"task {run.task.id} paused: verification command {'; '.join(parts)}. That is this machine's setup, "
            f"not the change, so no model was asked to fix it. Fix it in {_where_configured(run)}, "
            f"then `specrelay resume {run.task.id}`.")


def _last_line(log: str) -> str:
    """The last line the command printed (the shell's own complaint, usually), cut short."""
    lines = [line.strip() for line in log.splitlines()[1:] if line.strip()]  # line 1 is "$ command"
    return lines[-1][:200] if lines else ""


def _where_configured(run: StepRun) -> str:
    """Where the user changes the commands this step runs: its ``run:`` line, or a config file."""
    if run.step.run:
        return (f"the `<!-- run: ... -->` line of step '{run.step.title}' in {run.task.workflow_path} "
                f"(line {run.step.line_of('run')}, the task's copy of its workflow)")
    for path in reversed(run.config.files):  # the last layer that sets them wins
        try:
            table = read_toml(path).get("verify")
        except ConfigError:
            continue
        if isinstance(table, dict) and "commands" in table:
            return f"[verify] commands in {path}"
    return "[verify] commands in .specrelay/config.toml"


def failing_output(run: StepRun) -> str | None:
    """The output of the last verification's failing commands, if it failed."""
    text = run.read_artifact("verify.json")
    if text is None:
        return None
    data = json.loads(text)
    if data.get("passed") is not False:  # passed, or nothing was configured to run
        return None
    parts = []
    for c in data["commands"]:
        if c["exit_code"] == 0 and not c["timed_out"]:
            continue
        log = run.read_artifact(c["log"]) or ""
        parts.append(log[-OUTPUT_LIMIT // max(len(data["commands"]), 1):])
    return "\n\n".join(parts)


def verify_summary(run: StepRun) -> str:
    """What the reviewer is told of the last verification; never that tests passed when none ran."""
    text = run.read_artifact("verify.json")
    if text is None:
        return ("No verification step ran before this review: no tests or checks were run on this change. "
                "Nothing here is tested; do not assume it works.")
    data = json.loads(text)
    if not data["commands"]:
        return ("No verification is configured for this project: no tests or checks were run on this change. "
                "Nothing here is tested; do not assume it works, and do not say that tests pass.")
    lines = [f"Verification {'passed' if data['passed'] else 'FAILED'}:"]
    for c in data["commands"]:
        ok = c["exit_code"] == 0 and not c["timed_out"]
        state = "passed" if ok else ("timed out" if c["timed_out"] else f"failed (exit {c['exit_code']})")
        lines.append(f"- `{c['command']}`: {state}")
        if not ok:
            tail = (run.read_artifact(c["log"]) or "")[-3000:]
            lines.append(f"```\n{tail}\n```")
    return "\n".join(lines)


class VerifyStep:
    """The project's own commands; a failure sends the work back to the builder, a bounded number of times."""

    spec = KindSpec("verify", title_words=("test", "tests", "verify", "verification", "check"),
                    always_writes=("verify.json",), commands=True, loops_back="verify", attempts=True)

    async def run(self, step_run: StepRun) -> Outcome:
        result = await run_verify(step_run)
        detail = result.detail(_shown_path(step_run.folder, step_run.root))
        failed = result.state is VerifyState.FAILED  # nothing configured is not a failure to fix
        impl, state = step_run.loop_start(), step_run.state
        limit = step_run.config.verify.max_attempts
        if failed and impl is not None and state.attempt < limit:
            return Outcome(Reopen(impl, "verify"), detail, state.with_(attempt=state.attempt + 1, fix="verify"),
                           notes=(f"verification failed; back to the builder (attempt {state.attempt + 1} of "
                                  f"{limit})",))
        if failed and impl is not None:  # a cascade's next preset gets the failing output, attempts afresh
            why = f"still failed verification after {plural(state.attempt + 1, 'attempt')}"
            moved = cascade.escalate(step_run, impl, state.with_(attempt=0, fix="verify"), "verify", why,
                                     step_run.round)
            if moved is not None:
                return Outcome(Reopen(impl, "verify"), detail, moved[0], notes=(moved[1],))
        notes = ("verification still failing; the reviewer will see it",) if failed else ()
        return Outcome(detail=detail, state=state, notes=notes)


def _shown_path(folder: Path, root: Path) -> Path:
    """The task folder as the user is shown it: relative to the repository when inside it."""
    try:
        return folder.relative_to(root)
    except ValueError:
        return folder

