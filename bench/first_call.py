"""A first call's recorded latency against the wall time of the process that made it.

    python bench/first_call.py [--runs 11] [--delay 0.2]

Each run is a fresh `specrelay ask --json` process against an OpenAI-compatible server on 127.0.0.1
that answers after ``--delay`` seconds. The ledger's ``latency_s`` should be the server's time plus
a few milliseconds of the socket; the rest of the process's wall time is specrelay's start-up
(imports, config, the SDK client), which is not the call's. Prints medians over the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def server(delay: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            time.sleep(delay)
            payload = json.dumps({
                "id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "four"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13}}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--delay", type=float, default=0.2, help="the server's answer time, seconds")
    args = parser.parse_args()
    httpd = server(args.delay)
    port = httpd.server_address[1]
    walls, latencies = [], []
    with tempfile.TemporaryDirectory() as tmp:
        repo, home = Path(tmp) / "repo", Path(tmp) / "home"
        repo.mkdir()
        home.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        (home / "config.toml").write_text(
            f'[presets.loc]\nprovider = "openai-compatible"\nmodel = "m"\n'
            f'base_url = "http://127.0.0.1:{port}/v1"\n')
        env = {**os.environ, "SPECRELAY_HOME": str(home)}
        cmd = [sys.executable, "-m", "specrelay", "ask", "--preset", "loc", "--json", "what is 2+2?"]
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=repo, env=env, capture_output=True, check=True)
            walls.append(time.perf_counter() - t0)
        ledger = next(home.rglob("*.db"), None) or next(repo.rglob("ledger*.db"))
        latencies = [row[0] for row in sqlite3.connect(ledger).execute("SELECT latency_s FROM calls")]
    httpd.shutdown()
    wall, latency = statistics.median(walls), statistics.median(latencies)
    print(f"server answer time        {args.delay:.3f} s")
    print(f"recorded latency_s        {latency:.3f} s (median of {len(latencies)})")
    print(f"process wall time         {wall:.3f} s (median of {len(walls)})")
    print(f"start-up, not the call's  {wall - latency:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
