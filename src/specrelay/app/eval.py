"""``specrelay eval make`` and ``eval list``: write evaluation cases from the repository's history or by
hand, and list them (the cases themselves: :mod:`specrelay.engine.evalcases`).

The test command a case's hidden check runs is the project's ``[verify] commands`` when set, else the
one ``specrelay init`` would detect (:mod:`specrelay.engine.detect_verify`, sure ones only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from specrelay import gitrepo
from specrelay.engine import evalcases
from specrelay.engine.evalcases import Case, Skipped
from specrelay.errors import UserError


@dataclass
class Made:
    """What ``eval make`` wrote: the suite folder, its new cases, and the commits it passed over."""

    suite: str
    folder: Path
    cases: list[Case] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    looked_at: int = 0

    def to_json(self) -> dict[str, object]:
        return {"suite": self.suite, "folder": str(self.folder), "looked_at": self.looked_at,
                "cases": [c.to_json() for c in self.cases], "skipped": [s.to_json() for s in self.skipped]}


def test_commands(root: Path) -> list[str]:
    """The project's ``[verify] commands``, else the sure ones of what ``init`` detects."""
    from specrelay.config import load_config
    from specrelay.engine.detect_verify import detect_verify_commands

    configured = list(load_config(root).verify.commands)
    return configured or [d.command for d in detect_verify_commands(root) if d.sure]


def make_from_history(root: Path, suite: str, *, since: str | None = None, limit: int | None = None,
                      globs: list[str] | None = None, force: bool = False) -> Made:
    """One case per commit of HEAD's first-parent history that changes code with tests (newest first)."""
    folder = evalcases.suite_dir(root, suite)
    scan = evalcases.history_cases(root, test_commands(root), since=since, limit=limit, globs=globs)
    if not scan.looked_at:
        raise UserError(f"no commits after {since} on HEAD's first-parent history; name an older --since REV.")
    if not scan.cases:
        reasons = sorted({s.reason for s in scan.skipped})
        raise UserError(f"no commit to make a case of: none of the {scan.looked_at} commits looked at "
                        "changes code together with tests" + (f" ({'; '.join(reasons)})" if reasons else "")
                        + "; widen --since or --paths.")
    evalcases.refuse_existing(folder, [c.name for c, _ in scan.cases], force)
    gitrepo.add_exclude(root)
    for case, files in scan.cases:
        evalcases.write_case(folder, case, files)
    return Made(suite, folder, [c for c, _ in scan.cases], scan.skipped, scan.looked_at)


def make_by_hand(root: Path, suite: str, name: str, *, base: str, request: str, checks: list[Path],
                 force: bool = False) -> Made:
    """One hand-written case: its base, its request, its hidden check's files."""
    folder = evalcases.suite_dir(root, suite)
    case, files = evalcases.hand_case(root, name, base, request, checks, test_commands(root))
    evalcases.refuse_existing(folder, [case.name], force)
    gitrepo.add_exclude(root)
    evalcases.write_case(folder, case, files)
    return Made(suite, folder, [case])


def list_cases(root: Path, suite: str | None) -> dict[str, list[Case]]:
    """Every suite's cases, or one suite's (a UserError naming the known suites when it has none)."""
    if suite is None:
        return {name: [evalcases.read_case(evalcases.suite_dir(root, name) / c) for c in cases]
                for name, cases in evalcases.suites(root).items()}
    folder = evalcases.suite_dir(root, suite)
    if not folder.is_dir():
        known = ", ".join(evalcases.suites(root)) or "none yet"
        raise UserError(f"no suite {suite!r} in {folder.parent} (suites: {known}); make one with "
                        f"`specrelay eval make {suite} --from-history`.")
    return {suite: [evalcases.read_case(folder / c) for c in evalcases.case_names(folder)]}
