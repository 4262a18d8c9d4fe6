"""An evaluation run's record: ``.specrelay/eval/SUITE/runs/RUN_ID/run.json``.

A run is every case of a suite under every workflow asked for, ``repeat`` times: one *cell* per
(case, workflow, repeat), each an ordinary task. ``run.json`` says which task each cell is, how it
ended, and what its hidden check found::

    {"version": 1, "suite": "S", "id": "20261203-184502-a3f1", "created_at": 1733.0,
     "workflows": ["multi-model", "single-model"], "repeat": 1, "budget_usd": 2.0,
     "cells": [{"case": "NAME", "workflow": "multi-model", "repeat": 1, "task_id": "..." | null,
                "task_status": "done|needs_attention|paused|failed|not_started", "check": null | {...}}]}

The file is rewritten whole (temp file, fsync, rename) at every change, under a lock shared by the
threads of the run, so a crash leaves either the old record or the new one. A cell's task id is
written down before its task is made: a run killed at any moment never makes a cell's task twice.
The run's folder also holds a ``lock`` file, locked by the process working on the run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from specrelay import paths
from specrelay.engine.evalcases import RUNS_FOLDER, suite_dir
from specrelay.errors import UserError
from specrelay.fsutil import atomic_write_text

RUNS_DIR = RUNS_FOLDER
RUN_FILE = "run.json"
VERSION = 1
#: What a cell's ``task_status`` can be.
CELL_STATUSES = ("done", "needs_attention", "paused", "failed", "not_started")
#: What a cell's check can find.
CHECK_STATUSES = ("passed", "failed", "error")
#: The statuses whose task has ended: its result gets the hidden check.
CHECKED_STATUSES = frozenset({"done", "needs_attention"})


def runs_dir(root: Path, suite: str) -> Path:
    """Where suite ``suite``'s runs are kept."""
    return suite_dir(root, suite) / RUNS_DIR


def new_run_id(now: float | None = None) -> str:
    """``YYYYMMDD-HHMMSS-xxxx`` (UTC, then 4 random hex characters): runs sort by when they began."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(2)}"


def new_cell(case: str, workflow: str, repeat: int) -> dict[str, Any]:
    """A cell whose task is not made yet."""
    return {"case": case, "workflow": workflow, "repeat": repeat, "task_id": None, "task_status": "not_started",
            "check": None}


class RunFile:
    """One run's ``run.json``, held in memory and written back whole at every change."""

    def __init__(self, folder: Path, data: dict[str, Any]) -> None:
        self.folder = folder
        self.data = data
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.folder / RUN_FILE

    @property
    def cells(self) -> list[dict[str, Any]]:
        cells: list[dict[str, Any]] = self.data["cells"]
        return cells

    @classmethod
    def create(cls, root: Path, suite: str, *, workflows: list[str], repeat: int, budget_usd: float | None,
               cases: list[str]) -> RunFile:
        """A new run of ``cases`` (every cell not started), written at once."""
        now = time.time()
        run_id = new_run_id(now)
        folder = runs_dir(root, suite) / run_id
        paths.make_dir(folder, exist_ok=False)
        cells = [new_cell(c, w, r) for c in cases for w in workflows for r in range(1, repeat + 1)]
        run = cls(folder, {"version": VERSION, "suite": suite, "id": run_id, "created_at": now,
                           "workflows": list(workflows), "repeat": repeat, "budget_usd": budget_usd,
                           "cells": cells})
        run.save()
        return run

    @classmethod
    def open(cls, root: Path, suite: str, run_id: str | None = None) -> RunFile:
        """The run ``run_id`` of the suite (its latest when None); a UserError naming the known runs."""
        base = runs_dir(root, suite)
        known = run_ids(root, suite)
        if not known:
            raise UserError(f"suite {suite!r} has no runs yet ({base}); start one with "
                            f"`specrelay eval run {suite} --workflows multi-model,single-model`.")
        chosen = known[-1] if run_id is None else run_id
        if chosen not in known:
            shown = ", ".join(known[-5:][::-1]) + (f" and {len(known) - 5} older" if len(known) > 5 else "")
            raise UserError(f"no run {run_id!r} of suite {suite!r}; its runs: {shown} (--run RUN_ID).")
        return cls(base / chosen, read_run(base / chosen / RUN_FILE))

    def save(self) -> None:
        """Write ``run.json`` whole, atomically."""
        with self._lock:
            atomic_write_text(self.path, json.dumps(self.data, indent=2, ensure_ascii=False) + "\n")

    def update(self, cell: dict[str, Any], *, drop: tuple[str, ...] = (), **changes: Any) -> None:
        """Change a cell (and remove its keys ``drop``) and write the record at once."""
        with self._lock:
            cell.update(changes)
            for key in drop:
                cell.pop(key, None)
            atomic_write_text(self.path, json.dumps(self.data, indent=2, ensure_ascii=False) + "\n")

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """The run's lock for as long as this process works on it (its record read again once held); a
        UserError when another process holds it."""
        fd = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserError(f"run {self.data['id']} of suite {self.data['suite']} is being run by another "
                                "process; wait for it to end (or stop it), then resume.") from None
            self.data = read_run(self.path)  # as the last process to hold the run left it
            yield
        finally:
            os.close(fd)  # closing the file releases the lock


def read_run(path: Path) -> dict[str, Any]:
    """A ``run.json``'s content; a UserError naming the file when it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot be read as an evaluation run ({exc}); move the run's folder aside.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise UserError(f"{path}: not an evaluation run (no cells); move the run's folder aside.")
    return _checked(path, data)


def _bad(path: Path, what: str) -> UserError:
    return UserError(f"{path}: {what}; it is written by `specrelay eval run`: run the suite again, or move "
                     f"{path.parent} aside if it is no run.")


def _checked(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """``run.json``'s content when its shape is what a run and its report read (a file edited by hand may
    not be); a UserError naming the field otherwise."""
    if data.get("version") != VERSION:
        raise _bad(path, f"version {data.get('version')!r}, this specrelay reads version {VERSION}")
    workflows = data.get("workflows")
    if not isinstance(workflows, list) or not all(isinstance(w, str) for w in workflows):
        raise _bad(path, "'workflows' is not a list of names")
    for field_name, what in _TOP_FIELDS.items():
        if not _fits(field_name, data.get(field_name)):
            raise _bad(path, f"'{field_name}' is {json.dumps(data.get(field_name))}, not {what}")
    seen: set[tuple[str, str, int]] = set()
    for n, cell in enumerate(data["cells"]):
        _check_cell(path, n, cell, workflows)
        place = (str(cell["case"]), str(cell["workflow"]), int(cell["repeat"]))
        if place in seen:
            raise _bad(path, f"cells[{n}] is a second cell for case {place[0]}, workflow {place[1]}, "
                             f"repeat {place[2]}")
        seen.add(place)
    return data


#: The record's own fields besides its cells and workflows, and what each must be.
_TOP_FIELDS = {"suite": "a suite name", "id": "the run's id", "repeat": "a whole number, 1 or more",
               "budget_usd": "a positive amount or null", "created_at": "a time in seconds"}


def _fits(name: str, value: object) -> bool:
    if name in ("suite", "id"):
        return isinstance(value, str)
    if isinstance(value, bool):  # JSON true/false are no numbers here
        return False
    if name == "repeat":
        return isinstance(value, int) and value >= 1
    if name == "budget_usd":
        return value is None or (isinstance(value, int | float) and value > 0)
    return isinstance(value, int | float)


def _check_cell(path: Path, n: int, cell: object, workflows: list[str]) -> None:
    where = f"cells[{n}]"
    if not isinstance(cell, dict):
        raise _bad(path, f"{where} is not an object")
    for key, kind in (("case", str), ("workflow", str), ("repeat", int)):
        if not isinstance(cell.get(key), kind):
            raise _bad(path, f"{where}.{key} is missing or not a {kind.__name__}")
    if cell["workflow"] not in workflows:
        raise _bad(path, f"{where}.workflow {cell['workflow']!r} is none of the run's workflows "
                         f"({', '.join(workflows)})")
    if cell.get("task_id") is not None and not isinstance(cell["task_id"], str):
        raise _bad(path, f"{where}.task_id is not a string or null")
    if cell.get("task_status") not in CELL_STATUSES:
        raise _bad(path, f"{where}.task_status is missing or none of {', '.join(CELL_STATUSES)}")
    if "check" not in cell:
        raise _bad(path, f"{where}.check is missing (null until the check has run)")
    check = cell["check"]
    if check is not None and (not isinstance(check, dict) or check.get("status") not in CHECK_STATUSES):
        raise _bad(path, f"{where}.check is not null or an object whose status is {', '.join(CHECK_STATUSES)}")


def run_ids(root: Path, suite: str) -> list[str]:
    """The ids of the suite's runs that have a ``run.json``, oldest first."""
    base = runs_dir(root, suite)
    if not base.is_dir():
        return []
    return sorted(d.name for d in base.iterdir() if d.is_dir() and (d / RUN_FILE).is_file())
