"""The one process runner for commands the user chose: verification commands, agent CLIs.

A command runs in a session of its own (so a timeout or a pause stops its whole process group, not
only the shell), with stdin closed or fed, in an environment the caller scrubbed, and its output
(stdout and stderr together) streamed to a log file as it arrives; the caller gets the exit code and
the output's tail. Git is not run here: :mod:`specrelay.gitrepo.process` is git's own door.

Bottom layer: imports nothing of specrelay but :mod:`specrelay.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from specrelay.errors import CommandNotRunnable

#: Characters of output a :class:`Finished` keeps in memory; the whole output is in the log.
TAIL_CHARS = 12000
#: How long a killed group is given to be reaped before the caller's cancellation goes on.
_REAP_S = 5.0


@dataclass(frozen=True)
class Finished:
    """How a command ended: ``exit_code`` is None when it timed out (and was killed)."""

    exit_code: int | None
    timed_out: bool
    seconds: float
    tail: str
    log: Path

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def scrubbed_env(drop: Iterable[str], *, extra: Mapping[str, str] | None = None,
                 base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (the process environment by default) without the variables named in ``drop``
    (API keys a command has no business reading), plus ``extra``."""
    names = set(drop)
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in names}
    env.update(extra or {})
    return env


def kill_group(pid: int) -> None:
    """SIGKILL the process group led by ``pid``; nothing when it is gone already."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


async def run(command: str | Sequence[str], *, cwd: Path, log: Path, env: Mapping[str, str],
              timeout_s: float | None = None, header: str = "", stdin: bytes | None = None) -> Finished:
    """Run ``command`` (a string through the shell, a sequence as it is) in ``cwd`` until it ends.

    Output goes to ``log`` (after ``header``) as it arrives. A timeout kills the group and is a
    result (``timed_out``), with a line saying so at the end of the log. Cancellation (Ctrl-C, a
    pause) kills the group too, reaps it, and goes on as a cancellation: no command outlives the run.
    An executable that does not exist (a sequence command) raises :class:`CommandNotRunnable`.
    """
    t0 = time.perf_counter()
    tail = _Tail()
    log.parent.mkdir(parents=True, exist_ok=True)
    # The log is opened before the command starts: a log that cannot be written must not leave a
    # command running in a session of its own that nothing would ever stop.
    with log.open("w", encoding="utf-8") as out:
        out.write(header)

        def write(chunk: str) -> None:
            out.write(chunk)
            tail.add(chunk)

        proc = await _started(command, cwd, env, stdin is not None)
        timed_out = await _follow(proc, stdin, timeout_s, write)
        if timed_out:
            note = f"\n[specrelay] timed out after {timeout_s:g} s and was stopped\n"
            out.write(note)
            tail.add(note)
    await proc.wait()
    return Finished(None if timed_out else proc.returncode, timed_out, time.perf_counter() - t0, tail.text, log)


async def _started(command: str | Sequence[str], cwd: Path, env: Mapping[str, str],
                   feed: bool) -> asyncio.subprocess.Process:
    """The command started; a cancellation that comes while it starts (the process exists, but
    asyncio has not handed it over yet) waits for it, kills its group and goes on as a cancellation."""
    starting = asyncio.ensure_future(_start(command, cwd, env, feed))
    try:
        return await asyncio.shield(starting)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            started = await starting
            kill_group(started.pid)
            await asyncio.wait_for(started.wait(), _REAP_S)
        raise


async def _start(command: str | Sequence[str], cwd: Path, env: Mapping[str, str],
                 feed: bool) -> asyncio.subprocess.Process:
    # A new session, so that a timeout or an interruption stops the command's whole process group.
    pipe, out, err = asyncio.subprocess.PIPE, asyncio.subprocess.PIPE, asyncio.subprocess.STDOUT
    given = pipe if feed else asyncio.subprocess.DEVNULL
    if isinstance(command, str):
        return await asyncio.create_subprocess_shell(command, cwd=cwd, stdin=given, stdout=out, stderr=err,
                                                     start_new_session=True, env=dict(env))
    try:
        return await asyncio.create_subprocess_exec(*command, cwd=cwd, stdin=given, stdout=out, stderr=err,
                                                    start_new_session=True, env=dict(env))
    except FileNotFoundError as exc:
        raise CommandNotRunnable(f"`{command[0]}` was not found: is it installed and on PATH?") from exc
    except PermissionError as exc:
        raise CommandNotRunnable(f"`{command[0]}` is not executable: check its permissions (chmod +x)") from exc


async def _follow(proc: asyncio.subprocess.Process, stdin: bytes | None, timeout_s: float | None,
                  sink: Callable[[str], None]) -> bool:
    """Pump the output into ``sink`` until the pipe closes; True when the timeout struck first."""
    decoder = _Decoder()

    async def pump() -> None:
        assert proc.stdout is not None
        while data := await proc.stdout.read(65536):
            sink(decoder.text(data))
        sink(decoder.text(b"", final=True))

    reader = asyncio.ensure_future(pump())
    feeder = asyncio.ensure_future(_feed(proc, stdin)) if stdin is not None else None
    try:
        await asyncio.wait_for(asyncio.shield(reader), timeout_s)
    except TimeoutError:
        kill_group(proc.pid)
        await reader  # the pipe closes once the group is gone; keep what it printed
        return True
    except BaseException:  # Ctrl-C, SIGTERM, cancellation: never leave the command running
        kill_group(proc.pid)
        reader.cancel()
        with contextlib.suppress(BaseException):  # reap it while the loop still runs
            await asyncio.wait_for(proc.wait(), _REAP_S)
        raise
    finally:
        if feeder is not None:
            feeder.cancel()
    return False


async def _feed(proc: asyncio.subprocess.Process, data: bytes) -> None:
    assert proc.stdin is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it may stop reading: its business
        proc.stdin.write(data)
        await proc.stdin.drain()
    proc.stdin.close()


class _Decoder:
    """UTF-8 across chunk boundaries (a character split between two reads stays whole); bad bytes
    become U+FFFD, as the old whole-output decoding did."""

    def __init__(self) -> None:
        import codecs

        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def text(self, data: bytes, *, final: bool = False) -> str:
        return self._decoder.decode(data, final=final)


class _Tail:
    """The last :data:`TAIL_CHARS` characters of what was added."""

    def __init__(self) -> None:
        self.text = ""

    def add(self, chunk: str) -> None:
        self.text = (self.text + chunk)[-TAIL_CHARS:]
