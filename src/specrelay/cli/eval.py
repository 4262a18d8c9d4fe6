"""``specrelay eval make`` and ``eval list``: evaluation cases from the repository's own history, each with
a hidden check (see :mod:`specrelay.app.eval`); ``eval report`` on a run of them
(:mod:`specrelay.app.evalreport`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from specrelay.cli.common import console, err_console, plural, print_json, print_table, repo_root
from specrelay.cli.root import app
from specrelay.cli.usage import App

if TYPE_CHECKING:
    from specrelay.app.eval import Made
    from specrelay.app.evalreport import Report

eval_app = App(help="Evaluate workflows on cases from your own history (make, list, report).", no_args_is_help=True,
               rich_markup_mode=None)
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
                                             ("--paths", bool(globs)), ("--no-validate", no_validate)) if given]
    if hand and history_only:
        raise UserError(f"{', '.join(history_only)}: only for --from-history; a hand-written case is one "
                        "--base REV with its --check files.")
    root = repo_root()
    if from_history:
        made = evaluation.make_from_history(root, suite, since=since, limit=limit, globs=globs, force=force,
                                            validate=not no_validate, progress=_progress)
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
