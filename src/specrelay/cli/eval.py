"""``specrelay eval make`` and ``eval list``: evaluation cases from the repository's own history, each with
a hidden check (see :mod:`specrelay.app.eval`); ``eval run``: every case under each workflow, checked;
``eval report`` on a run of them (:mod:`specrelay.app.evalreport`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from specrelay.cli.common import console, err_console, money, plural, print_json, print_table, repo_root
from specrelay.cli.root import app
from specrelay.cli.usage import App

if TYPE_CHECKING:
    from specrelay.app.eval import EvalRun, Made
    from specrelay.app.evalreport import Report

#: An eval's tasks at once by default: fewer than a run's, since each one's check runs the project's tests.
EVAL_JOBS = 8

eval_app = App(help="Evaluate workflows on cases from your own history (make, list, run, report).",
               no_args_is_help=True, rich_markup_mode=None)
app.add_typer(eval_app, name="eval")


@eval_app.command("make")
def make_command(
    suite: str = typer.Argument(..., help="The suite to add cases to: .specrelay/eval/SUITE/."),
    from_history: bool = typer.Option(False, "--from-history",
                                      help="One case per commit of HEAD's first-parent history that changes "
                                           "code together with tests."),
    since: str | None = typer.Option(None, "--since", metavar="REV", help="Only commits after REV."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most N cases, newest first."),
    globs: list[str] = typer.Option([], "--paths", metavar="GLOB",
                                    help="Only commits changing a file that matches GLOB: * within a folder, "
                                         "** across folders (repeatable)."),
    case: str | None = typer.Option(None, "--case", metavar="NAME", help="A hand-written case of this name."),
    base: str | None = typer.Option(None, "--base", metavar="REV", help="The hand-written case's base commit."),
    request: str | None = typer.Option(None, "--request", metavar="TEXT", help="What the hand-written task asks."),
    checks: list[Path] = typer.Option([], "--check", metavar="PATH",
                                      help="A file (or folder) of the hidden check (repeatable)."),
    no_validate: bool = typer.Option(False, "--no-validate",
                                     help="Keep each history case without running its check (by default the "
                                          "check must pass at the commit and fail at its parent)."),
    rewrite: str | None = typer.Option(None, "--rewrite", metavar="PRESET",
                                       help="Rewrite each history case's request from its commit's message and "
                                            "code diff into a task description, one call of PRESET per case "
                                            "(the message is kept in request.orig.md)."),
    force: bool = typer.Option(False, "--force", help="Replace cases that exist already."),
    json_out: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
) -> None:
    """Write evaluation cases: from history (--from-history) or by hand (--case, --base, --request, --check)."""
    from specrelay.app import eval as evaluation
    from specrelay.errors import UserError

    hand = case is not None or base is not None or request is not None or bool(checks)
    if from_history == hand:
        raise UserError("eval make: pass --from-history, or --case NAME --base REV --request TEXT --check PATH "
                        "for a hand-written case (not both).")
    history_only = [flag for flag, given in (("--since", since is not None), ("--limit", limit is not None),
                                             ("--paths", bool(globs)), ("--no-validate", no_validate),
                                             ("--rewrite", rewrite is not None)) if given]
    if hand and history_only:
        raise UserError(f"{', '.join(history_only)}: only for --from-history; a hand-written case is one "
                        "--base REV with its --check files.")
    root = repo_root()
    if from_history:
        try:
            made = evaluation.make_from_history(root, suite, since=since, limit=limit, globs=globs, force=force,
                                                validate=not no_validate, rewrite=rewrite, progress=_progress)
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (the app turns it into one): the typer default is silent
            from specrelay.app.exits import interrupted_code
            from specrelay.cli.common import print_error

            print_error("eval make stopped: no case was written (a test command running was stopped, its "
                        "scratch worktree removed); run it again to start over.", label="interrupted")
            raise typer.Exit(interrupted_code()) from None
    else:
        missing = [flag for flag, v in (("--case", case), ("--base", base), ("--request", request)) if v is None]
        if missing:
            raise UserError(f"a hand-written case needs {', '.join(missing)} (and --check PATH).")
        assert case is not None and base is not None and request is not None
        made = evaluation.make_by_hand(root, suite, case, base=base, request=request, checks=checks, force=force)
    if json_out:
        print_json(made.to_json())
        return
    _render(made)


def _progress(line: str) -> None:
    err_console.print(f"  {line}", markup=False, soft_wrap=True, highlight=False)


def _render(made: Made) -> None:
    for c in made.cases:
        what = f"from {c.source[:12]}" if c.source else "by hand"
        console.print(f"  wrote {c.name} ({what}, base {c.base[:12]}, {plural(len(c.tests), 'check file')})",
                      markup=False, soft_wrap=True)
    for s in made.skipped:
        console.print(f"  skipped {s.sha[:12]} {s.subject}: {s.reason}", markup=False, soft_wrap=True)
    console.print(f"{plural(len(made.cases), 'case')} written to {made.folder}"
                  + (" (each check passes at its commit and fails at its parent)" if made.validated else "")
                  + (f", {plural(len(made.skipped), 'commit')} skipped" if made.skipped else "") + ".",
                  markup=False, soft_wrap=True)
    if made.rewritten_by:
        cost = "cost unknown" if made.rewrite_cost_usd is None else money(made.rewrite_cost_usd)
        console.print(f"Requests rewritten by {made.rewritten_by} ({plural(made.rewrite_calls, 'call')}, {cost}); "
                      "each commit's message is kept in request.orig.md.", markup=False, soft_wrap=True)
    for warning in made.warnings:
        console.print(f"Warning: {warning}.", markup=False, soft_wrap=True)
    if made.cases and not made.cases[0].test_commands:
        console.print("No test command: set [verify] commands in .specrelay/config.toml, or test_commands in "
                      "each case.toml, before running the cases.", markup=False, soft_wrap=True)


@eval_app.command("list")
def list_command(
    suite: str | None = typer.Argument(None, help="List this suite's cases (default: every suite)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the evaluation suites and their cases."""
    from specrelay.app.eval import list_cases

    found = list_cases(repo_root(), suite)
    if json_out:
        print_json({name: [c.to_json() for c in cases] for name, cases in found.items()})
        return
    if not found:
        console.print("No evaluation suites yet: make one with `specrelay eval make SUITE --from-history`.",
                      markup=False)
        return
    rows = [[name, c.name, c.base[:12], c.source[:12] or "by hand", str(len(c.tests))]
            for name, cases in found.items() for c in cases]
    print_table(["suite", "case", "base", "source", "checks"], rows, right=("checks",))
    empty = [name for name, cases in found.items() if not cases]
    if empty:
        console.print(f"No cases yet in {', '.join(empty)}.", markup=False)


@eval_app.command("report")
def report_command(
    suite: str = typer.Argument(..., help="The suite whose run to report on."),
    run_id: str | None = typer.Option(None, "--run", metavar="RUN_ID", help="This run (default: the latest)."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Report on a run: pass rates with 95% intervals, costs, tokens by phase, paired differences;
    writes report.md, report.json and chart.svg beside its run.json."""
    from specrelay.app.evalreport import build_report, write_report

    root = repo_root()
    report = build_report(root, suite, run_id)
    written = write_report(root, report)
    if json_out:
        print_json({**report.to_json(), "written": [str(p) for p in written]})
        return
    print_report(report, written)


def print_report(report: Report, written: list[Path]) -> None:
    """The per-workflow table, the paired differences, the notes and the files written."""
    from specrelay.app.evalrender import COLUMNS, NUMERIC, PAIR_COLUMNS, pair_row, workflow_row

    print_table(COLUMNS, [workflow_row(w) for w in report.workflows], right=NUMERIC,
                title=f"Suite {report.suite}, run {report.run_id}")
    if report.pairs:
        print_table(PAIR_COLUMNS, [pair_row(p) for p in report.pairs], right=tuple(PAIR_COLUMNS[1:]),
                    title="Paired differences on the same cases")
    for note in report.notes:
        console.print(note, markup=False, soft_wrap=True)
    console.print("Wrote " + ", ".join(str(p) for p in written) + ".", markup=False, soft_wrap=True)


@eval_app.command("run")
def run_command(
    suite: str = typer.Argument(..., help="The suite to run: .specrelay/eval/SUITE/."),
    workflows: str | None = typer.Option(None, "--workflows", "-w", metavar="A,B",
                                         help="The workflows to compare, comma-separated "
                                              "(e.g. multi-model,single-model)."),
    repeat: int = typer.Option(1, "--repeat", metavar="K", help="Run each case K times under each workflow."),
    jobs: int = typer.Option(EVAL_JOBS, "--jobs", "-j", min=1, help=(
        "At most this many tasks run at once (each then runs your tests for its check); the others wait.")),
    budget: float | None = typer.Option(None, "--budget", metavar="USD",
                                        help="The whole run's budget, split equally between its tasks."),
    resume: bool = typer.Option(False, "--resume", help="Continue the suite's latest run (or --run RUN_ID)."),
    run_id: str | None = typer.Option(None, "--run", metavar="RUN_ID", help="With --resume: the run to continue."),
    json_out: bool = typer.Option(False, "--json", help="Print the run's record (run.json) at the end."),
    dir: Path | None = typer.Option(None, "--dir", help="The built-in demo suite only: where to create its "
                                    "sample repository (new or empty; default: a new temporary folder)."),
) -> None:
    """Run every case of a suite under each workflow as ordinary tasks, then each result's hidden check.
    `eval run demo` with no suite named demo here runs the built-in demo suite, offline."""
    from specrelay.app import eval as evaluation
    from specrelay.app.evaldemo import is_builtin
    from specrelay.errors import UserError

    names = [w.strip() for w in (workflows or "").split(",") if w.strip()]
    demo: Path | None = None
    if is_builtin(suite):  # the built-in suite on a new sample repository, then run as any suite
        if resume or run_id is not None:
            raise UserError("eval run demo: the built-in suite runs on a new sample repository each time; to "
                            "continue a run, cd into the sample repository it printed and run `specrelay eval run "
                            "demo --resume`.")
        demo, names = _start_demo(dir, names, json_out)
    elif dir is not None:
        raise UserError(f"--dir {dir}: only for the built-in demo suite (`specrelay eval run demo` where no suite "
                        "is named demo); leave it out to run this repository's suite.")
    if not resume and not names:
        raise UserError("eval run: name the workflows to compare, e.g. --workflows multi-model,single-model "
                        "(or --resume to continue a run).")
    if workflows is not None and not names:
        raise UserError(f"--workflows {workflows!r}: name one or more workflows, comma-separated.")
    root = demo or repo_root()

    def on_cell(cell: dict[str, Any]) -> None:
        if not json_out:
            console.print("  " + "  ".join(_cell_row(cell)), markup=False, soft_wrap=True)

    def on_begin(data: dict[str, Any], todo: list[dict[str, Any]]) -> None:
        if not json_out:
            cases = len({c["case"] for c in data["cells"]})
            console.print(f"Run {data['id']} of suite {data['suite']}: {plural(len(data['cells']), 'cell')} "
                          f"({plural(cases, 'case')} x {plural(len(data['workflows']), 'workflow')} x "
                          f"{data['repeat']}), {len(todo)} to run or check, {max(1, min(jobs, len(todo)))} at a time.",
                          markup=False, soft_wrap=True)

    def on_task(cell: dict[str, Any]) -> None:
        if not json_out:
            console.print(f"  started {cell['case']} {cell['workflow']}#{cell['repeat']}: task {cell['task_id']}",
                          markup=False, soft_wrap=True)

    done = evaluation.run_eval(root, suite, workflows=names, repeat=repeat, jobs=jobs, budget_usd=budget,
                               resume=resume, run_id=run_id, on_cell=on_cell, on_task=on_task, on_begin=on_begin)
    if json_out:
        print_json(done.to_json() if demo is None else {**done.to_json(), "root": str(demo)})
    else:
        _render_run(done)
    if not done.interrupted and any(c["check"] for c in done.cells):
        _report_run(root, suite, done, quiet=json_out)
    if demo is not None and not json_out:
        _demo_note(demo)
    if done.exit_code:
        raise SystemExit(done.exit_code)


def _report_run(root: Path, suite: str, done: EvalRun, *, quiet: bool) -> None:
    """The run's report (report.md, report.json, chart.svg beside run.json), and its table unless ``quiet``;
    a report that cannot be made is a line on stderr, never the run's failure."""
    from specrelay.app.evalreport import build_report, write_report
    from specrelay.errors import SpecRelayError

    try:
        report = build_report(root, suite, str(done.data["id"]))
        written = write_report(root, report)
    except SpecRelayError as exc:
        err_console.print(f"The run's report could not be written: {exc}", markup=False, soft_wrap=True)
        return
    if not quiet:
        print_report(report, written)


def _cell_row(cell: dict[str, Any]) -> list[str]:
    check = cell.get("check")
    verdict = "-" if check is None else str(check["status"])
    if check is not None and check.get("reason") and check["status"] != "passed":
        verdict += f" ({check['reason']})"
    if check is None and cell.get("message"):  # why its task stopped, or could not be made
        verdict += f" ({cell['message']})"
    return [str(cell["case"]), f"{cell['workflow']}#{cell['repeat']}", str(cell["task_id"] or "-"),
            str(cell["task_status"]), verdict]


def _render_run(done: EvalRun) -> None:
    data = done.data
    print_table(["case", "workflow", "task", "status", "check"],
                [[*r[:4], r[4].split(" (")[0]] for r in map(_cell_row, done.cells)],
                title=f"run {data['id']} of suite {data['suite']}")
    by: dict[str, list[str]] = {}
    for cell in done.cells:
        if cell["check"] is not None:
            by.setdefault(cell["workflow"], []).append(cell["check"]["status"])
    for workflow in data["workflows"] if by else []:
        seen = by.get(workflow, [])
        checked = [s for s in seen if s != "error"]
        console.print(f"{workflow}: {checked.count('passed')}/{len(checked)} checks passed"
                      + (f", {plural(seen.count('error'), 'check')} could not run" if "error" in seen else ""),
                      markup=False, soft_wrap=True)
    console.print(f"Recorded in {done.folder / 'run.json'}.", markup=False, soft_wrap=True)
    if done.interrupted or done.unfinished:
        console.print(f"{plural(len(done.unfinished), 'cell')} unfinished: `specrelay eval run {data['suite']} "
                      f"--resume --run {data['id']}` continues the run.", markup=False, soft_wrap=True)


def _start_demo(folder: Path | None, names: list[str], json_out: bool) -> tuple[Path, list[str]]:
    """The built-in suite's sample repository, made with its cases; its root and the workflows to run."""
    from specrelay.app.evaldemo import start_eval_demo

    def say(line: str) -> None:
        if not json_out:
            console.print(line, markup=False, soft_wrap=True)

    say("The built-in demo suite: a sample repository (cartkit) whose last three commits each become a case; "
        "scripted models, offline, no keys.")
    demo = start_eval_demo(folder, workflows=names, progress=lambda line: say(f"  {line}"),
                           on_ready=lambda root: say(f"Sample repository: {root}"))
    return demo.root, demo.workflows


def _demo_note(root: Path) -> None:
    console.print(f"""
[bold]The models in this demo were scripted[/] (replies shipped with specrelay) and every cost is [bold]simulated[/] \
at the real prices of the models they stand for. The edits, the project's tests and the hidden checks really ran.
Try, inside {root}:
  specrelay eval list demo
  specrelay eval report demo
  specrelay status
  specrelay serve     (the dashboard's Eval page)""", soft_wrap=True)
