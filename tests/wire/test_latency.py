"""A call's latency is the call's: what a backend does before the request goes out (pydantic-ai's
imports, building the SDK client: a good part of a second in a fresh process) is start-up, not the
model's time."""

from __future__ import annotations

import time

import pytest
from conftest import run_cli, write_user_config

from specrelay.llm.backends.pydanticai import PydanticAIBackend
from wire import openai_chat as oc
from wire.common import FAST_RETRY, ledger_rows, preset
from wire.server import serving

#: How long the stand-in for a slow start-up takes: far above what a loopback answer takes, even on a
#: loaded machine, so the test does not hang on the machine's speed.
PREPARE_S = 3.0


def test_the_time_before_the_request_goes_out_is_not_the_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    real_prepare = PydanticAIBackend.prepare

    def slow_prepare(self: PydanticAIBackend, preset: object) -> None:
        real_prepare(self, preset)  # type: ignore[arg-type]
        time.sleep(PREPARE_S)  # as if the SDK took that long to import and build

    monkeypatch.setattr(PydanticAIBackend, "prepare", slow_prepare)
    with serving() as server:
        server.queue(oc.reply("four", "tiny", use=oc.usage(12, 1)))
        write_user_config(FAST_RETRY + preset("loc", "openai-compatible", "tiny", f"{server.url}/v1"))
        t0 = time.perf_counter()
        proc = run_cli("ask", "--preset", "loc", "--json", "2+2?")
        wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    [row] = ledger_rows()
    assert wall >= PREPARE_S  # the start-up did run, inside the command
    assert 0 < row.latency_s < PREPARE_S / 2, (row.latency_s, wall)
