"""The model presets a repository (or the user, outside one) can use: where each comes from, whether
its key is set (never the key), and its price."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from specrelay.config import load_config
from specrelay.llm.pricing import unit_price


@dataclass(frozen=True)
class PresetInfo:
    """One preset, as ``presets`` lists it; prices in USD per million tokens (None: unknown)."""

    name: str
    provider: str
    model: str
    base_url: str | None
    source: str
    key_env: list[str]
    #: None when the provider needs no key.
    key_present: bool | None
    input_per_mtok: float | None
    output_per_mtok: float | None
    simulated_price: bool
    fallbacks: list[str]
    max_concurrency: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def presets(root: Path | None) -> list[PresetInfo]:
    """Every preset, by name."""
    config = load_config(root)
    out = []
    for preset in sorted(config.presets.values(), key=lambda p: p.name):
        price = unit_price(preset)
        out.append(PresetInfo(
            name=preset.name, provider=preset.provider, model=preset.model, base_url=preset.endpoint,
            source=preset.source, key_env=list(preset.key_envs), key_present=preset.key_present,
            input_per_mtok=price.input if price else None, output_per_mtok=price.output if price else None,
            simulated_price=preset.stand_in and price is not None,
            fallbacks=preset.fallbacks, max_concurrency=preset.max_concurrency))
    return out
