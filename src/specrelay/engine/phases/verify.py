"""Verify: the user's own commands, run in the worktree with a timeout; output kept in the task folder.

Only commands the user wrote (workflow ``run:`` lines, ``[verify] commands``) are ever executed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from dataclasses import asdict, dataclass

from specrelay.config import DEFAULT_KEY_ENVS
from specrelay.engine.phases.base import StepRun

OUTPUT_LIMIT = 12000  # characters of failing output handed to the builder


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


@dataclass
class VerifyResult:
    round: int
    attempt: int
    commands: list[CommandResult]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.commands)

    def summary(self) -> str:
        lines = []
        for c in self.commands:
            state = "passed" if c.passed else ("timed out" if c.timed_out else f"failed (exit {c.exit_code})")
            lines.append(f"- `{c.command}`: {state} in {c.seconds:.1f} s")
        return "\n".join(lines) or "- no verification commands"


def commands_for(run: StepRun) -> list[str]:
    return list(run.step.run) or list(run.config.verify.commands)


def _env(run: StepRun) -> dict[str, str]:
    """The environment for the user's commands, without any preset's API key: the tests run code a
    model wrote, and it has no business reading the user's keys."""
    # Every provider's usual variable too: a preset overridden (to scripted, say) no longer names
    # OPENAI_API_KEY, but the key is still there.
    keys = {env for envs in DEFAULT_KEY_ENVS.values() for env in envs}
    keys.update(env for p in run.config.presets.values() for env in p.key_envs)
    return {k: v for k, v in os.environ.items() if k not in keys}


async def _run_one(command: str, run: StepRun, n: int) -> CommandResult:
    timeout = run.config.verify.timeout_s
    log_name = f"verify_r{run.round}_a{run.attempt}_{n}.log"
    t0 = time.perf_counter()
    # A new session, so that a timeout or an interruption stops the command's whole process group.
    proc = await asyncio.create_subprocess_shell(
        command, cwd=run.worktree, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL, start_new_session=True, env=_env(run))
    chunks: list[bytes] = []

    async def pump() -> None:
        assert proc.stdout is not None
        while data := await proc.stdout.read(65536):
            chunks.append(data)

    reader = asyncio.ensure_future(pump())
    timed_out = False
    try:
        await asyncio.wait_for(asyncio.shield(reader), timeout)
    except TimeoutError:
        timed_out = True
        _kill_group(proc.pid)
        await reader  # the pipe closes once the group is gone; keep what it printed
    except BaseException:  # Ctrl-C, SIGTERM, cancellation: never leave the command running
        _kill_group(proc.pid)
        reader.cancel()
        with contextlib.suppress(BaseException):  # reap it while the loop still runs
            await asyncio.wait_for(proc.wait(), 5)
        raise
    out = b"".join(chunks).decode("utf-8", errors="replace")
    if timed_out:
        out += f"\n[specrelay] timed out after {timeout:g} s and was stopped\n"
    await proc.wait()
    seconds = time.perf_counter() - t0
    run.write_artifact(log_name, f"$ {command}\n{out}")
    return CommandResult(command, None if timed_out else proc.returncode, timed_out, seconds, log_name)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


async def run_verify(run: StepRun) -> VerifyResult:
    """Run every command; write verify.json and the logs; never raises on a failing command."""
    commands = commands_for(run)
    if not commands:
        run.emit("note", {"text": "no verification commands: set [verify] commands in .specrelay/config.toml "
                                  "or add <!-- run: ... --> to the step; skipped"})
    results = [await _run_one(cmd, run, n) for n, cmd in enumerate(commands, 1)]
    outcome = VerifyResult(run.round, run.attempt, results)
    run.write_artifact("verify.json", json.dumps({**asdict(outcome), "passed": outcome.passed}, indent=2))
    return outcome


def failing_output(run: StepRun) -> str | None:
    """The output of the last verification's failing commands, if it failed."""
    text = run.read_artifact("verify.json")
    if text is None:
        return None
    data = json.loads(text)
    if data.get("passed"):
        return None
    parts = []
    for c in data["commands"]:
        if c["exit_code"] == 0 and not c["timed_out"]:
            continue
        log = run.read_artifact(c["log"]) or ""
        parts.append(log[-OUTPUT_LIMIT // max(len(data["commands"]), 1):])
    return "\n\n".join(parts)


def verify_summary(run: StepRun) -> str:
    text = run.read_artifact("verify.json")
    if text is None:
        return "No verification was run."
    data = json.loads(text)
    if not data["commands"]:
        return "No verification commands are configured for this project; nothing was run."
    lines = [f"Verification {'passed' if data['passed'] else 'FAILED'}:"]
    for c in data["commands"]:
        ok = c["exit_code"] == 0 and not c["timed_out"]
        state = "passed" if ok else ("timed out" if c["timed_out"] else f"failed (exit {c['exit_code']})")
        lines.append(f"- `{c['command']}`: {state}")
        if not ok:
            tail = (run.read_artifact(c["log"]) or "")[-3000:]
            lines.append(f"```\n{tail}\n```")
    return "\n".join(lines)
