"""Median overhead of one scripted call (delay_s = 0) through the whole seam, ledger write included.

    python bench/seam.py [--calls 2000]

Everything a real call pays apart from the model itself: preset lookup, budget-free retry loop,
concurrency limit, the scripted backend, pricing (price_as, via genai-prices) and the SQLite insert.
Goal: ≤ 2 ms.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["SPECRELAY_HOME"] = str(home)
        (home / "replies.json").write_text(json.dumps(["a reply of a few words\n"] * (args.calls + 50)))
        (home / "config.toml").write_text('[presets.bench]\nprovider = "scripted"\nmodel = "bench"\n'
                                          'replies = "replies.json"\nprice_as = "gemini-3.8-flash"\n')
        from specrelay.config import load_config
        from specrelay.ledger import Ledger
        from specrelay.llm import Client

        client = Client(load_config(None), Ledger(home / "ledger.db"))
        prompt = "x" * 2000

        async def run() -> list[float]:
            for _ in range(50):  # warm-up: imports, price table, SQLite pages
                await client.call("bench", "system", prompt, phase="bench")
            times = []
            for _ in range(args.calls):
                t0 = time.perf_counter()
                await client.call("bench", "system", prompt, phase="bench")
                times.append(time.perf_counter() - t0)
            return times

        times = asyncio.run(run())
        rows = len(client.ledger.calls())
    med = statistics.median(times) * 1000
    p90 = statistics.quantiles(times, n=10)[-1] * 1000
    print("| calls | ledger rows | median ms | p90 ms | goal |")
    print("|---|---|---|---|---|")
    print(f"| {args.calls} | {rows} | {med:.3f} | {p90:.3f} | ≤ 2 ms |")
    return 0 if med <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
