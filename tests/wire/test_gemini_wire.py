"""Google's Gemini API over a real socket, through google-genai as pydantic-ai drives it:
``generateContent`` and ``streamGenerateContent?alt=sse``, the cap in ``maxOutputTokens``, thinking in
``thinkingConfig``, usage metadata with cached and thinking tokens priced at genai-prices' rates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_clean_error, write_user_config

from specrelay.config import load_config
from specrelay.ledger import Ledger
from specrelay.llm import Client
from wire import gemini as g
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

ENV = {"GEMINI_API_KEY": KEY}
FLASH = "gemini-2.5-flash"


def gemini(url: str, model: str = FLASH, **fields: object) -> str:
    return preset("gem", "google", model, url, **fields)


@pytest.mark.parametrize("streamed", [False, True])
def test_what_is_sent_and_recorded(streamed: bool) -> None:
    use = g.usage(3000, 40, cached=2048, thoughts=200)
    with serving() as server:
        server.queue(g.reply("Paris is the capital.", FLASH, use=use))
        proc = ask(gemini(server.url, max_tokens=1000, temperature=0.3, reasoning_effort="low"), "--preset", "gem",
                   *([] if streamed else ["--json"]), "capital of France?", env=ENV)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)["text"] if not streamed else proc.stdout  # streamed: printed as it came
    assert 'Paris is the capital.' in answer
    sent = server.last
    assert sent.path == g.path(FLASH, streamed) and sent.headers["x-goog-api-key"] == KEY
    if streamed:
        assert sent.query == {"alt": ["sse"]}
    config = sent.body["generationConfig"]
    assert config["maxOutputTokens"] == 1000 and config["temperature"] == 0.3
    # Gemini 2.5: a thinking budget (the SDK writes its own field names). Thinking counts toward
    # maxOutputTokens: the budget is half the cap, where the effort's own (2,048 for low) is more.
    thinking = config["thinkingConfig"]
    assert (thinking.get("thinkingBudget") or thinking.get("thinking_budget")) == 500
    [row] = ledger_rows()
    # promptTokenCount includes the cached tokens; the thinking tokens are output, billed as such.
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens) == (3000, 240, 2048, 0)
    assert row.cost_usd == pytest.approx(genai_price(FLASH, "google", input_tokens=3000, output_tokens=240,
                                                     cache_read=2048))
    assert row.cost_usd == pytest.approx(unit_price(FLASH, "google", plain=952, cache_read=2048, output=240))
    assert row.outcome == "ok" and row.latency_s > 0 and not row.estimated and row.max_tokens == 1000
    assert_no_key_anywhere(proc)


def test_gemini_3_is_sent_a_thinking_level() -> None:
    with serving() as server:
        server.queue(g.reply("ok", "gemini-3-pro-preview", use=g.usage(10, 1)))
        proc = ask(gemini(server.url, "gemini-3-pro-preview", reasoning_effort="high"), "--preset", "gem", "--json",
                   "hi", env=ENV)
    assert proc.returncode == 0, proc.stderr
    thinking = server.last.body["generationConfig"]["thinkingConfig"]
    assert (thinking.get("thinkingLevel") or thinking.get("thinking_level")) == "HIGH"


@pytest.mark.parametrize("streamed", [False, True])
def test_a_max_tokens_stop_is_truncated(streamed: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    with serving() as server:
        server.queue(g.reply("one two", FLASH, use=g.usage(10, 2), finish="MAX_TOKENS"))
        write_user_config(FAST_RETRY + gemini(server.url, max_tokens=2))
        client = Client(load_config(None), Ledger(tmp_path / "l.db"))
        result = client.call_sync("gem", "sys", "count", phase="ask", on_delta=(lambda _: None) if streamed else None)
    assert result.truncated and result.text == "one two"


def test_429_resource_exhausted_is_retried_then_says_so() -> None:
    with serving() as server:
        server.queue(g.error(429, "Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED"))
        proc = ask(gemini(server.url), "--preset", "gem", "--json", "hi", env=ENV)
        assert len(server.received) == 3
    assert_clean_error(proc, "Resource has been exhausted", "rate-limiting")
    assert [r.outcome for r in ledger_rows()] == ["rate_limit"] * 3
    assert_no_key_anywhere(proc)


def test_a_model_genai_prices_does_not_know_has_an_unknown_cost() -> None:
    with serving() as server:
        server.queue(g.reply("ok", "gemini-wire-9", use=g.usage(10, 1)))
        proc = ask(gemini(server.url, "gemini-wire-9"), "--preset", "gem", "--json", "hi", env=ENV)
    assert proc.returncode == 0, proc.stderr
    [row] = ledger_rows()
    assert row.cost_usd is None and row.input_tokens == 10
