"""Anthropic's Messages wire (``POST /v1/messages``): shapes from anthropic-sdk-python's ``Message``,
``Usage`` and raw stream event types, and the API's error bodies (429 ``rate_limit_error``, 529
``overloaded_error``)."""

from __future__ import annotations

import json
from typing import Any

from wire.server import Answer, json_answer, sse_answer

PATH = "/v1/messages"


def usage(input_tokens: int, output_tokens: int, *, cache_write: int = 0, cache_read: int = 0) -> dict[str, Any]:
    """Anthropic's usage: ``input_tokens`` counts only the input that was neither written to nor read
    from the cache; those two come apart."""
    return {"input_tokens": input_tokens, "output_tokens": output_tokens,
            "cache_creation_input_tokens": cache_write, "cache_read_input_tokens": cache_read,
            "service_tier": "standard"}


def _message(model: str, content: list[dict[str, Any]], stop: str | None, use: dict[str, Any]) -> dict[str, Any]:
    return {"id": "msg_01Wire", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop, "stop_sequence": None, "usage": use}


def reply(text: str, model: str, *, use: dict[str, Any], stop: str = "end_turn") -> Answer:
    """A reply, whole or streamed as the request asks (the SDK streams a large max_tokens itself)."""
    return Answer(body=_message(model, [{"type": "text", "text": text}], stop, use),
                  events=_events(text, model, use, stop))


def tool_use(name: str, arguments: dict[str, Any], model: str, *, use: dict[str, Any], text: str = "",
             call_id: str = "toolu_01Wire") -> Answer:
    """A reply that calls one tool (``stop_reason`` ``tool_use``), after a text block when ``text`` is given;
    streamed, the tool's input comes in ``input_json_delta`` pieces."""
    call = {"type": "tool_use", "id": call_id, "name": name, "input": arguments}
    blocks = ([{"type": "text", "text": text}] if text else []) + [call]
    return Answer(body=_message(model, blocks, "tool_use", use), events=_block_events(blocks, model, use, "tool_use"))


def _events(text: str, model: str, use: dict[str, Any], stop: str) -> list[tuple[str | None, Any]]:
    return _block_events([{"type": "text", "text": text}], model, use, stop)


def _block_events(blocks: list[dict[str, Any]], model: str, use: dict[str, Any],
                  stop: str) -> list[tuple[str | None, Any]]:
    """A streamed reply, event by event as the API sends it: ``message_start`` carries the input
    usage, ``message_delta`` the stop reason and the output tokens."""
    start_usage = {**use, "output_tokens": 1}
    events: list[tuple[str | None, Any]] = [
        ("message_start", {"type": "message_start", "message": _message(model, [], None, start_usage)})]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            start: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block["text"])]
        else:
            start = {**block, "input": {}}
            raw = json.dumps(block["input"])
            deltas = [{"type": "input_json_delta", "partial_json": raw[i:i + 40]} for i in range(0, len(raw), 40)]
        events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": start}))
        if index == 0:
            events.append(("ping", {"type": "ping"}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
                   for delta in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events += [
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": {"output_tokens": use["output_tokens"]}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


def error(status: int, kind: str, message: str, **headers: str) -> Answer:
    """An error answer: 429 ``rate_limit_error``, 529 ``overloaded_error``, 400 ``invalid_request_error``."""
    return json_answer({"type": "error", "error": {"type": kind, "message": message},
                        "request_id": "req_wire"}, status, request_id="req_wire", **headers)


def stream_error(kind: str, message: str) -> Answer:
    """A stream that starts, then fails with an ``error`` event (the API's overloaded mid-stream)."""
    return sse_answer([
        ("message_start", {"type": "message_start",
                           "message": _message("m", [], None, usage(10, 1))}),
        ("error", {"type": "error", "error": {"type": kind, "message": message}}),
    ])


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
