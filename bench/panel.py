"""Wall time of a review panel step: three scripted reviewers with 0.2 s, 0.3 s and 0.5 s latency.

    python bench/panel.py [--runs 15]

The reviewers run concurrently, so the panel should take about as long as its slowest reviewer:
goal ≤ slowest + 50 ms (serial would be ≥ 1.0 s). Measured through the engine's panel runner with
the real client (scripted backend, ledger writes, consolidation, report files).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

DELAYS = {"gpt-reviewer": 0.2, "gemini-reviewer": 0.3, "sonnet-reviewer": 0.5}
REVIEW = {"verdict": "approve", "summary": "ok", "findings": [
    {"file": "calc.py", "line": 3, "severity": "minor", "category": "docs", "title": "sub has no docstring"}],
    "scores": {"semantic_resolution": 4, "contract_adherence": 4, "regression_safety": 4, "scope_discipline": 5}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["SPECRELAY_HOME"] = str(home)
        lines = []
        for name, delay in DELAYS.items():
            (home / f"{name}.json").write_text(json.dumps([json.dumps(REVIEW)] * (args.runs + 2)))
            lines += [f"[presets.{name}]", 'provider = "scripted"', f'model = "{name}"', f'replies = "{name}.json"',
                      f"delay_s = {delay}", 'price_as = "gpt-5.4"', ""]
        (home / "config.toml").write_text("\n".join(lines))
        from specrelay.config import load_config
        from specrelay.engine.context import Context
        from specrelay.engine.review.in_task import review_system
        from specrelay.engine.review.panel import PanelRequest, run_panel
        from specrelay.ledger import Ledger
        from specrelay.llm import Client

        client = Client(load_config(None), Ledger(home / "ledger.db"), run_id="bench")
        ctx = Context()
        ctx.add("diff", "Diff", "--- a/calc.py\n+++ b/calc.py\n@@\n+def sub(a, b):\n+    return a - b\n")

        async def call(preset: str, system: str, context: Context, schema: object = None) -> object:
            return await client.call_json(preset, system, context.render(), schema, phase="review")  # type: ignore[arg-type]

        request = PanelRequest(presets=list(DELAYS), system=review_system(), context=ctx)
        times = []
        for i in range(args.runs + 1):
            folder = home / f"run{i}"
            folder.mkdir()
            t0 = time.perf_counter()
            asyncio.run(run_panel(request, call, folder=folder))
            if i:
                times.append(time.perf_counter() - t0)
    slowest = max(DELAYS.values())
    med = statistics.median(times)
    print("| reviewers (delays s) | runs | median wall s | slowest + 50 ms | serial would be |")
    print("|---|---|---|---|---|")
    print(f"| 3 (0.2, 0.3, 0.5) | {len(times)} | {med:.3f} | {slowest + 0.05:.3f} | ≥ {sum(DELAYS.values()):.1f} |")
    return 0 if med <= slowest + 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
