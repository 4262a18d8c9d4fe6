"""A run's events, written down: ``tasks/<id>/events.jsonl``, so that any face can follow any run.

Every event a task's run emits (a step starting and finishing, each model call, the task's end) is
appended to its file as one JSON object on one line, and flushed, whether the run is in the
foreground or detached; a resume appends to the same file. Each line is the event's own fields
plus ``event`` (its name), ``task`` (the id) and ``time`` (seconds since the epoch).

A run killed mid-write leaves a torn last line: :func:`read_events` skips it (and any line that is
not a JSON object), and the next run starts on a fresh line, so one crash never hides what follows.
Writing is best effort, as all progress is: a file that cannot be written never fails a run.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from specrelay import paths
from specrelay.engine.events import (
    CallDelta,
    CallFailed,
    CallFinished,
    CallStarted,
    Event,
    EventSink,
    Note,
    ReviewerFailed,
    ReviewerFinished,
    ReviewerStarted,
    RunStarted,
    StepFinished,
    StepStarted,
    TaskFinished,
    TaskStopped,
    quiet,
    tee,
)

# A face renders these without reaching into the engine: they are re-exported here.
__all__ = ["EVENTS_FILE", "CallDelta", "CallFailed", "CallFinished", "CallStarted", "Event", "EventSink",
           "EventsFile", "EventsRead", "Note", "RecordedEvent", "ReviewerFailed", "ReviewerFinished",
           "ReviewerStarted", "RunStarted", "StepFinished", "StepStarted", "TaskFinished", "TaskStopped",
           "events_path", "quiet", "read_events", "recording", "tee"]

#: The file, in a task's folder.
EVENTS_FILE = "events.jsonl"


def events_path(root: Path, task_id: str) -> Path:
    """Where task ``task_id``'s events are written."""
    return paths.task_dir(root, task_id) / EVENTS_FILE


class EventsFile:
    """Appends one task's events to its ``events.jsonl``, a line each, flushed as it is written.

    Safe to call from several threads (a review panel's reviewers report at once). ``close`` ends it.
    """

    def __init__(self, folder: Path, task_id: str) -> None:
        self.task_id = task_id
        self.path = folder / EVENTS_FILE
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            torn = self.path.is_file() and _ends_torn(self.path)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
            if torn:  # a line cut off by a crash: the next one starts on its own line
                self._file.write("\n")
        except OSError:
            self._file = None  # events are best effort: the run goes on without its file

    def write(self, event: str, fields: dict[str, Any]) -> None:
        """Append one event by name (``fields`` are its own; the task and the time are added)."""
        line = json.dumps({"event": event, "task": self.task_id, "time": round(time.time(), 3), **fields},
                          default=str)
        with self._lock:
            if self._file is None:
                return
            try:
                self._file.write(line + "\n")
                self._file.flush()
            except (OSError, ValueError):  # a full disk, a file closed under us: stop writing, keep running
                self._file = None

    def __call__(self, event: Event) -> None:
        """The sink: every event but a streamed chunk's (one line per chunk would drown the rest)."""
        if isinstance(event, CallDelta):
            return
        self.write(event.event, event.fields())

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _ends_torn(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(0, 2)
        if f.tell() == 0:
            return False
        f.seek(-1, 2)
        return f.read(1) != b"\n"


@contextmanager
def recording(folder: Path, task_id: str) -> Iterator[EventsFile]:
    """An :class:`EventsFile` for the duration of the block."""
    out = EventsFile(folder, task_id)
    try:
        yield out
    finally:
        out.close()


@dataclass(frozen=True)
class RecordedEvent:
    """One line of ``events.jsonl``: the event's name, its task, when, and its own fields."""

    event: str
    task: str | None
    time: float | None
    fields: dict[str, Any]


@dataclass(frozen=True)
class EventsRead:
    """What :func:`read_events` found: the events, and the offset to read on from (a follower's cursor)."""

    events: list[RecordedEvent]
    offset: int


def read_events(path: Path, offset: int = 0) -> EventsRead:
    """The events in ``path`` from byte ``offset`` on: whole lines only (a line still being written, or
    torn by a crash, waits or is skipped), lines that are not a JSON object skipped. A missing file
    has none."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return EventsRead([], offset)
    whole = data[: data.rfind(b"\n") + 1]
    events = [e for e in map(_parse, whole.splitlines()) if e is not None]
    return EventsRead(events, offset + len(whole))


def _parse(line: bytes) -> RecordedEvent | None:
    try:
        data = json.loads(line)
    except ValueError:  # a torn line, with the next run's first line after it
        return None
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        return None
    name, task, at = data.pop("event"), data.pop("task", None), data.pop("time", None)
    return RecordedEvent(name, task if isinstance(task, str) else None,
                         float(at) if isinstance(at, int | float) else None, data)
