"""An OpenAI-compatible server (llama.cpp, vLLM, Ollama) over a real socket: the output cap in
``max_tokens``, a stream with and without usage, a reply cut at the cap, an unknown price."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import assert_clean_error, run_cli, write_user_config

from specrelay.config import load_config
from specrelay.engine.budget import Budget
from specrelay.ledger import Ledger
from specrelay.llm import Client, Request
from specrelay.llm.backend import estimate_tokens
from wire import openai_chat as oc
from wire.common import FAST_RETRY, KEY, ask, assert_no_key_anywhere, genai_price, home, ledger_rows, preset
from wire.server import Answer, FakeServer, json_answer, serving, sse_answer

ENV = {"LOCAL_KEY": KEY}


def local(url: str, model: str = "gpt-4o-mini", **fields: object) -> str:
    return preset("loc", "openai-compatible", model, f"{url}/v1", api_key_env="LOCAL_KEY", **fields)


@pytest.mark.parametrize("streamed", [False, True])
def test_what_is_sent_and_recorded(streamed: bool) -> None:
    with serving() as server:
        server.queue(oc.reply("four", "gpt-4o-mini", use=oc.usage(21, 2)))
        proc = ask(local(server.url, max_tokens=64, temperature=0.2, reasoning_effort="low"),
                   "--preset", "loc", *([] if streamed else ["--json"]), "what is 2+2?", env=ENV)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)["text"] if not streamed else proc.stdout  # streamed: printed as it came
    assert 'four' in answer
    sent = server.last
    assert sent.path == oc.PATH and sent.headers["authorization"] == f"Bearer {KEY}"
    body = sent.body
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0.2
    assert body["max_tokens"] == 64 and "max_completion_tokens" not in body  # the field these servers honour
    assert body["reasoning_effort"] == "low"
    assert body["stream"] is streamed
    if streamed:
        assert body["stream_options"] == {"include_usage": True}
    [row] = ledger_rows()
    assert (row.outcome, row.input_tokens, row.output_tokens, row.estimated) == ("ok", 21, 2, False)
    assert row.cost_usd == pytest.approx(genai_price("gpt-4o-mini", None, input_tokens=21, output_tokens=2))
    assert row.latency_s > 0 and row.max_tokens == 64
    assert_no_key_anywhere(proc)


@pytest.mark.parametrize("streamed", [True, False])
def test_a_reply_without_usage_is_estimated_not_zero(streamed: bool) -> None:
    # llama.cpp's server sends no usage in a stream, even asked for it; some servers none at all.
    question = "what is 2+2? answer in one word"
    with serving() as server:
        server.queue(oc.reply("four, of course", "gpt-4o-mini", use=None))
        proc = ask(local(server.url), "--preset", "loc", *([] if streamed else ["--json"]), question, env=ENV)
    assert proc.returncode == 0, proc.stderr
    if streamed:
        assert "estimated tokens" in proc.stdout
    else:
        assert json.loads(proc.stdout)["estimated"] is True
    [row] = ledger_rows()
    assert row.estimated and row.input_tokens > 0 and row.output_tokens == estimate_tokens("four, of course")
    assert row.cost_usd == pytest.approx(genai_price("gpt-4o-mini", None, input_tokens=row.input_tokens,
                                                     output_tokens=row.output_tokens))
    cost = run_cli("cost")
    assert "some token counts are estimates" in cost.stdout, cost.stdout


def test_a_reply_cut_at_the_cap_is_truncated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_KEY", KEY)
    with serving() as server:
        server.queue(oc.reply("one two three", "smol", use=oc.usage(9, 3), finish="length"))
        write_user_config(FAST_RETRY + local(server.url, "smol", max_tokens=3))
        client = Client(load_config(None), Ledger(tmp_path / "l.db"))
        result = client.call_sync("loc", "sys", "count", phase="ask")
    assert result.truncated and result.max_tokens == 3
    assert result.cost_usd is None  # genai-prices does not know the model: unknown, never 0
    [row] = client.ledger.calls()
    assert row.cost_usd is None and (row.input_tokens, row.output_tokens) == (9, 3) and row.truncated


LONG_REPLY = "a reply of many more characters than four tokens"


@pytest.mark.parametrize(("text", "cap", "counted", "hint"), [
    (LONG_REPLY, 4, 4, False),  # the estimate of the text exceeds the cap: counted at the cap
    # Stopped at the server's own limit (the end of its context), well short of the cap: the estimate.
    ("one two three", 300, estimate_tokens("one two three"), True),
], ids=["estimate-over-cap", "short-of-cap"])
def test_a_cut_reply_without_usage_is_counted_at_most_at_its_cap(text: str, cap: int, counted: int,
                                                                  hint: bool) -> None:
    with serving() as server:
        server.queue(oc.reply(text, "smol", use=None, finish="length"))
        proc = ask(local(server.url, "smol", max_tokens=cap), "--preset", "loc", "--json", "count", env=ENV)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["truncated"] is True and data["estimated"] is True
    assert f"cut off at its output cap of {cap:,} tokens" in data["cut_off"]
    said_short = f"it wrote only about {counted:,}, so the server may have a lower limit of its own"
    assert (said_short in data["cut_off"]) is hint, data["cut_off"]
    [row] = ledger_rows()
    assert row.estimated and row.truncated and row.output_tokens == counted


def test_a_cut_reply_taken_from_the_ledger_is_still_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A resumed task replays a keyed call from the ledger: it must still know the reply was cut off.
    monkeypatch.setenv("LOCAL_KEY", KEY)
    with serving() as server:
        server.queue(oc.reply("one two three", "smol", use=oc.usage(9, 3), finish="length"))
        write_user_config(FAST_RETRY + local(server.url, "smol", max_tokens=3))
        client = Client(load_config(None), Ledger(tmp_path / "l.db"))
        request = Request.of("sys", "count")
        first = asyncio.run(client.send("loc", request, phase="build", key="build:1"))
        again = asyncio.run(client.send("loc", request, phase="build", key="build:1"))
        assert len(server.received) == 1
    assert first.truncated and again.reused and again.truncated and again.text == "one two three"


LLAMA_OVERFLOW = {"error": {"code": 400, "message": "the request exceeds the available context size, try "
                            "increasing it", "type": "exceed_context_size_error", "n_prompt_tokens": 5000,
                            "n_ctx": 4096}}


@pytest.mark.parametrize("answer", [
    sse_answer([(None, LLAMA_OVERFLOW)]),  # an error event inside a 200 stream (llama.cpp's server)
    json_answer(LLAMA_OVERFLOW, 400),  # the same refused before the stream starts
], ids=["error-event", "status-400"])
def test_a_context_overflow_says_what_the_server_said(answer: Answer) -> None:
    with serving() as server:
        server.queue(answer)
        proc = ask(local(server.url), "--preset", "loc", "a long prompt", env=ENV)
    assert_clean_error(proc, "exceeds the available context size", "--ctx-size")
    assert "see the message above" not in proc.stderr and "n_prompt_tokens" not in proc.stderr
    [row] = ledger_rows()
    assert row.outcome == "rejected" and "exceeds the available context size" in (row.error or "")


@pytest.mark.parametrize("events", [
    [(None, "[DONE]")],
    [],
    [(None, {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}),
     (None, "[DONE]")],
], ids=["done-only", "nothing", "role-only"])
def test_an_empty_stream_is_a_failure_that_says_so(events: list[tuple[str | None, object]]) -> None:
    with serving() as server:
        server.queue(sse_answer(events))
        proc = ask(local(server.url), "--preset", "loc", "a long prompt", env=ENV)
    assert_clean_error(proc, "sent no text and no error", "context size")
    assert "see the message above" not in proc.stderr
    assert [r.outcome for r in ledger_rows()] == ["invalid_output"]


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize(("reported", "side"), [
    ({"prompt_tokens": 0, "completion_tokens": 27, "total_tokens": 27}, "input"),
    ({"prompt_tokens": 19, "completion_tokens": 0, "total_tokens": 19}, "output"),
], ids=["no-input", "no-output"])
def test_a_usage_reported_on_one_side_keeps_it_and_estimates_the_other(
        reported: dict[str, int], side: str, streamed: bool) -> None:
    question = "what is 2+2? answer in one word"
    with serving() as server:
        server.queue(oc.reply("four", "gpt-4o-mini", use=reported))
        proc = ask(local(server.url), "--preset", "loc", *([] if streamed else ["--json"]), question, env=ENV)
    assert proc.returncode == 0, proc.stderr
    [row] = ledger_rows()
    assert row.estimated  # one side is an estimate
    if side == "input":  # the 27 output tokens the server counted, not the estimate of "four" (1)
        assert row.output_tokens == 27 and row.input_tokens >= estimate_tokens(question)
    else:
        assert row.input_tokens == 19 and row.output_tokens == estimate_tokens("four")
    assert row.cost_usd == pytest.approx(genai_price("gpt-4o-mini", None, input_tokens=row.input_tokens,
                                                     output_tokens=row.output_tokens))


def cancelled_once_sent(server: FakeServer, *calls: Awaitable[object]) -> None:
    """Run ``calls`` together and cancel them all (as Ctrl-C stops a run) once the server has one
    request and the others have had time to send theirs, had they been free to."""
    async def run() -> None:
        running = asyncio.gather(*calls)
        for _ in range(600):
            if server.received:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.6)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    asyncio.run(run())


def test_an_interrupted_call_records_the_cap_it_was_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    # The budget lowers the preset's 4,000 to what $0.01 pays for: the row says what was sent.
    monkeypatch.setenv("LOCAL_KEY", KEY)
    with serving() as server:
        server.queue(replace(oc.reply("late", "tiny", use=oc.usage(9, 1)), delay_s=5.0))
        write_user_config(FAST_RETRY + local(server.url, "tiny", max_tokens=4000)
                          + "price = {input = 1.0, output = 10.0}\n")
        client = Client(load_config(None), Ledger(home() / "ledger.db"), budget=Budget(0.01))  # as `cost` reads
        cancelled_once_sent(server, client.call("loc", "sys", "hello", phase="ask"))
        [sent] = server.received
    cap = sent.body["max_tokens"]
    assert 512 <= cap < 4000
    [row] = client.ledger.calls()
    assert (row.outcome, row.cost_usd, row.max_tokens) == ("interrupted", None, cap)
    assert row.error == "interrupted while in flight"
    # The prompt reached the server and may be billed: the total is unknown, not $0.
    total = run_cli("cost", "--json")
    assert json.loads(total.stdout)["total"]["unknown_cost_calls"] == 1, total.stdout


def test_a_call_stopped_while_waiting_for_a_slot_gets_no_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # max_concurrency 1: the second call waits for the first's slot, and is never sent.
    monkeypatch.setenv("LOCAL_KEY", KEY)
    with serving() as server:
        server.queue(replace(oc.reply("late", "tiny", use=oc.usage(9, 1)), delay_s=5.0))
        write_user_config(FAST_RETRY + local(server.url, "tiny", max_concurrency=1))
        client = Client(load_config(None), Ledger(tmp_path / "l.db"))
        cancelled_once_sent(server, client.call("loc", "sys", "first", phase="ask"),
                            client.call("loc", "sys", "second", phase="ask"))
        assert len(server.received) == 1
    [row] = client.ledger.calls()  # the call sent; none for the one that never was
    assert row.outcome == "interrupted" and 0.5 < row.latency_s < 5 and row.error == "interrupted while in flight"


def test_a_call_cut_mid_answer_leaves_the_total_incomplete() -> None:
    # The server died after part of its answer: the prompt was read and output written, perhaps billed.
    with serving() as server:
        server.queue(oc.reply("four", "gpt-4o-mini", use=oc.usage(21, 2)),
                     replace(oc.reply("the answer begins here and goes on", "gpt-4o-mini", use=oc.usage(21, 9)),
                             cut_after=3))
        first = ask(local(server.url), "--preset", "loc", "--json", "what is 2+2?", env=ENV)
        cut = ask(local(server.url), "--preset", "loc", "what is 2+2?", env=ENV)
    assert first.returncode == 0 and cut.returncode != 0, first.stderr + cut.stderr
    ok, *failed = ledger_rows()
    assert ok.cost_usd is not None and len(failed) == 3  # retried, cut each time
    for row in failed:
        assert (row.outcome, row.cost_usd, row.estimated) == ("connection", None, True)
        assert row.output_tokens == estimate_tokens("the answer ") and row.input_tokens > 0
        assert "mid-answer" in (row.error or "")
    total = run_cli("cost").stdout
    assert "+ unknown (3 calls)" in total, total  # not the first call's cost as if it were all


def test_an_answer_broken_off_mid_stream_is_said_so_before_the_retry_streams_it_anew() -> None:
    # Without the notice the terminal showed "the answer the answer four": the void start, then the retry's.
    with serving() as server:
        server.queue(replace(oc.reply("the answer begins here and goes on", "gpt-4o-mini", use=oc.usage(21, 9)),
                             cut_after=3),
                     oc.reply("four", "gpt-4o-mini", use=oc.usage(21, 1)))
        proc = ask(local(server.url), "--preset", "loc", "what is 2+2?", env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert "the answer broke off" in proc.stderr and "asking again" in proc.stderr, proc.stderr
    assert proc.stdout.startswith("the answer \nfour"), proc.stdout  # the void part ends its line
    assert_no_key_anywhere(proc)
