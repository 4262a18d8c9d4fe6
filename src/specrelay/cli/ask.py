"""``specrelay ask``: one prompt through one preset, streamed, then what it cost."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from specrelay.cli import app
from specrelay.cli.common import console, money, open_ledger, print_json, repo_root_or_none, tokens
from specrelay.errors import UserError

ASK_SYSTEM = (
    "You are a senior software engineer answering a quick question from a colleague. "
    "Answer directly and concisely; use code blocks for code. If files are attached, ground your answer in them."
)


def _read_files(files: list[Path]) -> str:
    parts = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UserError(f"--file {path}: no such file.") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--file {path}: cannot read it as UTF-8 text ({exc}).") from None
        parts.append(f"File: {path}\n```\n{text}\n```")
    return "\n\n".join(parts)


@app.command("ask")
def ask_command(
    prompt: str = typer.Argument(..., help="The question or instruction."),
    preset: str | None = typer.Option(None, "--preset", "-p", help="Preset to use (default: [routes] ask)."),
    file: list[Path] = typer.Option([], "--file", "-f", help="Attach a file (repeatable)."),
    json_out: bool = typer.Option(False, "--json", help="Print the answer and its cost as JSON."),
) -> None:
    """Send one prompt through a preset; stream the answer, then tokens, cost and latency."""
    from specrelay.config import load_config
    from specrelay.llm import Client

    root = repo_root_or_none()
    config = load_config(root)
    name = preset or config.routes.ask
    if not name:
        raise UserError("no preset given: pass --preset NAME, or set [routes] ask = \"NAME\" in your config.")
    user = prompt if not file else f"{prompt}\n\n{_read_files(file)}"
    ledger = open_ledger(root)
    client = Client(config, ledger)

    def stream(chunk: str) -> None:
        sys.stdout.write(chunk)
        sys.stdout.flush()

    t0 = time.perf_counter()
    result = client.call_sync(name, ASK_SYSTEM, user, phase="ask", on_delta=None if json_out else stream)
    wall = time.perf_counter() - t0
    if json_out:
        print_json({
            "text": result.text, "preset": result.preset, "provider": result.provider, "model": result.model,
            "input_tokens": result.usage.input_tokens, "output_tokens": result.usage.output_tokens,
            "cache_read_tokens": result.usage.cache_read_tokens, "cost_usd": result.cost_usd,
            "latency_s": round(result.latency_s, 3), "estimated": result.estimated,
            "simulated": result.simulated, "attempts": result.attempts,
        })
        return
    if not result.text.endswith("\n"):
        sys.stdout.write("\n")
    notes = [n for n, on in (("estimated tokens", result.estimated), ("scripted", result.simulated)) if on]
    console.print(
        f"[dim]{result.preset} · {result.model} · {tokens(result.usage.input_tokens)} in / "
        f"{tokens(result.usage.output_tokens)} out tokens · {money(result.cost_usd, simulated=result.simulated)}"
        f" · {wall:.2f} s{' · ' + ', '.join(notes) if notes else ''}[/]")
