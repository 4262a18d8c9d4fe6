"""The OpenAI-compatible path over a real loopback socket: usage, retry on 429, fallback on 500."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from conftest import assert_clean_error, run_cli, write_user_config
from fake_openai import base_url, fake_openai

from specrelay.config import load_config
from specrelay.errors import ProviderError
from specrelay.ledger import Ledger
from specrelay.llm import Client

RETRY = "[retry]\nattempts = 3\nbackoff_s = 0.01\nmax_backoff_s = 0.02\n"


def local(name: str, url: str, extra: str = "") -> str:
    return (f'[presets.{name}]\nprovider = "openai-compatible"\nmodel = "tiny"\nbase_url = "{url}"\n'
            f'price = {{input = 1.0, output = 2.0}}\n{extra}\n')


def test_usage_and_price_come_back_over_the_socket(tmp_path: Path) -> None:
    with fake_openai() as server:
        write_user_config(RETRY + local("loc", base_url(server, "ok")))
        client = Client(load_config(None), Ledger(tmp_path / "l.db"))
        result = client.call_sync("loc", "sys", "hello", phase="ask")
    assert result.text == "answer from ok"
    assert (result.usage.input_tokens, result.usage.output_tokens) == (12, 3)
    assert result.cost_usd == pytest.approx((12 * 1 + 3 * 2) / 1e6)
    assert not result.estimated


def test_429_then_success(tmp_path: Path) -> None:
    with fake_openai() as server:
        write_user_config(RETRY + local("loc", base_url(server, "flaky")))
        client = Client(load_config(None), Ledger(tmp_path / "l.db"))
        result = client.call_sync("loc", "sys", "hello", phase="ask")
    assert result.text == "answer from flaky" and result.attempts == 2
    rows = client.ledger.calls()
    assert [r.outcome for r in rows] == ["rate_limit", "ok"]
    assert "429" in rows[0].error


def test_500_forever_takes_the_fallback(tmp_path: Path) -> None:
    with fake_openai() as server:
        config = (RETRY + local("down", base_url(server, "down"), 'fallbacks = ["up"]')
                  + local("up", base_url(server, "ok")))
        write_user_config(config)
        client = Client(load_config(None), Ledger(tmp_path / "l.db"))
        result = client.call_sync("down", "sys", "hello", phase="ask")
        hits = [m for m, _ in server.hits]
    assert (result.preset, result.text) == ("up", "answer from ok")
    assert hits == ["down"] * 3 + ["ok"]
    assert [r.outcome for r in client.ledger.calls()] == ["server"] * 3 + ["ok"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_base_url_is_a_provider_error(tmp_path: Path) -> None:
    write_user_config(RETRY + local("gone", f"http://127.0.0.1:{_closed_port()}/v1"))
    client = Client(load_config(None), Ledger(tmp_path / "l.db"))
    with pytest.raises(ProviderError, match="connection.*check base_url"):
        client.call_sync("gone", "sys", "hello", phase="ask")
    assert [r.outcome for r in client.ledger.calls()] == ["connection"] * 3


def test_ask_streams_through_the_cli(tmp_path: Path) -> None:
    with fake_openai() as server:
        write_user_config(RETRY + local("loc", base_url(server, "ok")) + '[routes]\nask = "loc"\n')
        proc = run_cli("ask", "what is 2+2?")
    assert proc.returncode == 0, proc.stderr
    assert "answer from ok" in proc.stdout
    assert "loc · tiny · 12 in / 3 out tokens · $0.0000" in proc.stdout


def test_ask_unreachable_is_one_clean_line() -> None:
    write_user_config(RETRY + local("gone", f"http://127.0.0.1:{_closed_port()}/v1"))
    proc = run_cli("ask", "hi", "--preset", "gone")
    assert_clean_error(proc, "preset gone", "connection")


def _sent_cap(tmp_path: Path, extra: str) -> dict[str, object]:
    with fake_openai() as server:
        write_user_config(RETRY + local("loc", base_url(server, "ok"), "max_tokens = 16\n" + extra))
        Client(load_config(None), Ledger(tmp_path / "l.db")).call_sync("loc", "sys", "hello", phase="ask")
        body = server.bodies[-1]
    return {k: body[k] for k in ("max_tokens", "max_completion_tokens") if k in body}


def test_the_output_cap_is_sent_as_max_tokens(tmp_path: Path) -> None:
    # llama.cpp, vLLM and Ollama ignore max_completion_tokens: the cap must go in max_tokens.
    assert _sent_cap(tmp_path, "") == {"max_tokens": 16}


def test_a_preset_may_send_the_cap_as_max_completion_tokens(tmp_path: Path) -> None:
    assert _sent_cap(tmp_path, 'max_tokens_field = "max_completion_tokens"') == {"max_completion_tokens": 16}


def test_a_bad_max_tokens_field_is_a_config_error(tmp_path: Path) -> None:
    write_user_config(local("loc", "http://127.0.0.1:9/v1", 'max_tokens_field = "max_output"'))
    proc = run_cli("ask", "--preset", "loc", "hi")
    assert_clean_error(proc, "max_tokens_field")


def test_a_call_cancelled_while_the_server_is_silent_is_recorded_as_interrupted(tmp_path: Path) -> None:
    import asyncio

    with socket.socket() as silent:  # accepts the connection (the backlog does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        write_user_config(local("loc", f"http://127.0.0.1:{silent.getsockname()[1]}/v1"))
        client = Client(load_config(None), Ledger(tmp_path / "l.db"))

        async def cut_off() -> None:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.call("loc", "sys", "hello", phase="ask"), 1.0)

        asyncio.run(cut_off())
    [row] = client.ledger.calls()
    assert (row.preset, row.outcome, row.cost_usd, row.output_tokens) == ("loc", "interrupted", None, 0)
    assert 0.5 < row.latency_s < 5, row.latency_s
