"""``specrelay ask``: one prompt through one preset, streamed, then what it cost."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from specrelay.cli.common import console, money, open_ledger, print_json, repo_root_or_none, tokens
from specrelay.cli.root import app
from specrelay.errors import UserError


@app.command("ask")
def ask_command(
    prompt: str = typer.Argument(..., help="The question or instruction."),
    preset: str | None = typer.Option(None, "--preset", "-p", help="Preset to use (default: [routes] ask)."),
    file: list[Path] = typer.Option([], "--file", "-f", help="Attach a file (repeatable)."),
    budget: float | None = typer.Option(None, "--budget", help="Most this call may cost, in USD "
                                        "(default: [budget] ask_usd); its output cap is lowered to fit."),
    json_out: bool = typer.Option(False, "--json", help="Print the answer and its cost as JSON."),
) -> None:
    """Send one prompt through a preset; stream the answer, then tokens, cost and latency."""
    from specrelay.config import load_config
    from specrelay.engine import ask as A

    A.check_prompt(prompt)
    A.check_budget(budget)
    root = repo_root_or_none()
    config = load_config(root)
    name = preset or config.routes.ask
    if not name:
        raise UserError("no preset given: pass --preset NAME, or set [routes] ask = \"NAME\" in your config.")
    chosen = config.preset(name)
    attachments = A.read_attachments(file)
    user = A.build_prompt(prompt, attachments)
    A.check_window(chosen, user, attachments)
    limit = budget if budget is not None else config.budget.ask_usd
    A.check_call(chosen, user, limit)
    ledger = open_ledger(root)  # only now: a refused ask records nothing, and creates no ledger

    def stream(chunk: str) -> None:
        sys.stdout.write(chunk)
        sys.stdout.flush()

    t0 = time.perf_counter()
    result = A.ask(config, ledger, chosen, user, budget_usd=limit, on_delta=None if json_out else stream)
    wall = time.perf_counter() - t0
    if json_out:
        print_json({
            "text": result.text, "preset": result.preset, "provider": result.provider, "model": result.model,
            "input_tokens": result.usage.input_tokens, "output_tokens": result.usage.output_tokens,
            "cache_read_tokens": result.usage.cache_read_tokens, "cost_usd": result.cost_usd,
            "latency_s": round(result.latency_s, 3), "estimated": result.estimated,
            "simulated": result.simulated, "attempts": result.attempts, "budget_usd": limit,
            "max_tokens": result.max_tokens, "capped_by_budget": result.capped_by_budget,
        })
        return
    if not result.text.endswith("\n"):
        sys.stdout.write("\n")
    notes = [n for n, on in (("estimated tokens", result.estimated), ("scripted", result.simulated)) if on]
    if result.capped_by_budget:
        notes.append(f"output capped at {result.max_tokens or 0:,} tokens by the budget")
    console.print(
        f"[dim]{result.preset} · {result.model} · {tokens(result.usage.input_tokens)} in / "
        f"{tokens(result.usage.output_tokens)} out tokens · {money(result.cost_usd, simulated=result.simulated)}"
        f" · {wall:.2f} s{' · ' + ', '.join(notes) if notes else ''}[/]")
