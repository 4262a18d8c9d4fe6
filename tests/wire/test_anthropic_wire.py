"""Anthropic's Messages API over a real socket, through the anthropic SDK as pydantic-ai drives it:
what is sent (model, max_tokens, temperature, thinking), what is recorded (tokens with the cache's
apart, the cost at genai-prices' cache rates), 429 with retry-after, 529 overloaded, a max_tokens stop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_clean_error, write_user_config

from specrelay.config import load_config
from specrelay.errors import ProviderError
from specrelay.ledger import Ledger
from specrelay.llm import Client
from wire import anthropic_messages as am
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

ENV = {"ANTHROPIC_API_KEY": KEY}
MODEL = "claude-sonnet-4-5"


def claude(url: str, model: str = MODEL, **fields: object) -> str:
    return preset("claude", "anthropic", model, url, **fields)


def client(tmp_path: Path, config: str, monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    write_user_config(FAST_RETRY + config)
    return Client(load_config(None), Ledger(tmp_path / "l.db"))


@pytest.mark.parametrize("streamed", [False, True])
def test_what_is_sent_and_recorded(streamed: bool) -> None:
    use = am.usage(40, 7, cache_write=1000, cache_read=3000)
    with serving() as server:
        server.queue(am.reply("Paris.", MODEL, use=use))
        proc = ask(claude(server.url, max_tokens=512, temperature=0.3), "--preset", "claude",
                   *([] if streamed else ["--json"]), "capital of France?", env=ENV)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)["text"] if not streamed else proc.stdout  # streamed: printed as it came
    assert 'Paris.' in answer
    sent = server.last
    assert sent.path == am.PATH and KEY in (sent.headers.get("x-api-key", "") + sent.headers.get("authorization", ""))
    assert sent.headers["anthropic-version"]
    body = sent.body
    assert (body["model"], body["max_tokens"], body["temperature"], body["stream"]) == (MODEL, 512, 0.3, streamed)
    assert "thinking" not in body
    assert body["messages"][-1]["role"] == "user" and "capital of France?" in str(body["messages"][-1]["content"])
    [row] = ledger_rows()
    # Anthropic counts cached input apart; the ledger's input_tokens holds all of it, as other providers'.
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens) == (4040, 7, 3000, 1000)
    expected = genai_price(MODEL, "anthropic", input_tokens=4040, output_tokens=7, cache_read=3000, cache_write=1000)
    assert row.cost_usd == pytest.approx(expected)
    assert row.cost_usd == pytest.approx(unit_price(MODEL, "anthropic", plain=40, output=7, cache_read=3000,
                                                    cache_write=1000))
    assert row.cost_usd != pytest.approx(genai_price(MODEL, "anthropic", input_tokens=4040, output_tokens=7))
    assert row.outcome == "ok" and row.latency_s > 0 and not row.estimated and row.max_tokens == 512
    assert_no_key_anywhere(proc)


@pytest.mark.parametrize(("model", "max_tokens", "thinking", "extra"), [
    # Extended thinking: a budget below max_tokens (the API refuses one at or above it), no temperature.
    (MODEL, 8000, {"type": "enabled", "budget_tokens": 4000}, {}),
    # Adaptive thinking (4.6 and later): the effort in output_config.
    ("claude-sonnet-4-6", 8000, {"type": "adaptive"}, {"output_config": {"effort": "high"}}),
])
def test_reasoning_effort_in_anthropics_form(model: str, max_tokens: int, thinking: dict[str, object],
                                             extra: dict[str, object]) -> None:
    with serving() as server:
        server.queue(am.reply("ok", model, use=am.usage(10, 2)))
        proc = ask(claude(server.url, model, max_tokens=max_tokens, temperature=0.2, reasoning_effort="high"),
                   "--preset", "claude", "--json", "hi", env=ENV)
    assert proc.returncode == 0, proc.stderr
    body = server.last.body
    assert body["thinking"] == thinking and body["max_tokens"] == max_tokens
    assert "temperature" not in body  # refused by the API with thinking on
    for key, value in extra.items():
        assert body[key] == value


def test_a_max_tokens_too_small_to_think_sends_no_thinking() -> None:
    with serving() as server:
        server.queue(am.reply("ok", MODEL, use=am.usage(10, 2)))
        proc = ask(claude(server.url, max_tokens=1500, reasoning_effort="low"), "--preset", "claude", "--json",
                   "hi", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert "thinking" not in server.last.body and server.last.body["max_tokens"] == 1500


def test_429_waits_the_retry_after_then_succeeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving() as server:
        server.queue(am.error(429, "rate_limit_error", "Number of request tokens has exceeded your rate limit",
                              retry_after="1"),
                     am.reply("ok", MODEL, use=am.usage(10, 2)))
        c = client(tmp_path, claude(server.url), monkeypatch)
        result = c.call_sync("claude", "sys", "hi", phase="ask")
        first, second = server.received
    assert result.text == "ok" and result.attempts == 2
    assert second.at - first.at >= 1.0  # the server's retry-after, honoured (the backoff alone is 0.05 s)
    rows = c.ledger.calls()
    assert [r.outcome for r in rows] == ["rate_limit", "ok"]
    assert "429" in (rows[0].error or "") and "rate limit" in (rows[0].error or "")


def test_529_overloaded_is_retried_then_a_provider_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving() as server:
        server.queue(am.error(529, "overloaded_error", "Overloaded"))
        c = client(tmp_path, claude(server.url), monkeypatch)
        with pytest.raises(ProviderError, match="529.*Overloaded.*try again later") as info:
            c.call_sync("claude", "sys", "hi", phase="ask")
        assert len(server.received) == 3
    assert KEY not in str(info.value)
    assert [r.outcome for r in c.ledger.calls()] == ["server"] * 3


@pytest.mark.parametrize("streamed", [False, True])
def test_a_max_tokens_stop_is_truncated(streamed: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving() as server:
        server.queue(am.reply("one two", MODEL, use=am.usage(10, 2),
                                                             stop="max_tokens"))
        c = client(tmp_path, claude(server.url, max_tokens=2), monkeypatch)
        result = c.call_sync("claude", "sys", "count", phase="ask", on_delta=(lambda _: None) if streamed else None)
    assert result.truncated and result.text == "one two" and result.max_tokens == 2


def test_an_error_event_in_the_stream_says_what_it_was() -> None:
    with serving() as server:
        server.queue(am.stream_error("overloaded_error", "Overloaded"))
        proc = ask(claude(server.url), "--preset", "claude", "hi", env=ENV)
    assert_clean_error(proc, "Overloaded")
    assert "see the message above" not in proc.stderr
    assert_no_key_anywhere(proc)


def test_a_model_genai_prices_does_not_know_has_an_unknown_cost() -> None:
    with serving() as server:
        server.queue(am.reply("ok", "claude-wire-9", use=am.usage(10, 2)))
        proc = ask(claude(server.url, "claude-wire-9"), "--preset", "claude", "--json", "hi", env=ENV)
    assert proc.returncode == 0, proc.stderr
    [row] = ledger_rows()
    assert row.cost_usd is None and row.input_tokens == 10
