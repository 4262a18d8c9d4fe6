"""``specrelay eval make`` and ``eval list``: write evaluation cases from the repository's history or by
hand, and list them (the cases themselves: :mod:`specrelay.engine.evalcases`). ``run_eval`` and
``load_run`` (``eval run``) live in :mod:`specrelay.app.evalrun`.

The test command a case's hidden check runs is the project's ``[verify] commands`` when set, else the
one ``specrelay init`` would detect (:mod:`specrelay.engine.detect_verify`, sure ones only). Cases from
history are validated by running that command (see :func:`make_from_history`) unless told not to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from specrelay import gitrepo
from specrelay.app.evalrun import EvalRun as EvalRun
from specrelay.app.evalrun import load_run as load_run
from specrelay.app.evalrun import run_eval as run_eval
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
    validated: bool = False  # each case's check was seen to pass at its commit and fail at its parent

    def to_json(self) -> dict[str, object]:
        return {"suite": self.suite, "folder": str(self.folder), "looked_at": self.looked_at,
                "validated": self.validated,
                "cases": [c.to_json() for c in self.cases], "skipped": [s.to_json() for s in self.skipped]}


def test_commands(root: Path) -> list[str]:
    """The project's ``[verify] commands``, else the sure ones of what ``init`` detects."""
    from specrelay.config import load_config
    from specrelay.engine.detect_verify import detect_verify_commands

    configured = list(load_config(root).verify.commands)
    return configured or [d.command for d in detect_verify_commands(root) if d.sure]


def make_from_history(root: Path, suite: str, *, since: str | None = None, limit: int | None = None,
                      globs: list[str] | None = None, force: bool = False, validate: bool = True,
                      progress: Callable[[str], None] | None = None) -> Made:
    """One case per commit of HEAD's first-parent history that changes code with tests (newest first).

    With ``validate``, a candidate is kept only when its hidden check passes at the commit and fails at
    its parent, whose own tests pass (:func:`specrelay.engine.evalcheck.why_invalid`), each run bounded by
    ``[verify] timeout_s``; ``progress`` is told of each commit checked."""
    folder = evalcases.suite_dir(root, suite)
    commands = test_commands(root)
    if validate and not commands:
        raise UserError("eval make cannot validate the cases: no test command is known (none in [verify] "
                        "commands, none detected); set [verify] commands in .specrelay/config.toml, or pass "
                        "--no-validate.")
    check = _validator(root, folder, force, progress) if validate else None
    scan = evalcases.history_cases(root, commands, since=since, limit=limit, globs=globs, validate=check)
    if not scan.looked_at:
        raise UserError(f"no commits after {since} on HEAD's first-parent history; name an older --since REV.")
    if not scan.cases:
        reasons = sorted({s.reason for s in scan.skipped})
        raise UserError(f"no commit to make a case of: none of the {scan.looked_at} commits looked at "
                        "changes code together with tests" + (" in a way its tests can check" if validate else "")
                        + (f" ({'; '.join(reasons)})" if reasons else "") + "; widen --since or --paths.")
    evalcases.refuse_existing(folder, [c.name for c, _ in scan.cases], force)
    gitrepo.add_exclude(root)
    for case, files in scan.cases:
        evalcases.write_case(folder, case, files)
    return Made(suite, folder, [c for c, _ in scan.cases], scan.skipped, scan.looked_at, validated=validate)


def _validator(root: Path, folder: Path, force: bool,
               progress: Callable[[str], None] | None) -> evalcases.Validator:
    """Checks each candidate in a scratch copy of its case folder; a name that exists already (without
    ``force``) is refused before any test runs."""
    import tempfile

    from specrelay import proc
    from specrelay.config import load_config
    from specrelay.engine.evalcheck import why_invalid

    config = load_config(root)
    env = proc.scrubbed_env(config.secret_envs())

    def check(case: Case, files: dict[str, bytes]) -> str | None:
        evalcases.refuse_existing(folder, [case.name], force)
        if progress is not None:
            progress(f"checking {case.source[:12]} {case.request.splitlines()[0] if case.request else ''}")
        with tempfile.TemporaryDirectory(prefix="specrelay-case-") as scratch:
            written = evalcases.write_case(Path(scratch), case, files)
            return why_invalid(root, case, written, timeout_s=config.verify.timeout_s, env=env)

    return check


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
