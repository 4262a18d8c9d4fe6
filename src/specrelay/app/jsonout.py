"""The JSON every face prints or sends: the same text for ``--json`` on the command line and for a tool's
answer over MCP. Every amount in USD (a ``*_usd`` key) is rounded to the micro-dollar and every duration
in seconds (a ``*_s`` key, ``latency_s``) to the millisecond; a value JSON has no type for (a path, an
enum) is written as its text."""

from __future__ import annotations

import json
from typing import Any


def dumps(data: Any) -> str:
    """``data`` as indented JSON text, rounded (see the module)."""
    return json.dumps(rounded(data), indent=2, default=str)


def plain(data: Any) -> Any:
    """``data`` as plain JSON values (dicts, lists, strings, numbers, booleans, None), rounded."""
    return json.loads(dumps(data))


def rounded(data: Any, key: str = "") -> Any:
    """``data`` with every ``*_usd`` float rounded to 6 places and every ``*_s`` float to 3."""
    if isinstance(data, dict):
        return {k: rounded(v, str(k)) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [rounded(v, key) for v in data]
    if isinstance(data, float) and key.endswith("_usd"):
        return round(data, 6)
    if isinstance(data, float) and key.endswith("_s"):
        return round(data, 3)
    return data
