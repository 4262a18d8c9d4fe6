"""How numbers read on a page: money, tokens, durations (as the CLI writes them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def money(value: float | None, simulated: bool = False) -> str:
    """``$0.0123``, ``$4.56``, or ``unknown``; a star when the cost is simulated."""
    if value is None:
        return "unknown"
    text = f"${value:,.4f}" if abs(value) < 1 else f"${value:,.2f}"
    return text + ("*" if simulated else "")


def task_cost(known: float | None, unknown: int, simulated: bool) -> str:
    """A task's cost: the known part, and how many calls had no price."""
    text = money(known, simulated)
    if unknown and known is not None:
        text += f" + {unknown} unpriced"
    return text


def tokens(n: int | None) -> str:
    """``12,345``."""
    return f"{n or 0:,}"


def duration(seconds: float | None) -> str:
    """``45 s``, ``12 min``, ``3 h 05``, ``2 d 4 h``."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d}"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d}"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def latency(seconds: float | None) -> str:
    """``0.42 s``, ``12.3 s``."""
    if seconds is None:
        return "—"
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def timestamp(iso: str) -> str:
    """An ISO time as ``2026-01-02 13:04`` (UTC)."""
    try:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso


def clock(epoch: float | None) -> str:
    """A moment as ``13:04:05`` (UTC), for a log line."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


def moment(epoch: float | None) -> str:
    """A moment as ``2026-01-02 13:04 UTC``; ``—`` when unknown."""
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def event_line(fields: dict[str, Any]) -> str:
    """What an event of ``events.jsonl`` says, in a line: its step, preset, usage, verdict, status, message."""
    parts = [str(fields[key]) for key in ("title", "step", "preset") if fields.get(key)]
    if "input_tokens" in fields:
        parts.append(f"{tokens(fields.get('input_tokens'))} in / {tokens(fields.get('output_tokens'))} out")
        parts += [money(fields.get("cost_usd")), latency(fields.get("latency_s"))]
    parts += [str(fields[key]) for key in ("verdict", "status", "message", "text", "error") if fields.get(key)]
    return " · ".join(parts)
