"""OpenAI's chat completions API (what the ``openai`` presets use: pydantic-ai's OpenAIChatModel) over
a real socket, through the openai SDK: the cap in ``max_completion_tokens``, ``reasoning_effort``,
usage with cached and reasoning tokens priced at genai-prices' cache rate, 429, a length stop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_user_config

from specrelay.config import load_config
from specrelay.ledger import Ledger
from specrelay.llm import Client
from wire import openai_chat as oc
from wire.common import (
    FAST_RETRY,
    KEY,
    ask,
    assert_no_key_anywhere,
    genai_price,
    ledger_rows,
    preset,
    unit_price,
)
from wire.server import serving

ENV = {"OPENAI_API_KEY": KEY}
REASONING = "gpt-5-mini"
PLAIN = "gpt-4.1-mini"


def gpt(url: str, model: str = REASONING, **fields: object) -> str:
    return preset("gpt", "openai", model, f"{url}/v1", **fields)


@pytest.mark.parametrize("streamed", [False, True])
def test_what_is_sent_and_recorded(streamed: bool) -> None:
    use = oc.usage(2000, 150, cached=1536, reasoning=100)
    with serving() as server:
        server.queue(oc.reply("Paris.", REASONING, use=use))
        proc = ask(gpt(server.url, max_tokens=300, reasoning_effort="low"), "--preset", "gpt",
                   *([] if streamed else ["--json"]), "capital of France?", env=ENV)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)["text"] if not streamed else proc.stdout  # streamed: printed as it came
    assert 'Paris.' in answer
    sent = server.last
    assert sent.path == oc.PATH and sent.headers["authorization"] == f"Bearer {KEY}"
    body = sent.body
    assert (body["model"], body["stream"], body["reasoning_effort"]) == (REASONING, streamed, "low")
    assert body["max_completion_tokens"] == 300 and "max_tokens" not in body  # OpenAI's field for the cap
    if streamed:
        assert body["stream_options"] == {"include_usage": True}
    [row] = ledger_rows()
    # prompt_tokens includes the cached ones, completion_tokens the reasoning ones (billed as output).
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens) == (2000, 150, 1536, 0)
    assert row.cost_usd == pytest.approx(genai_price(REASONING, "openai", input_tokens=2000, output_tokens=150,
                                                     cache_read=1536))
    assert row.cost_usd == pytest.approx(unit_price(REASONING, "openai", plain=464, cache_read=1536, output=150))
    assert row.outcome == "ok" and row.latency_s > 0 and not row.estimated
    assert_no_key_anywhere(proc)


def test_a_model_that_does_not_reason_gets_its_temperature() -> None:
    with serving() as server:
        server.queue(oc.reply("ok", PLAIN, use=oc.usage(10, 1, cached=0, reasoning=0)))
        proc = ask(gpt(server.url, PLAIN, temperature=0.4, max_tokens=50), "--preset", "gpt", "--json", "hi",
                   env=ENV)
    assert proc.returncode == 0, proc.stderr
    body = server.last.body
    assert body["temperature"] == 0.4 and body["max_completion_tokens"] == 50 and "reasoning_effort" not in body


def test_a_reasoning_model_is_sent_no_temperature() -> None:
    # OpenAI refuses sampling parameters while a model reasons; a temperature set on the preset is not sent.
    with serving() as server:
        server.queue(oc.reply("ok", REASONING, use=oc.usage(10, 1)))
        proc = ask(gpt(server.url, temperature=0.4, reasoning_effort="high"), "--preset", "gpt", "--json", "hi",
                   env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert "temperature" not in server.last.body and server.last.body["reasoning_effort"] == "high"


def test_429_then_success_and_a_length_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with serving() as server:
        server.queue(oc.error(429, "Rate limit reached for requests", "requests", retry_after="0"),
                     oc.reply("one two", REASONING, use=oc.usage(10, 2), finish="length"))
        write_user_config(FAST_RETRY + gpt(server.url, max_tokens=2))
        client = Client(load_config(None), Ledger(tmp_path / "l.db"))
        result = client.call_sync("gpt", "sys", "count", phase="ask", on_delta=lambda _: None)
    assert result.attempts == 2 and result.truncated and result.text == "one two"
    rows = client.ledger.calls()
    assert [r.outcome for r in rows] == ["rate_limit", "ok"] and "Rate limit reached" in (rows[0].error or "")
    assert all(KEY not in (r.error or "") for r in rows)


def test_a_model_genai_prices_does_not_know_has_an_unknown_cost() -> None:
    with serving() as server:
        server.queue(oc.reply("ok", "gpt-wire-9", use=oc.usage(10, 1)))
        proc = ask(gpt(server.url, "gpt-wire-9"), "--preset", "gpt", "--json", "hi", env=ENV)
    assert proc.returncode == 0, proc.stderr
    [row] = ledger_rows()
    assert row.cost_usd is None and (row.input_tokens, row.output_tokens) == (10, 1)
