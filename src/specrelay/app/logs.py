"""A task's ``run.log``: where it is, whether the task is still running, and reading it on from an offset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from specrelay.app.tasks import task_of
from specrelay.engine.lock import is_running
from specrelay.engine.task import Task

__all__ = ["RUN_LOG", "LogChunk", "Task", "read_log", "run_log", "running"]
from specrelay.errors import UserError

RUN_LOG = "run.log"


@dataclass(frozen=True)
class LogChunk:
    """What a log holds past an offset (whole lines only), and the offset to read on from."""

    data: bytes
    offset: int


def run_log(root: Path, task_id: str, *, must_exist: bool = True) -> tuple[Task, Path]:
    """The task and its run.log; a UserError when it has none yet (unless ``must_exist`` is False)."""
    task = task_of(root, task_id)
    log = task.folder / RUN_LOG
    if must_exist and not log.is_file():
        raise UserError(f"task {task.id} has no run.log yet in {task.folder} (it has not run since specrelay "
                        "began writing one); `specrelay show " + task.id + "` has its summary.")
    return task, log


def running(task: Task) -> bool:
    """Whether some process is running the task now (it holds the task's lock)."""
    return is_running(task.folder)


def read_log(log: Path, offset: int = 0) -> LogChunk:
    """What ``log`` holds past ``offset``, whole lines only (a line still being written waits for its end)."""
    try:
        with log.open("rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return LogChunk(b"", offset)
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
    return LogChunk(data, offset + len(data))
