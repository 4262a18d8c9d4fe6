"""OpenAI's Responses wire (``POST /v1/responses``), streamed as Codex asks for it: shapes from
openai-python's ``Response``, ``ResponseUsage`` and ``ResponseStreamEvent`` types. A stream must end in
``response.completed`` (Codex takes a stream without it for a broken one and asks again)."""

from __future__ import annotations

import json
from typing import Any

from wire.server import Answer

PATH = "/v1/responses"


def usage(input_tokens: int, output_tokens: int, *, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    """``input_tokens`` includes the ``cached_tokens``; ``reasoning_tokens`` are part of ``output_tokens``."""
    return {"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": input_tokens + output_tokens}


def _response(model: str, output: list[dict[str, Any]], status: str, use: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": "resp_wire", "object": "response", "created_at": 1_700_000_000, "status": status,
            "model": model, "output": output, "parallel_tool_calls": False, "tool_choice": "auto", "tools": [],
            "usage": use}


def reply(text: str, model: str, *, use: dict[str, Any]) -> Answer:
    """An assistant message, whole or streamed (``output_text`` deltas)."""
    item = {"type": "message", "id": "msg_wire", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}
    words = text.split(" ")
    deltas = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    middle: list[tuple[str | None, Any]] = [
        ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0,
                                        "item": {**item, "status": "in_progress", "content": []}}),
        ("response.content_part.added", {"type": "response.content_part.added", "item_id": "msg_wire",
                                         "output_index": 0, "content_index": 0,
                                         "part": {"type": "output_text", "text": "", "annotations": []}}),
    ]
    middle += [("response.output_text.delta", {"type": "response.output_text.delta", "item_id": "msg_wire",
                                               "output_index": 0, "content_index": 0, "delta": d})
               for d in deltas]
    middle += [
        ("response.output_text.done", {"type": "response.output_text.done", "item_id": "msg_wire",
                                       "output_index": 0, "content_index": 0, "text": text}),
        ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
    ]
    return _answer(model, item, middle, use)


def function_call(name: str, arguments: dict[str, Any], model: str, *, use: dict[str, Any],
                  call_id: str = "call_wire", namespace: str | None = None) -> Answer:
    """One function call, whole or streamed (``function_call_arguments`` deltas); of a tool of a ``namespace``
    tool (Codex offers an MCP server's tools as one, ``mcp__SERVER``) when given."""
    raw = json.dumps(arguments)
    item = {"type": "function_call", "id": "fc_wire", "call_id": call_id, "name": name, "arguments": raw,
            "status": "completed", **({"namespace": namespace} if namespace else {})}
    middle: list[tuple[str | None, Any]] = [
        ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0,
                                        "item": {**item, "arguments": "", "status": "in_progress"}}),
        ("response.function_call_arguments.delta", {"type": "response.function_call_arguments.delta",
                                                    "item_id": "fc_wire", "output_index": 0, "delta": raw}),
        ("response.function_call_arguments.done", {"type": "response.function_call_arguments.done",
                                                   "item_id": "fc_wire", "output_index": 0, "arguments": raw}),
        ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
    ]
    return _answer(model, item, middle, use)


def _answer(model: str, item: dict[str, Any], middle: list[tuple[str | None, Any]], use: dict[str, Any]) -> Answer:
    events: list[tuple[str | None, Any]] = [
        ("response.created", {"type": "response.created", "response": _response(model, [], "in_progress", None)}),
        ("response.in_progress", {"type": "response.in_progress",
                                  "response": _response(model, [], "in_progress", None)}),
        *middle,
        ("response.completed", {"type": "response.completed",
                                "response": _response(model, [item], "completed", use)}),
    ]
    numbered = [(name, {**data, "sequence_number": i}) for i, (name, data) in enumerate(events)]
    return Answer(body=_response(model, [item], "completed", use), events=numbered)
