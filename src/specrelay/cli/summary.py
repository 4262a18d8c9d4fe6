"""The end-of-run summary of a task, as ``run``, ``resume``, ``show`` and ``demo`` print it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from specrelay.cli.common import console

if TYPE_CHECKING:
    from specrelay.app.views import TaskSummary, Verification


def render_summary(s: TaskSummary, *, brief: bool = False, out: Any = None, stopped_by: str | None = None) -> None:
    """The end-of-run summary: outcome, rounds, tokens and cost by phase and preset, the counterfactual.

    ``brief`` (one task among several): the outcome line, its message and what to do next only.
    ``stopped_by``: the error that stopped the task, printed apart, so the task's message is left out.
    """
    from specrelay.app.views import TaskStatus
    from specrelay.cli.common import calls_text, plural, task_cost, tokens

    to = out or console
    colour = {TaskStatus.DONE: "green", TaskStatus.NEEDS_ATTENTION: "yellow"}.get(s.status, "red")
    to.print(f"{'' if brief else chr(10)}[bold {colour}]{s.status}[/] · {s.id} · "
             f"{plural(s.rounds, 'round')} · {calls_text(s.ok_calls, s.failed_calls)} · "
             f"{tokens(s.input_tokens)} in / {tokens(s.output_tokens)} out tokens · "
             f"{task_cost(s.cost_usd, s.unknown_cost_calls, s.simulated)}" + (" (*simulated)" if s.simulated else "")
             + (" · estimated tokens" if s.estimated else ""))
    message = stopped_by is None
    if message and s.message:
        to.print(f"  {s.message}", markup=False)
    verification = s.verification
    if verification and not (brief and verification.state == "passed"):
        to.print(f"  {verification_line(verification)}", markup=False, style=VERIFY_STYLE[verification.state])
    for kept in s.leftovers:
        to.print(f"  Uncommitted changes {kept.get('origin', 'of an interrupted step')} "
                 f"({', '.join(kept['files'])}) are kept at {kept['ref']}: `git diff {kept['ref']}^ {kept['ref']}`",
                 markup=False)
    # A pause's own line, printed apart, says how to go on when it names `specrelay resume`; else this does.
    next_steps = message or s.status is not TaskStatus.PAUSED or "specrelay resume" not in (stopped_by or "")
    if brief:
        if next_steps:
            _next_steps(s, to)
        return
    _cost_table(s, to)
    if next_steps:
        _next_steps(s, to)


def _cost_table(s: TaskSummary, to: Any) -> None:
    """Tokens and cost by phase and by preset; then the same tokens on one model (the planner's)."""
    from specrelay.cli.common import money, print_table, tokens

    costs = s.costs
    failures = any(r.get("failed_calls") for r in costs.by_phase)  # a column only when there are some
    cells = []
    for label, rows in (("phase", costs.by_phase), ("preset", costs.by_preset)):
        for r in rows:
            failed = [str(r.get("failed_calls") or 0)] if failures else []
            cells.append([f"{label} {r['key']}", str(r.get("ok_calls", r["calls"])), *failed,
                          tokens(r["input_tokens"]), tokens(r["output_tokens"]), money(r["cost_usd"])])
    if not cells:  # nothing was called: no table of zeros, no "same tokens" on another model
        return
    numbers = ("calls", *(["failed"] if failures else []), "input", "output", "cost")
    print_table(["", *numbers], cells, right=numbers, out=to, boxed=False)
    one = costs.one_model
    if one is None:
        return
    ratio = one.ratio(s.cost_usd, unknown_calls=s.unknown_cost_calls)
    if one.cost_usd is None or s.cost_usd is None or s.unknown_cost_calls:
        to.print(f"  All on {one.preset}: unknown")
    else:
        times = f" ({ratio:.1f}× this run)" if ratio is not None else ""
        to.print(f"  The same tokens all on {one.preset}: {money(one.cost_usd)}{times}")


#: How each verification state is shown.
VERIFY_STYLE = {"passed": "green", "failed": "red", "not_configured": "yellow"}
VERIFY_MARK = {"passed": "✓", "failed": "✗", "not_configured": "-"}


def verification_line(v: Verification) -> str:
    """A verification in one line: passed (how many commands), FAILED (each failing command, its exit
    code and log), or that none is configured (and where to configure it)."""
    commands = v.commands
    if v.state == "passed":
        return f"verification passed ({len(commands)} command{'' if len(commands) == 1 else 's'})"
    if v.state == "not_configured":
        return ("no verification configured: nothing was tested. Set [verify] commands in "
                ".specrelay/config.toml (`specrelay init` detects your tests)")
    failed = [c for c in commands if c["exit_code"] != 0 or c["timed_out"]]
    return "verification FAILED: " + "; ".join(command_outcome(c) for c in failed)


def command_outcome(c: dict[str, Any]) -> str:
    """One failing command: the command, its exit code (or its timeout), its log."""
    how = "timed out" if c["timed_out"] else f"exit {c['exit_code']}"
    return f"`{c['command']}` {how} · log {c['log']}"


def _next_steps(s: TaskSummary, to: Any) -> None:
    """What to do next, from the engine's one rule of what is open (``s.open``) and the status."""
    from specrelay.app.views import TaskStatus

    task = s.id
    if s.status is TaskStatus.DONE and not s.open:
        to.print(f"  Branch {s.branch} is ready: `specrelay merge {task}`")
    elif s.status in (TaskStatus.PAUSED, TaskStatus.FAILED):
        to.print(f"  Continue with `specrelay resume {task}`")
    elif s.status in (TaskStatus.NEEDS_ATTENTION, TaskStatus.DONE):
        to.print(f"  Review the work in {s.worktree}, then give the builder another round "
                 f"(`specrelay resume {task} --rounds 1`), take it as it is (`specrelay merge {task} --force`), "
                 f"or `specrelay discard {task}`")
