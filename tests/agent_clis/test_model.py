"""The scripted agent model without any CLI: each wire's request, as the CLIs send it, gets the write-tool
call, then (the tool's result in the request) the final text, each with the scripted usage; the log keeps
the requests with their secrets taken out."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from agent_clis.model import Script, Usage, agent_model

USAGE = (Usage(100, 10, cache_read=5), Usage(200, 20))


def _post(url: str, body: dict[str, Any], **headers: str) -> tuple[str, str]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["content-type"], response.read().decode()


def _events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


def test_anthropic_messages_tool_use_then_final_text(tmp_path: Path) -> None:
    with agent_model(Script(root=tmp_path, final="done", usage=USAGE)) as model:
        tools = [{"name": "Read", "input_schema": {}}, {"name": "Write", "input_schema": {}}]
        ask = {"model": "m", "stream": True, "tools": tools, "messages": [{"role": "user", "content": "go"}]}
        kind, text = _post(f"{model.url}/v1/messages?beta=true", ask, **{"x-api-key": "sk-secret"})
        assert kind == "text/event-stream"
        events = _events(text)
        call = events[1]["content_block"]
        assert call["type"] == "tool_use" and call["name"] == "Write"
        raw = "".join(e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta")
        assert json.loads(raw) == {"file_path": str(tmp_path / "hello.txt"), "content": "Hello from the agent.\n"}
        assert events[0]["message"]["usage"]["input_tokens"] == 100
        assert events[0]["message"]["usage"]["cache_read_input_tokens"] == 5
        result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "ok"}]}
        _, text = _post(f"{model.url}/v1/messages", {**ask, "stream": False,
                                                     "messages": ask["messages"] + [result]})
        assert json.loads(text)["content"] == [{"type": "text", "text": "done"}]
        _, counted = _post(f"{model.url}/v1/messages/count_tokens", {"messages": []})
        assert json.loads(counted) == {"input_tokens": 100}
        urllib.request.urlopen(urllib.request.Request(model.url + "/", method="HEAD"), timeout=10).close()
    assert model.kinds(probes=True) == ["write", "final", "count", "probe"]
    assert model.reported() == Usage(300, 30, cache_read=5)
    assert model.exchanges[0].headers["x-api-key"] == "<redacted>"
    assert "sk-secret" not in repr(model.exchanges)


def test_responses_exec_command_then_final_text(tmp_path: Path) -> None:
    with agent_model(Script(root=tmp_path, final="done", usage=USAGE)) as model:
        tools = [{"type": "function", "name": "exec_command", "parameters": {}}]
        ask = {"model": "m", "stream": True, "tools": tools,
               "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}]}
        _, text = _post(f"{model.url}/v1/responses", ask, authorization="Bearer sk-secret")
        events = _events(text)
        assert events[-1]["type"] == "response.completed"
        assert events[-1]["response"]["usage"]["input_tokens"] == 105
        call = next(e["item"] for e in events if e["type"] == "response.output_item.done")
        assert call["name"] == "exec_command" and str(tmp_path / "hello.txt") in json.loads(call["arguments"])["cmd"]
        items = ask["input"] + [call, {"type": "function_call_output", "call_id": call["call_id"], "output": "ok"}]
        _, text = _post(f"{model.url}/v1/responses", {**ask, "input": items})
        done = _events(text)[-1]["response"]["output"][0]
        assert done["content"][0]["text"] == "done"
    assert model.kinds() == ["write", "final"]
    assert model.exchanges[0].headers["authorization"] == "<redacted>"


def test_gemini_function_call_then_final_text(tmp_path: Path) -> None:
    with agent_model(Script(root=tmp_path, final="done", usage=USAGE)) as model:
        url = f"{model.url}/v1beta/models/m:streamGenerateContent?alt=sse"
        ask = {"contents": [{"role": "user", "parts": [{"text": "go"}]}],
               "tools": [{"functionDeclarations": [{"name": "read_file"}, {"name": "write_file"}]}]}
        _, text = _post(url, ask)
        part = _events(text)[0]["candidates"][0]["content"]["parts"][0]
        assert part["functionCall"]["name"] == "write_file"
        reply = {"role": "user", "parts": [{"functionResponse": {"name": "write_file", "response": {}}}]}
        _, text = _post(url, {**ask, "contents": ask["contents"] + [reply]})
        assert _events(text)[-1]["candidates"][0]["content"]["parts"][0]["text"] == "done"
    assert model.kinds() == ["write", "final"]
    assert model.exchanges[0].query == {"alt": ["sse"]}


def test_chat_tool_call_then_final_text_and_a_side_call(tmp_path: Path) -> None:
    with agent_model(Script(root=tmp_path, final="done", usage=USAGE)) as model:
        url = f"{model.url}/v1/chat/completions"
        _post(url, {"model": "m", "messages": [{"role": "system", "content": "You are a title generator."}]})
        ask = {"model": "m", "stream": True, "stream_options": {"include_usage": True},
               "tools": [{"type": "function", "function": {"name": "write"}}],
               "messages": [{"role": "user", "content": "go"}]}
        _, text = _post(url, ask)
        chunks = _events(text)
        first = chunks[0]["choices"][0]["delta"]["tool_calls"][0]
        raw = "".join(c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] for c in chunks
                      if c["choices"] and "tool_calls" in c["choices"][0]["delta"])
        assert first["function"]["name"] == "write" and json.loads(raw)["filePath"] == str(tmp_path / "hello.txt")
        assert chunks[-1]["usage"]["prompt_tokens"] == 105 and chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
        _post(url, {**ask, "messages": ask["messages"] + [{"role": "tool", "tool_call_id": first["id"],
                                                           "content": "ok"}]})
    assert model.kinds() == ["side", "write", "final"]
    assert model.reported("write", "final") == Usage(300, 30, cache_read=5)


def test_chat_without_tools_answers_a_whole_file_listing_to_aiders_prompt(tmp_path: Path) -> None:
    with agent_model(Script(root=tmp_path, path="a.txt", content="A\n", final="done")) as model:
        url = f"{model.url}/v1/chat/completions"
        system = {"role": "system", "content": "return the entire content of the file using a *file listing*"}
        example = [{"role": "user", "content": "example"}, {"role": "assistant", "content": "Ok."}]
        ask = {"model": "m", "messages": [system, *example, {"role": "user", "content": "go"}]}
        _, text = _post(url, ask)
        listing = json.loads(text)["choices"][0]["message"]["content"]
        assert listing == "a.txt\n```\nA\n```\n"
        _, text = _post(url, {**ask, "messages": ask["messages"] + [{"role": "assistant", "content": listing},
                                                                   {"role": "user", "content": "lint it"}]})
        assert json.loads(text)["choices"][0]["message"]["content"] == "done"
    assert model.kinds() == ["write", "final"]


def test_a_review_script_answers_the_final_text_at_once(tmp_path: Path) -> None:
    review = json.dumps({"verdict": "approve", "findings": []})
    with agent_model(Script(root=tmp_path, final=review, write=False)) as model:
        ask = {"model": "m", "tools": [{"name": "Write"}], "messages": [{"role": "user", "content": "review"}]}
        _, text = _post(f"{model.url}/v1/messages", ask)
        assert json.loads(text)["content"][0]["text"] == review
    assert model.kinds() == ["final"]
