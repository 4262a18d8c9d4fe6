"""Live progress of a task run, printed as events arrive (works in a terminal and in a log file)."""

from __future__ import annotations

import time
from typing import Any

from rich.markup import escape

from specrelay.cli.common import console as default_console
from specrelay.cli.common import money, plural, tokens


class Progress:
    """Prints step starts and ends, each model call with tokens and cost, and running totals."""

    def __init__(self, quiet: bool = False, *, label: str | None = None, console: Any = None) -> None:
        self.quiet = quiet
        self.prefix = f"[cyan]{escape(label)}[/] " if label else ""  # which task, when several share the screen
        self.console = console or default_console
        self.t0 = time.perf_counter()
        self.cost = 0.0
        self.cost_unknown = False
        self.tokens = 0
        self.simulated = False

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        # Progress is best effort: a closed pipe (`specrelay run ... | head`) must not fail the task.
        try:
            self._show(event, data)
        except (OSError, SystemExit):
            self.quiet = True

    def _show(self, event: str, data: dict[str, Any]) -> None:
        if event == "call_finished":
            self.tokens += data["input_tokens"] + data["output_tokens"]
            if data["cost_usd"] is None:
                self.cost_unknown = True
            else:
                self.cost += data["cost_usd"]
            self.simulated = self.simulated or data["simulated"]
        if self.quiet:
            return
        elapsed = f"[dim]{time.perf_counter() - self.t0:6.1f}s[/] {self.prefix}".rstrip()
        if event == "step_started":
            who = ", ".join(data["presets"]) or "commands"
            rnd = f" · round {data['round']}" if data["round"] > 1 else ""
            self.console.print(f"{elapsed} [bold]▶ {escape(data['title'])}[/] · {who}{rnd}")
        elif event == "call_finished":
            self.console.print(f"{elapsed}   {data['preset']} ({data['model']}) {tokens(data['input_tokens'])} in / "
                          f"{tokens(data['output_tokens'])} out · {money(data['cost_usd'])} · "
                          f"{data['latency_s']:.1f} s · total {tokens(self.tokens)} tok, {self.total()}")
        elif event == "step_finished":
            detail = data.get("detail") or {}
            extra = ""
            if "verdict" in detail:
                extra = f" · {detail['verdict']} ({plural(detail['findings'], 'finding')})"
            elif "passed" in detail:
                extra = " · passed" if detail["passed"] else " · FAILED"
            self.console.print(f"{elapsed} [green]✓ {escape(data['title'])}[/]{extra} ({data['seconds']:.1f} s)")
        elif event == "note":
            self.console.print(f"{elapsed}   [yellow]{escape(data['text'])}[/]")

    def total(self) -> str:
        text = money(self.cost, simulated=self.simulated)
        return text + (" + unknown" if self.cost_unknown else "")
