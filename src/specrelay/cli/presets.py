"""``specrelay presets``: every preset, where it came from, whether its key is set, and its price;
``--check``: whether the servers of the local and OpenAI-compatible presets answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from specrelay.cli.common import print_json, print_table, repo_root_or_none
from specrelay.cli.root import app

if TYPE_CHECKING:
    from specrelay.app.presets import ServerCheck


def _price(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g}"


@app.command("presets")
def presets_command(
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    check: bool = typer.Option(False, "--check", help="Ask the server of each openai-compatible or local "
                               "preset for its models; exit 1 when one does not answer or lacks the model."),
    timeout: float = typer.Option(2.0, "--timeout", help="Seconds each server has to answer --check "
                                  "(0.1 to 600)."),
) -> None:
    """List the model presets: provider, model, source, key present, price per million tokens; --check asks
    the local and OpenAI-compatible servers whether they answer."""
    if check:
        _check(json_out, timeout)
        return
    from specrelay.app.presets import presets, routes
    from specrelay.config import load_config

    root = repo_root_or_none()
    config = load_config(root)  # once, for the presets and the routes alike
    rows = [p.to_json() for p in presets(root, config)]
    if json_out:
        print_json(rows)
        return
    cells = []
    for r in rows:
        key_cell = "not needed" if r["key_present"] is None else (
            "yes" if r["key_present"] else f"no: ${r['key_env'][0]}")
        if r["binary"] is not None:  # an agent CLI: whether it is installed says more than its key
            b = r["binary"]
            key_cell = (f"{b['command']} {b['version'] or '(version unknown)'}" if b["found"]
                        else f"not installed: {b['install']}")
        cells.append([r["name"], r["provider"], r["model"], r["source"], key_cell,
                      _price(r["input_per_mtok"]), _price(r["output_per_mtok"])])
    print_table(["name", "provider", "model", "source", "key", "input", "output"], cells,
                right=("input", "output"), title="Presets (USD per million tokens)")
    print_table(["route", "preset", "set in"],
                [[r.name, r.preset or "(none: set [routes] " + r.name + ")", r.set_in or "default"]
                 for r in routes(root, config)], title="Routes (a workflow step's agent: @ROUTE)")


def _check(json_out: bool, timeout: float) -> None:
    from specrelay.app.presets import check_servers

    checks = check_servers(repo_root_or_none(), timeout=timeout)
    if json_out:
        print_json([c.to_json() for c in checks])
    elif not checks:
        print("No openai-compatible or local presets to check.")
    else:
        rows = [[c.name, c.base_url, _server_cell(c), _model_cell(c)] for c in checks]
        print_table(["name", "base_url", "server", "model"], rows, title="Servers")
    if not all(c.ok for c in checks):
        raise SystemExit(1)


def _server_cell(c: ServerCheck) -> str:
    if c.state == "ok":
        return f"ok ({c.latency_s * 1000:.0f} ms)"
    if c.state == "http":
        return f"HTTP {c.http_status}: {c.detail}" if c.detail else f"HTTP {c.http_status}"
    return f"{c.state}: {c.detail}" if c.detail else c.state


def _model_cell(c: ServerCheck) -> str:
    if c.served is None:
        return "-"
    if c.model_served:
        return f"{c.model}: served"
    listed = ", ".join(c.served[:5]) + (", ..." if len(c.served) > 5 else "")
    return f"{c.model}: not served (it serves {listed or 'nothing'})"
