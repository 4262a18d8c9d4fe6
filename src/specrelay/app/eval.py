"""``specrelay eval make`` and ``eval list``: write evaluation cases from the repository's history or by
hand, and list them (the cases themselves: :mod:`specrelay.engine.evalcases`). ``run_eval`` and
``load_run`` (``eval run``) live in :mod:`specrelay.app.evalrun`.

The test command a case's hidden check runs is the project's ``[verify] commands`` when set, else the
one ``specrelay init`` would detect (:mod:`specrelay.engine.detect_verify`, sure ones only). Cases from
history are validated by running that command (see :func:`make_from_history`) unless told not to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from specrelay import gitrepo
from specrelay.app.evalrun import EvalRun as EvalRun
from specrelay.app.evalrun import load_run as load_run
from specrelay.app.evalrun import run_eval as run_eval
from specrelay.engine import evalcases
from specrelay.engine.evalcases import Case, Skipped
from specrelay.engine.signals import sigterm_as_ctrl_c
from specrelay.errors import UserError
from specrelay.text import plural


@dataclass
class Made:
    """What ``eval make`` wrote: the suite folder, its new cases, and the commits it passed over."""

    suite: str
    folder: Path
    cases: list[Case] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    looked_at: int = 0
    validated: bool = False  # each case's check was seen to pass at its commit and fail at its parent
    rewritten_by: str = ""  # the preset that rewrote the requests (eval make --rewrite), else ""
    rewrite_calls: int = 0
    rewrite_cost_usd: float | None = 0.0  # None: some call's cost is unknown
    warnings: list[str] = field(default_factory=list)  # what the user should look at in the cases written

    def to_json(self) -> dict[str, object]:
        return {"suite": self.suite, "folder": str(self.folder), "looked_at": self.looked_at,
                "validated": self.validated,
                **({"rewritten_by": self.rewritten_by, "rewrite_calls": self.rewrite_calls,
                    "rewrite_cost_usd": self.rewrite_cost_usd} if self.rewritten_by else {}),
                "warnings": self.warnings,
                "cases": [c.to_json() for c in self.cases], "skipped": [s.to_json() for s in self.skipped]}


def test_commands(root: Path) -> list[str]:
    """The project's ``[verify] commands``, else the sure ones of what ``init`` detects."""
    from specrelay.config import load_config
    from specrelay.engine.detect_verify import detect_verify_commands

    configured = list(load_config(root).verify.commands)
    return configured or [d.command for d in detect_verify_commands(root) if d.sure]


def make_from_history(root: Path, suite: str, *, since: str | None = None, limit: int | None = None,
                      globs: list[str] | None = None, force: bool = False, validate: bool = True,
                      rewrite: str | None = None, progress: Callable[[str], None] | None = None) -> Made:
    """One case per commit of HEAD's first-parent history that changes code with tests (newest first).

    With ``validate``, a candidate is kept only when its hidden check passes at the commit and fails at
    its parent, whose own tests pass (:func:`specrelay.engine.evalcheck.why_invalid`), each run bounded by
    ``[verify] timeout_s``; ``progress`` is told of each commit checked. With ``rewrite`` (a preset), each
    kept case's request is that preset's task description of the commit (one call per case, in the
    ledger), the message kept beside it; the preset is checked before anything runs."""
    folder = evalcases.suite_dir(root, suite)
    commands = test_commands(root)
    if rewrite is not None:
        _check_rewriter(root, rewrite)
    if validate and not commands:
        raise UserError("eval make cannot validate the cases: no test command is known (none in [verify] "
                        "commands, none detected); set [verify] commands in .specrelay/config.toml, or pass "
                        "--no-validate.")
    check = _validator(root, folder, force, progress) if validate else None
    with _interruptible():  # a test command running in a scratch worktree is stopped, the worktree removed
        scan = evalcases.history_cases(root, commands, since=since, limit=limit, globs=globs, validate=check)
    if not scan.looked_at:
        raise UserError(f"no commits after {since} on HEAD's first-parent history; name an older --since REV.")
    if not scan.cases:
        reasons = sorted({s.reason for s in scan.skipped})
        raise UserError(f"no commit to make a case of: none of the {scan.looked_at} commits looked at "
                        "changes code together with tests" + (" in a way its tests can check" if validate else "")
                        + (f" ({'; '.join(reasons)})" if reasons else "") + "; widen --since or --paths.")
    evalcases.refuse_existing(folder, [c.name for c, _ in scan.cases], force)
    made = Made(suite, folder, [], scan.skipped, scan.looked_at, validated=validate)
    cases = scan.cases if rewrite is None else _rewritten(root, rewrite, scan.cases, made, progress)
    gitrepo.add_exclude(root)
    for case, files in cases:
        evalcases.write_case(folder, case, files)
    made.cases = [c for c, _ in cases]
    return made


@contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C and SIGTERM stop a validation cleanly, even in a background job, which inherits Ctrl-C
    ignored: then ``asyncio.run`` installs no Ctrl-C handler of its own, a SIGTERM would raise wherever the
    program is, and one landing while a test command is being started would leave that command running
    unseen. With Ctrl-C's default handler back for the while, the interruption always cancels the check's
    task, which stops the command's group."""
    import signal
    import threading

    ignored = (threading.current_thread() is threading.main_thread()
               and signal.getsignal(signal.SIGINT) is signal.SIG_IGN)
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with sigterm_as_ctrl_c():
            yield
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


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


def _check_rewriter(root: Path, name: str) -> None:
    """Refuse, before any test runs or call is made, a --rewrite preset that could not answer: unknown
    (the known ones listed), without its key, with a bad replies file."""
    from specrelay.config import check_price_as, load_config, missing_keys_error
    from specrelay.llm.backend import preflight

    preset = load_config(root).preset(name)
    if preset.key_present is False:
        raise missing_keys_error({preset.name: " or ".join(preset.key_envs)},
                                 "pick a --rewrite preset you have a key for (`specrelay presets` shows which "
                                 "keys are present)")
    preflight([preset], called=[preset.name])
    check_price_as([preset])


def _rewritten(root: Path, preset: str, cases: list[tuple[Case, dict[str, bytes]]], made: Made,
               progress: Callable[[str], None] | None) -> list[tuple[Case, dict[str, bytes]]]:
    """``cases`` with their requests rewritten by ``preset``, one recorded call each (prompts kept)."""
    import asyncio
    import uuid
    from dataclasses import replace

    from specrelay.app.workspace import ledger_of
    from specrelay.config import load_config
    from specrelay.engine.evalrewrite import Rewrite, rewrite_request
    from specrelay.llm import Client

    config = load_config(root)

    async def each(client: Client) -> list[Rewrite]:
        texts = []
        for case, _ in cases:
            if progress is not None:
                progress(f"rewriting {case.name} with {preset}")
            texts.append(await rewrite_request(client, preset, root, case))
        return texts

    with ledger_of(root) as ledger, _interruptible():
        client = Client(config, ledger, run_id=f"eval-make-{uuid.uuid4().hex[:12]}", record_prompts=True)
        texts = asyncio.run(each(client))
        rows = [r for r in ledger.calls() if r.run_id == client.run_id]
    made.rewritten_by, made.rewrite_calls = preset, len(rows)
    costs = [r.cost_usd for r in rows]
    made.rewrite_cost_usd = None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)
    made.warnings += [f"case {case.name}: the rewritten request quotes {plural(len(r.quoted), 'line')} of the "
                      f"commit's code word for word (`{r.quoted[0]}`); edit its request.md so it does not give "
                      "the solution away" for (case, _), r in zip(cases, texts, strict=True) if r.quoted]
    return [(replace(case, request=r.text, original_request=case.request, rewritten_by=preset), files)
            for (case, files), r in zip(cases, texts, strict=True)]


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
