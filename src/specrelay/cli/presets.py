"""``specrelay presets``: every preset, where it came from, whether its key is set, and its price."""

from __future__ import annotations

from typing import Any

import typer

from specrelay.cli.common import print_json, print_table, repo_root_or_none
from specrelay.cli.root import app


def _price(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g}"


@app.command("presets")
def presets_command(json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the model presets: provider, model, source, key present, price per million tokens."""
    from specrelay.config import load_config
    from specrelay.llm.pricing import unit_price

    config = load_config(repo_root_or_none())
    rows: list[dict[str, Any]] = []
    for preset in sorted(config.presets.values(), key=lambda p: p.name):
        price = unit_price(preset)
        key = preset.key_present
        rows.append({
            "name": preset.name, "provider": preset.provider, "model": preset.model,
            "base_url": preset.endpoint, "source": preset.source,
            "key_env": list(preset.key_envs), "key_present": key,
            "input_per_mtok": price.input if price else None,
            "output_per_mtok": price.output if price else None,
            "simulated_price": preset.stand_in and price is not None,
            "fallbacks": preset.fallbacks, "max_concurrency": preset.max_concurrency,
        })
    if json_out:
        print_json(rows)
        return
    cells = []
    for r in rows:
        key_cell = "not needed" if r["key_present"] is None else (
            "yes" if r["key_present"] else f"no: ${r['key_env'][0]}")
        cells.append([r["name"], r["provider"], r["model"], r["source"], key_cell,
                      _price(r["input_per_mtok"]), _price(r["output_per_mtok"])])
    print_table(["name", "provider", "model", "source", "key", "input", "output"], cells,
                right=("input", "output"), title="Presets (USD per million tokens)")
