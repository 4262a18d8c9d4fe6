"""OpenAI's chat completions wire (``POST /v1/chat/completions``), as OpenAI and the servers that
copy it (llama.cpp, vLLM, Ollama) answer: shapes from openai-python's ``ChatCompletion`` and
``ChatCompletionChunk`` types."""

from __future__ import annotations

import json
from typing import Any

from wire.server import Answer, json_answer

PATH = "/v1/chat/completions"


def usage(prompt: int, completion: int, *, cached: int | None = None, reasoning: int | None = None) -> dict[str, Any]:
    """A ``usage`` object; the details only when given (servers other than OpenAI leave them out)."""
    out: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                           "total_tokens": prompt + completion}
    if cached is not None:
        out["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
    if reasoning is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    return out


def reply(text: str, model: str, *, use: dict[str, Any] | None, finish: str = "stop",
          stream_use: bool = True) -> Answer:
    """A reply, whole or streamed as the request asks; ``stream_use=False``: a stream without usage
    (llama.cpp's server sends none, even asked)."""
    return Answer(body=_completion(text, model, use, finish),
                  events=_chunks(text, model, use if stream_use else None, finish))


def _completion(text: str, model: str, use: dict[str, Any] | None, finish: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                     "logprobs": None, "finish_reason": finish}],
        "system_fingerprint": "fp_test",
    }
    if use is not None:
        body["usage"] = use
    return body


def _chunks(text: str, model: str, use: dict[str, Any] | None, finish: str) -> list[tuple[str | None, Any]]:
    """A streamed reply: the role, the text in pieces, the finish reason, then (when the server reports
    it, as asked by ``stream_options.include_usage``) a last chunk with no choices and the usage."""
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
            "system_fingerprint": "fp_test"}

    def chunk(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}],
                **({"usage": None} if use is not None else {})}

    events: list[tuple[str | None, Any]] = [(None, chunk({"role": "assistant", "content": ""}))]
    events += [(None, chunk({"content": piece})) for piece in _pieces(text)]
    events.append((None, chunk({}, finish)))
    if use is not None:
        events.append((None, {**base, "choices": [], "usage": use}))
    events.append((None, "[DONE]"))
    return events


def tool_call(name: str, arguments: dict[str, Any], model: str, *, use: dict[str, Any] | None,
              call_id: str = "call_wire") -> Answer:
    """A reply that calls one tool (``finish_reason`` ``tool_calls``); streamed, the arguments come in
    pieces after a first delta with the call's id and name, as OpenAI sends them."""
    raw = json.dumps(arguments)
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}
    body = _completion("", model, use, "tool_calls")
    body["choices"][0]["message"] = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
            "system_fingerprint": "fp_test"}

    def chunk(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}]}

    events: list[tuple[str | None, Any]] = [(None, chunk({"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}]}))]
    events += [(None, chunk({"tool_calls": [{"index": 0, "function": {"arguments": raw[i:i + 40]}}]}))
               for i in range(0, len(raw), 40)]
    events.append((None, chunk({}, "tool_calls")))
    if use is not None:
        events.append((None, {**base, "choices": [], "usage": use}))
    events.append((None, "[DONE]"))
    return Answer(body=body, events=events)


def error(status: int, message: str, kind: str = "server_error", **headers: str) -> Answer:
    return json_answer({"error": {"message": message, "type": kind, "param": None, "code": None}}, status,
                       **headers)


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
