"""The process runner: a process group that never outlives a timeout or a cancellation, a scrubbed
environment, output streamed to a log with a tail kept."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from specrelay import proc
from specrelay.errors import CommandNotRunnable


def _alive(pid: int) -> bool:
    """Running, not only not yet reaped: a killed grandchild is a zombie until whoever adopted it (PID 1,
    which in a container may reap late) collects it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _gone_soon(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


# A shell whose background grandchild would outlive a kill of the shell alone.
SPAWNS = "sleep 30 & echo $! > child.pid; echo started; wait"


def test_output_goes_to_the_log_after_the_header_and_the_tail_is_kept(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "one.log"
    done = asyncio.run(proc.run("echo out; echo err >&2; exit 3", cwd=tmp_path, log=log, env=os.environ,
                                header="$ cmd\n"))
    assert (done.exit_code, done.timed_out, done.passed) == (3, False, False)
    assert log.read_text() == "$ cmd\nout\nerr\n"
    assert done.tail == "out\nerr\n"


def test_a_timeout_kills_the_whole_group_and_is_a_result(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    done = asyncio.run(proc.run(SPAWNS, cwd=tmp_path, log=log, env=os.environ, timeout_s=1))
    assert done.timed_out and done.exit_code is None
    assert "started" in log.read_text() and "timed out after 1 s" in log.read_text()
    assert _gone_soon(int((tmp_path / "child.pid").read_text()))


def test_cancelling_kills_the_group_and_stays_a_cancellation(tmp_path: Path) -> None:
    async def main() -> None:
        task = asyncio.ensure_future(proc.run(SPAWNS, cwd=tmp_path, log=tmp_path / "c.log", env=os.environ))
        while not (tmp_path / "child.pid").is_file() or not (tmp_path / "child.pid").read_text().strip():
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert _gone_soon(int((tmp_path / "child.pid").read_text()))


def test_the_environment_is_what_the_caller_scrubbed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SECRET_KEY_FOR_TEST", "s3cret")
    env = proc.scrubbed_env(["SECRET_KEY_FOR_TEST"], extra={"ADDED": "yes"})
    assert "SECRET_KEY_FOR_TEST" not in env and env["ADDED"] == "yes" and env["PATH"] == os.environ["PATH"]
    done = asyncio.run(proc.run('echo "[$SECRET_KEY_FOR_TEST][$ADDED]"', cwd=tmp_path, log=tmp_path / "e.log",
                                env=env))
    assert done.tail == "[][yes]\n"


def test_an_argument_list_runs_without_a_shell_and_is_fed_stdin(tmp_path: Path) -> None:
    code = "import sys; print(sys.stdin.read().upper(), end='')"
    done = asyncio.run(proc.run([sys.executable, "-c", code], cwd=tmp_path, log=tmp_path / "a.log",
                                env=os.environ, stdin="héllo".encode()))
    assert done.passed and done.tail == "HÉLLO"


def test_a_missing_executable_is_not_runnable(tmp_path: Path) -> None:
    with pytest.raises(CommandNotRunnable, match="not found"):
        asyncio.run(proc.run(["no-such-program-xyz"], cwd=tmp_path, log=tmp_path / "m.log", env=os.environ))


def test_a_log_that_cannot_be_written_starts_no_command(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where the log's folder would be\n")
    with pytest.raises(OSError):
        asyncio.run(proc.run("touch ran", cwd=tmp_path, log=tmp_path / "blocker" / "v.log", env=os.environ))
    time.sleep(0.2)
    assert not (tmp_path / "ran").exists()
