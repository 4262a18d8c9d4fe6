"""``specrelay presets``: every preset, where it came from, whether its key is set, and its price."""

from __future__ import annotations

import typer

from specrelay.cli.common import print_json, print_table, repo_root_or_none
from specrelay.cli.root import app


def _price(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g}"


@app.command("presets")
def presets_command(json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the model presets: provider, model, source, key present, price per million tokens."""
    from specrelay.app.presets import presets

    rows = [p.to_json() for p in presets(repo_root_or_none())]
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
