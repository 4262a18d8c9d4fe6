"""Live progress of a task run, printed as events arrive (works in a terminal and in a log file).

Three ways to show it (``--progress``): ``text`` lines for people, ``json`` lines on stderr for
programs, or ``none``. While a model call runs, :class:`Pulse` gives signs of life: in a terminal a
live line per call in flight (elapsed time, tokens streamed so far), elsewhere one line every few
seconds, or a ``call_progress`` JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape

from specrelay.app.events import (
    CallDelta,
    CallFailed,
    CallFinished,
    CallStarted,
    Event,
    Note,
    ReviewerFailed,
    RunStarted,
    StepFinished,
    StepStarted,
    TaskStopped,
)
from specrelay.app.views import TaskStatus
from specrelay.cli.common import console as default_console
from specrelay.cli.common import money, plural, tokens

MODES = ("text", "json", "none")
#: Seconds between two signs of life of a call still running, when no live line can be drawn.
DEFAULT_INTERVAL_S = 10.0


def pulse_interval() -> float:
    """``$SPECRELAY_PROGRESS_INTERVAL`` seconds, else the default (a bad value is ignored, not fatal)."""
    try:
        value = float(os.environ.get("SPECRELAY_PROGRESS_INTERVAL", ""))
    except ValueError:
        return DEFAULT_INTERVAL_S
    return value if value > 0 else DEFAULT_INTERVAL_S


@dataclass
class _Call:
    """A model call in flight."""

    preset: str
    step: str
    started: float = field(default_factory=time.monotonic)
    chars: int = 0
    last_beat: float = field(default_factory=time.monotonic)

    def elapsed(self, now: float) -> float:
        return now - self.started

    @property
    def streamed_tokens(self) -> int:
        return (self.chars + 3) // 4  # the same estimate as everywhere else: 4 characters a token


class Progress:
    """Prints step starts and ends, each model call with tokens and cost, and the task's running totals.

    The totals start from what the task had spent when the run started (a resume goes on from the
    earlier runs, as the summary counts the whole task). Calls reused from the ledger on a resume are
    shown as reused and add nothing: they were counted when they were made.
    """

    def __init__(self, quiet: bool = False, *, label: str | None = None, console: Any = None,
                 mode: str = "text") -> None:
        self.mode = "none" if quiet and mode == "text" else mode
        self.label = label
        self.prefix = f"[cyan]{escape(label)}[/] " if label else ""  # which task, when several share the screen
        self.console = console or default_console
        self.t0 = time.perf_counter()
        self.cost = 0.0
        self.cost_unknown = False
        self.priced = 0  # calls with a known cost
        self.tokens = 0
        self.step: str | None = None  # the step running now
        self.simulated = False
        self.calls: dict[int, _Call] = {}
        self._calls_lock = threading.Lock()
        self._next_call = 0

    @property
    def quiet(self) -> bool:
        return self.mode == "none"

    def __call__(self, event: Event) -> None:
        # Progress is best effort: a closed pipe (`specrelay run ... | head`) must not fail the task.
        try:
            self._track(event)
            if self.mode == "json":
                if not isinstance(event, CallDelta):  # one line per chunk would drown the rest
                    self._json(event.event, event.fields())
            elif self.mode == "text":
                self._show(event)
        except (OSError, SystemExit, ValueError):  # ValueError: a file closed under us
            self.mode = "none"

    # -- state -------------------------------------------------------------------------------

    def _track(self, event: Event) -> None:
        with self._calls_lock:
            if isinstance(event, CallStarted):
                self._next_call += 1
                self.calls[self._next_call] = _Call(event.preset, event.step)
            elif isinstance(event, CallDelta) and self.calls:
                self.calls[max(self.calls)].chars += event.chars
            elif isinstance(event, (CallFinished, CallFailed)) and self.calls:
                self._end_call(event.preset)
        if isinstance(event, RunStarted):
            self.tokens, self.cost = event.tokens, event.cost_usd or 0.0
            self.priced = int(event.cost_usd is not None)
            self.cost_unknown, self.simulated = event.unknown_cost_calls > 0, event.simulated
        if isinstance(event, CallFinished) and not event.reused:
            self.tokens += event.input_tokens + event.output_tokens
            if event.cost_usd is None:
                self.cost_unknown = True
            else:
                self.cost += event.cost_usd
                self.priced += 1
            self.simulated = self.simulated or event.simulated

    def _end_call(self, preset: str | None) -> None:
        # A fallback may answer for another preset; the oldest call of that preset, else the oldest.
        ids = [n for n, c in self.calls.items() if c.preset == preset] or sorted(self.calls)
        del self.calls[min(ids)]

    def in_flight(self) -> list[_Call]:
        with self._calls_lock:
            return list(self.calls.values())

    # -- text --------------------------------------------------------------------------------

    def _print(self, text: str) -> None:
        self.console.print(text, soft_wrap=True)  # a progress line is never folded: logs stay greppable

    def _stamp(self) -> str:
        return f"[dim]{time.perf_counter() - self.t0:6.1f}s[/] {self.prefix}".rstrip()

    def _show(self, event: Event) -> None:
        elapsed = self._stamp()
        if isinstance(event, StepStarted):
            self.step = event.title
            who = ", ".join(event.presets) or "commands"
            rnd = f" · round {event.round}" if event.round > 1 else ""
            self._print(f"{elapsed} [bold]▶ {escape(event.title)}[/] · {who}{rnd}")
        elif isinstance(event, CallFinished):
            self._print(f"{elapsed}   {self._call_line(event)}")
        elif isinstance(event, StepFinished):
            self.step = None
            detail = event.detail
            extra = ""
            if "state" in detail:  # a verify step
                self._verified(elapsed, event, detail)
                return
            mark = "[green]✓"
            if "verdict" in detail:
                extra = f" · {detail['verdict']} ({plural(detail['findings'], 'finding')})"
                if detail["verdict"] != "approve":  # the step ran, but what it found is not a pass
                    mark = "[yellow]↻"
            self._print(f"{elapsed} {mark} {escape(event.title)}[/]{extra} ({event.seconds:.1f} s)")
        elif isinstance(event, Note):
            self._print(f"{elapsed}   [yellow]{escape(event.text)}[/]")
        elif isinstance(event, ReviewerFailed) and event.of > 1:  # a lone reviewer's failure is the step's
            self._print(f"{elapsed}   [red]✗ {escape(event.preset)} dropped from the panel:[/] {escape(event.error)}")
        elif isinstance(event, TaskStopped) and self.step:  # the step cut off: say so, the reason follows
            mark = "⏸" if event.status == TaskStatus.PAUSED else "✗"
            self._print(f"{elapsed} [red]{mark} {escape(self.step)}[/] · {event.status}")

    def _call_line(self, call: CallFinished) -> str:
        head = f"{escape(call.preset)} ({escape(call.model)}) {tokens(call.input_tokens)} in / " \
               f"{tokens(call.output_tokens)} out{' (estimated)' if call.estimated else ''} · "
        if call.reused:
            return (head + f"reused from the ledger (paid before: {money(call.cost_usd)}, not added) · "
                    f"task so far {tokens(self.tokens)} tok, {self.total()}")
        return (head + f"{money(call.cost_usd)} · {call.latency_s:.1f} s · "
                f"task so far {tokens(self.tokens)} tok, {self.total()}")

    def beat(self, call: _Call, now: float) -> None:
        """One sign of life of a call still running, where no live line can be drawn."""
        try:
            if self.mode == "json":
                self._json("call_progress", {"step": call.step, "preset": call.preset,
                                             "elapsed_s": round(call.elapsed(now), 1),
                                             "streamed_tokens": call.streamed_tokens})
            elif self.mode == "text":
                streamed = f" · ~{tokens(call.streamed_tokens)} tokens so far" if call.chars else ""
                self._print(f"{self._stamp()}   … {escape(call.preset)} still answering · "
                            f"{call.elapsed(now):.0f} s{streamed}")
        except (OSError, SystemExit, ValueError):
            self.mode = "none"

    def _verified(self, elapsed: str, step: StepFinished, detail: dict[str, Any]) -> None:
        """A verify step's end: ✓ passed, ✗ FAILED with each failing command, or none configured."""
        from specrelay.cli.summary import VERIFY_MARK, VERIFY_STYLE, command_outcome

        state = detail["state"]
        colour, mark = VERIFY_STYLE[state], VERIFY_MARK[state]
        words = {"passed": "passed", "failed": "FAILED", "not_configured": "no verification configured"}[state]
        self._print(f"{elapsed} [{colour}]{mark} {escape(step.title)}[/] · {words} ({step.seconds:.1f} s)")
        for c in detail.get("commands", []) if state == "failed" else []:
            if c["exit_code"] != 0 or c["timed_out"]:
                self._print(f"{elapsed}   [red]✗[/] {escape(command_outcome(c))}")

    def total(self) -> str:
        """What the task has spent so far, this run and those before it."""
        if self.cost_unknown and not self.priced:
            return "unknown"
        text = money(self.cost, simulated=self.simulated)
        return text + (" + unknown" if self.cost_unknown else "")

    # -- json --------------------------------------------------------------------------------

    def _json(self, event: str, data: dict[str, Any]) -> None:
        fields = {k: round(v, 6 if k == "cost_usd" else 3) if isinstance(v, float) else v for k, v in data.items()}
        line = {"event": event, "task": self.label, "t": round(time.perf_counter() - self.t0, 3), **fields}
        sys.stderr.write(json.dumps(line, default=str) + "\n")
        sys.stderr.flush()


class Pulse:
    """Signs of life for the calls in flight of every :class:`Progress` it watches.

    On a terminal (text mode): one live line per call, redrawn four times a second, removed when the
    call ends. Otherwise (a pipe, a log file, JSON): a line per call every ``interval`` seconds.
    """

    def __init__(self, interval: float | None = None) -> None:
        self.interval = interval or pulse_interval()
        self.watched: list[Progress] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None
        self.live: Any = None

    def watch(self, progress: Progress) -> Progress:
        with self.lock:
            self.watched.append(progress)
        return progress

    def _live_ones(self) -> list[Progress]:
        return [p for p in self.watched if p.mode == "text" and p.console.is_terminal]

    def __rich__(self) -> Any:
        from rich.text import Text

        now = time.monotonic()
        lines = []
        with self.lock:
            for p in self._live_ones():
                for call in p.in_flight():
                    who = f"{p.label} " if p.label else ""
                    streamed = f" · ~{call.streamed_tokens:,} tokens streamed" if call.chars else ""
                    lines.append(f"  ⋯ {who}{call.preset} · {call.elapsed(now):.1f} s{streamed}")
        return Text("\n".join(lines), style="dim")

    def start(self) -> None:
        if default_console.is_terminal:
            from rich.live import Live

            self.live = Live(self, console=default_console, transient=True, refresh_per_second=4,
                             redirect_stdout=False, redirect_stderr=False)
            self.live.start()
        self.thread = threading.Thread(target=self._beats, name="progress-pulse", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=2)
        if self.live is not None:
            self.live.stop()

    def _beats(self) -> None:
        tick = min(0.5, self.interval / 4)
        while not self.stopped.wait(tick):
            now = time.monotonic()
            with self.lock:
                watched = list(self.watched)
            for p in watched:
                if p.mode == "text" and p.console.is_terminal:
                    continue  # the live line shows it
                for call in p.in_flight():
                    if now - call.last_beat >= self.interval:
                        call.last_beat = now
                        p.beat(call, now)


@contextmanager
def pulse() -> Iterator[Pulse]:
    """A :class:`Pulse` running for the duration of the block."""
    beating = Pulse()
    beating.start()
    try:
        yield beating
    finally:
        beating.stop()
