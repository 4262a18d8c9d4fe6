"""A call's latency is the call's: the first call of a process does not count specrelay's own start-up
(importing pydantic-ai and the SDK, building the client)."""

from __future__ import annotations

import subprocess
import sys

from conftest import run_cli, write_user_config

from wire import openai_chat as oc
from wire.common import FAST_RETRY, ledger_rows, preset
from wire.server import serving

IMPORTS = ("import time; t = time.perf_counter(); import pydantic_ai.direct, pydantic_ai.models.openai, "
           "pydantic_ai.providers.openai, openai; print(time.perf_counter() - t)")


def test_the_first_call_of_a_process_does_not_time_the_imports() -> None:
    with serving() as server:
        server.queue(oc.reply("four", "tiny", use=oc.usage(12, 1)))
        write_user_config(FAST_RETRY + preset("loc", "openai-compatible", "tiny", f"{server.url}/v1"))
        proc = run_cli("ask", "--preset", "loc", "--json", "2+2?", subprocess=True)  # a fresh process
    assert proc.returncode == 0, proc.stderr
    imports_s = float(subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True,
                                     check=True).stdout)
    [row] = ledger_rows()
    # A loopback answer takes milliseconds; the imports alone take a good part of a second.
    assert 0 < row.latency_s < imports_s / 3, (row.latency_s, imports_s)
