"""specrelay's own overhead per turn of its agent loop, with a zero-latency scripted model.

    python bench/agent.py [--loops 20] [--turns 20]

Each loop is ``--turns`` turns of a scripted builder (``delay_s = 0``) calling ``read_file`` on a small
file, through the whole client (replay, fallback, window, retry, record, budget, limits, the scripted
backend, pricing via genai-prices, the SQLite insert with the turn's tool calls and request digest) and the
loop itself (messages, the request's digest, the transcript line). The tool's own work (reading the file)
is timed apart and subtracted: what remains is specrelay's overhead per turn. Goal: ≤ 2 ms plus the tool's
own work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: Plain calls (one system and one user message, no tools, no key) timed in the same run, for reference:
#: what the machine gives the seam alone at that moment (a loaded machine runs everything slower).
REFERENCE_CALLS = 200


def builtin_overhead(loops: int, turns: int) -> tuple[list[float], list[float], list[float], list[float]]:
    """Per-turn overhead (wall and CPU) and tool time, in seconds, of ``loops`` loops of ``turns`` turns
    (the tool time of a turn is that of the tools the turn before it called), and the CPU time of plain
    calls made in the same run."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["SPECRELAY_HOME"] = str(home / "home")
        (home / "home").mkdir()
        repo = home / "repo"
        repo.mkdir()
        (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n" * 20)
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
        read = {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]}
        done = {"tool_calls": [{"name": "finish", "arguments": {"summary": "done"}}]}
        script = ([read] * (turns - 1) + [done]) * (loops + 2) + ["a plain reply"] * (REFERENCE_CALLS + 10)
        (home / "home" / "replies.json").write_text(json.dumps(script))
        (home / "home" / "config.toml").write_text(
            '[presets.bench]\nprovider = "scripted"\nmodel = "bench"\nreplies = "replies.json"\n'
            'price_as = "gemini-3.8-flash"\nmode = "agent"\n')
        from specrelay.config import load_config
        from specrelay.engine.agent import Toolbox, Transcript, run_loop
        from specrelay.ledger import Ledger
        from specrelay.llm import Client

        client = Client(load_config(None), Ledger(home / "ledger.db"))
        tool_time: list[float] = []

        class TimedToolbox(Toolbox):
            async def run(self, call: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return await super().run(call)
                finally:
                    tool_time.append(time.perf_counter() - t0)

        marks: list[tuple[float, float, int]] = []  # (wall clock, CPU clock, tool calls timed so far) per turn

        def mark(_: Any) -> None:
            marks.append((time.perf_counter(), time.process_time(), len(tool_time)))

        async def one(n: int) -> None:
            box = TimedToolbox(repo, writable=True)
            marks.append((time.perf_counter(), time.process_time(), len(tool_time)))
            await run_loop(client, "bench", "build", "x" * 2000, box, max_turns=turns, key=f"l{n}",
                           phase="implement", step="bench", transcript=Transcript(home / f"t{n}.jsonl"),
                           on_turn=mark)

        async def run() -> tuple[list[float], list[float], list[float], list[float]]:
            await one(-1)  # warm-up: imports, the price table, SQLite pages
            walls, cpus, tools, plain = [], [], [], []
            for n in range(loops):
                marks.clear()
                tool_time.clear()
                await one(n)
                # A turn: from the end of the last one (its tools run since) to the end of this call.
                for (w0, c0, k0), (w1, c1, k1) in zip(marks, marks[1:], strict=False):
                    spent = sum(tool_time[k0:k1])
                    walls.append(w1 - w0 - spent)
                    cpus.append(c1 - c0 - spent)
                    tools.append(spent)
            for _ in range(REFERENCE_CALLS):
                c0 = time.process_time()
                await client.call("bench", "build", "x" * 2000, phase="bench")
                plain.append(time.process_time() - c0)
            return walls, cpus, tools, plain

        return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--loops", type=int, default=20)
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()
    walls, cpus, tools, plain = builtin_overhead(args.loops, args.turns)
    med = statistics.median(walls) * 1000
    p90 = statistics.quantiles(walls, n=10)[-1] * 1000
    cpu = statistics.median(cpus) * 1000
    print("| loops × turns | overhead per turn: median ms | p90 ms | CPU median ms | tool's own work, median ms "
          "| a plain call's CPU, same run, median ms | goal |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.loops} × {args.turns} | {med:.3f} | {p90:.3f} | {cpu:.3f} | "
          f"{statistics.median(tools) * 1000:.3f} | {statistics.median(plain) * 1000:.3f} | ≤ 2 ms + the tool |")
    return 0 if med <= 2.0 else 1

if __name__ == "__main__":
    sys.exit(main())
