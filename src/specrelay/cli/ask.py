"""``specrelay ask``: one prompt through one preset, streamed, then what it cost."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from specrelay.cli.common import (
    console,
    err_console,
    money,
    print_json,
    repo_root_or_none,
    stopped_as_interrupted,
    tokens,
)
from specrelay.cli.root import app


@app.command("ask")
def ask_command(
    prompt: str = typer.Argument(..., help="The question or instruction."),
    preset: str | None = typer.Option(None, "--preset", "-p", help="Preset to use (default: [routes] ask)."),
    route: str | None = typer.Option(None, "--route", "-r", help="Use the preset of this route (plan, implement, "
                                     "review, research, search, ask, vision) instead of the ask route."),
    file: list[Path] = typer.Option([], "--file", "-f", help="Attach a text file (repeatable)."),
    attach: list[Path] = typer.Option([], "--attach", "-a", help="Show an image (png, jpeg, gif, webp) or PDF to "
                                      "the model (repeatable); its preset must take images (vision = true)."),
    budget: float | None = typer.Option(None, "--budget", help="Most this call may cost, in USD "
                                        "(default: [budget] ask_usd); its output cap is lowered to fit."),
    json_out: bool = typer.Option(False, "--json", help="Print the answer and its cost as JSON."),
    oracle: bool = typer.Option(False, "--oracle", help="A second opinion instead of an answer: check the plan or "
                                "question (and --file's) for missing cases, wrong assumptions and scope creep; "
                                "answered as schema-checked JSON (verdict, findings)."),
) -> None:
    """Send one prompt through a preset; stream the answer, then tokens, cost and latency."""
    from specrelay.app.ask import ask

    def stream(chunk: str) -> None:
        sys.stdout.write(chunk)
        sys.stdout.flush()

    def broken(why: str) -> None:  # the text streamed so far is void: say so before a retry prints anew
        sys.stdout.write("\n")
        sys.stdout.flush()
        err_console.print(f"[yellow]… the answer broke off ({escape(why)}); asking again[/]", soft_wrap=True)

    with stopped_as_interrupted("ask"):
        result = ask(repo_root_or_none(), prompt, preset=preset, route=route, files=file, budget_usd=budget,
                     on_delta=None if json_out else stream, on_broken=None if json_out else broken,
                     oracle=oracle, attach=attach)
    if json_out:
        print_json(result.to_json())
        return
    if oracle:  # JSON, not streamed: its Markdown once it is checked
        sys.stdout.write(result.text)
    elif not result.text.endswith("\n"):
        sys.stdout.write("\n")
    notes = [n for n, on in (("estimated tokens", result.estimated), ("scripted", result.simulated)) if on]
    if result.cut_off:
        notes.append(f"cut off at {result.max_tokens or result.output_tokens:,} tokens")
    if result.capped_by_budget:
        notes.append(f"output capped at {result.max_tokens or 0:,} tokens by the budget")
    console.print(
        f"[dim]{result.preset} · {result.model} · {tokens(result.input_tokens)} in / "
        f"{tokens(result.output_tokens)} out tokens · {money(result.cost_usd, simulated=result.simulated)}"
        f" · {result.wall_s:.2f} s{' · ' + ', '.join(notes) if notes else ''}[/]")
    if result.cut_off:  # after the footer: the last thing the user reads
        err_console.print(f"[bold yellow]warning:[/] {escape(result.cut_off)}", soft_wrap=True)
