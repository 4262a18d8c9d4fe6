"""Prices: genai-prices' bundled table, with a preset's own ``price`` winning.

A price that cannot be found is ``None`` (unknown), never zero. genai-prices takes about a
quarter of a second to import, so the per-million figures that ``specrelay presets`` shows are
cached in ``$SPECRELAY_HOME/prices-cache.json``, keyed by the genai-prices version.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specrelay import paths
from specrelay.config import Preset
from specrelay.fsutil import atomic_write_text

if TYPE_CHECKING:
    from specrelay.ledger import CallUsage


@dataclass(frozen=True)
class UnitPrice:
    """USD per million tokens (base tier)."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None


@dataclass(frozen=True)
class Usage:
    """Tokens of one call. ``input_tokens`` includes cached input, as providers report it."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


def priced_model(preset: Preset) -> tuple[str, str | None]:
    """The (model id, provider id) whose price applies to this preset's calls (the preset's own model
    when none does)."""
    return preset.price_model() or (preset.model, None)


def cost_of(preset: Preset, usage: Usage) -> float | None:
    """The cost of ``usage`` on ``preset`` in USD, or None when no price is known."""
    if preset.price is not None:
        p = preset.price
        return _by_unit(UnitPrice(p.input, p.output, p.cache_read, p.cache_write), usage)
    priced = preset.price_model()
    return None if priced is None else genai_cost(*priced, usage)


def genai_cost(model: str, provider: str | None, usage: Usage) -> float | None:
    """Price ``usage`` with genai-prices (tiers and cache prices included), or None if unknown."""
    from genai_prices import Usage as GUsage

    price = _model_price(model, provider)
    if price is None:
        return None
    calc = price.calc_price(GUsage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                                   cache_read_tokens=usage.cache_read_tokens or None,
                                   cache_write_tokens=usage.cache_write_tokens or None))
    return float(calc["total_price"])


def _model_price(model: str, provider: str | None) -> Any:
    """genai-prices' price entry for a model, or None."""
    found = _lookup(model, provider)
    return None if found is None else found.model_price


@functools.cache
def _lookup(model: str, provider: str | None) -> Any:
    """genai-prices' entry for a model, looked up once per process (the lookup is the slow part)."""
    from genai_prices import Usage as GUsage
    from genai_prices import calc_price

    try:
        return calc_price(GUsage(input_tokens=0, output_tokens=0), model, provider_id=provider)
    except LookupError:
        return None


def context_window(preset: Preset) -> int | None:
    """How many tokens the preset's model takes per call: the preset's ``context_window``, else
    genai-prices' figure for the model it is priced as, else None (unknown)."""
    if preset.context_window is not None:
        return preset.context_window
    priced = preset.price_model()
    if priced is None:
        return None
    found = _lookup(*priced)
    window = getattr(getattr(found, "model", None), "context_window", None)
    return window if isinstance(window, int) and window > 0 else None


def reprice(rows: Iterable[CallUsage], preset: Preset) -> float | None:
    """The tokens of every successful call in ``rows``, priced as if all had gone to ``preset``.

    The one-model counterfactual. None when ``preset`` has no known price.
    """
    total = 0.0
    for row in rows:
        if row.outcome != "ok":
            continue
        cost = cost_of(preset, Usage(row.input_tokens, row.output_tokens, row.cache_read_tokens,
                                     row.cache_write_tokens))
        if cost is None:
            return None
        total += cost
    return total


def _by_unit(price: UnitPrice, usage: Usage) -> float:
    cache_read = price.cache_read if price.cache_read is not None else price.input
    cache_write = price.cache_write if price.cache_write is not None else price.input
    plain_input = max(usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0)
    return (plain_input * price.input + usage.cache_read_tokens * cache_read
            + usage.cache_write_tokens * cache_write + usage.output_tokens * price.output) / 1e6


def unit_price(preset: Preset) -> UnitPrice | None:
    """Base-tier USD per million tokens for this preset, or None when unknown."""
    if preset.price is not None:
        p = preset.price
        return UnitPrice(p.input, p.output, p.cache_read, p.cache_write)
    priced = preset.price_model()
    return None if priced is None else _cached_unit_price(*priced)


def _cache_file() -> Path:
    return paths.home() / "prices-cache.json"


def _table_stamp() -> str:
    """Identifies the installed price table without importing it (or scanning package metadata)."""
    import importlib.util

    spec = importlib.util.find_spec("genai_prices")
    origin = spec.origin if spec is not None else None
    return str(Path(origin).parent.joinpath("data.py").stat().st_mtime_ns) if origin else "none"


@functools.cache
def _price_cache() -> dict[str, Any]:
    """The on-disk cache of per-million prices, read once per process; stale versions are dropped."""
    stamp = _table_stamp()
    try:
        cache = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    return cache if isinstance(cache, dict) and cache.get("_version") == stamp else {"_version": stamp}


def _cached_unit_price(model: str, provider: str | None) -> UnitPrice | None:
    key = f"{provider or '*'}:{model}"
    cache = _price_cache()
    if key in cache:
        entry = cache[key]
        return UnitPrice(**entry) if entry else None
    found = _lookup_unit_price(model, provider)
    cache[key] = found.__dict__ if found else None
    try:
        atomic_write_text(_cache_file(), json.dumps(cache, indent=0, sort_keys=True))
    except OSError:
        pass  # a read-only home only costs speed
    return found


def _lookup_unit_price(model: str, provider: str | None) -> UnitPrice | None:
    mp = _model_price(model, provider)
    if mp is None:
        return None

    def base(value: Any) -> float | None:
        if value is None:
            return None
        return float(getattr(value, "base", value))

    inp, out = base(mp.input_mtok), base(mp.output_mtok)
    if inp is None or out is None:
        return None
    return UnitPrice(inp, out, base(mp.cache_read_mtok), base(mp.cache_write_mtok))
