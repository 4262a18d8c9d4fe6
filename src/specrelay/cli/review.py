"""``specrelay review``: an on-demand cross-model review of any diff; a CI or pre-commit gate.

Exit codes: 0 approve (or nothing to review), 1 request_changes, 2 errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from specrelay.cli.common import console, err_console, money, print_json, repo_root, stopped_as_interrupted
from specrelay.cli.root import app
from specrelay.errors import SpecRelayError, UserError

if TYPE_CHECKING:
    from specrelay.app.events import Event


@app.command("review")
def review_command(
    range_: str | None = typer.Argument(None, metavar="[RANGE]",
                                        help="A..B, a branch, or a task id (default: uncommitted changes)."),
    panel: str | None = typer.Option(None, "--panel", help="Comma-separated reviewer presets, run in parallel."),
    preset: str | None = typer.Option(None, "--preset", help="One reviewer preset."),
    spec: Path | None = typer.Option(None, "--spec", help="A spec to review the change against."),
    json_out: bool = typer.Option(False, "--json", help="Print final_review.json."),
) -> None:
    """Review a diff with one model or a panel; findings merged by agreement."""
    try:
        _review(range_, panel, preset, spec, json_out)
    except SpecRelayError as exc:
        if json_out:  # a CI job reading stdout still gets one JSON object
            print_json({"verdict": None, "error": str(exc)})
        raise


def _review(range_: str | None, panel: str | None, preset: str | None, spec: Path | None, json_out: bool) -> None:
    from specrelay.app.review import review

    if panel and preset:
        raise UserError("give either --panel P1,P2,... or --preset P, not both.")
    presets = None if panel is None else [p.strip() for p in panel.split(",") if p.strip()]
    # Diffs come from the working tree the command runs in (it may be a linked worktree).
    def stopped(message: str) -> None:
        if json_out:  # as for an error: a CI job reading stdout still gets one JSON object
            print_json({"verdict": None, "error": message})

    with stopped_as_interrupted("review", stopped):
        result = review(repo_root(), where=Path.cwd(), range_=range_, panel=presets, preset=preset, spec=spec,
                        emit=_reviewer_line)
    if json_out:
        print_json(result.report)
    elif result.folder is None:
        console.print(f"Nothing to review: no changes in {result.label}.")
    else:
        _print_report(result.label, len(result.files), result.folder)
    raise SystemExit(result.exit_code)


def _print_report(label: str, files: int, folder: Path) -> None:
    """The saved final_review.md, rendered for the terminal (the file itself stays Markdown)."""
    from rich.markdown import Markdown

    console.print(f"Reviewed: {label} ({files} file{'' if files == 1 else 's'})", markup=False)
    report = Markdown((folder / "final_review.md").read_text(encoding="utf-8"))
    if console.is_terminal:
        console.print(report)
    else:  # rich pads each line to the full width: piped, the spaces are only noise (and diff churn)
        with console.capture() as captured:
            console.print(report)
        lines = captured.get().splitlines()
        console.print("\n".join(line.rstrip() for line in lines), markup=False, highlight=False)
    console.print(f"Report saved in {folder}", style="dim", markup=False)


def _reviewer_line(event: Event) -> None:
    """Each reviewer starting and finishing, on stderr: stdout holds only the report (or its JSON)."""
    from specrelay.app.events import ReviewerFailed, ReviewerFinished, ReviewerStarted

    if isinstance(event, ReviewerStarted):
        err_console.print(f"▶ {escape(event.preset)} reviewing ({event.index} of {event.of})", soft_wrap=True)
    elif isinstance(event, ReviewerFailed):  # a lone reviewer's failure is the command's error, printed next
        why = "" if event.of == 1 else f" {escape(event.error)}"
        err_console.print(f"[red]✗ {escape(event.preset)} failed{':' if why else ''}[/]{why}", soft_wrap=True)
    elif isinstance(event, ReviewerFinished):
        n, cost = event.findings, money(event.cost_usd, simulated=event.simulated)
        cost += " (estimated)" if event.estimated and event.cost_usd is not None else ""
        err_console.print(f"✓ {escape(event.preset)} ({escape(event.model)}) said {event.verdict} · "
                          f"{n} finding{'' if n == 1 else 's'} · {cost}"
                          f" · {event.latency_s:.1f} s", soft_wrap=True)
