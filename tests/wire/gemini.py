"""Google's Gemini API wire: ``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse`` (each event a whole ``GenerateContentResponse``, CRLF-separated);
shapes from google-genai's ``GenerateContentResponse`` and ``GenerateContentResponseUsageMetadata``."""

from __future__ import annotations

from typing import Any

from wire.server import Answer, json_answer


def path(model: str, streamed: bool) -> str:
    return f"/v1beta/models/{model}:{'streamGenerateContent' if streamed else 'generateContent'}"


def usage(prompt: int, candidates: int, *, cached: int | None = None, thoughts: int | None = None) -> dict[str, Any]:
    """``usageMetadata``: ``promptTokenCount`` includes the cached tokens; ``thoughtsTokenCount`` is
    apart from ``candidatesTokenCount`` (and billed as output)."""
    out: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": candidates,
                           "totalTokenCount": prompt + candidates + (thoughts or 0),
                           "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
    if cached is not None:
        out["cachedContentTokenCount"] = cached
        out["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
    if thoughts is not None:
        out["thoughtsTokenCount"] = thoughts
    return out


def _response(text: str, model: str, finish: str | None, use: dict[str, Any] | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "wire-1"}
    if use is not None:
        body["usageMetadata"] = use
    return body


def reply(text: str, model: str, *, use: dict[str, Any], finish: str = "STOP") -> Answer:
    """A reply to ``generateContent`` or, streamed, to ``streamGenerateContent``; ``finish``
    ``MAX_TOKENS`` when cut at the cap."""
    return Answer(body=_response(text, model, finish, use), events=_events(text, model, use, finish),
                  newline="\r\n")


def _events(text: str, model: str, use: dict[str, Any], finish: str) -> list[tuple[str | None, Any]]:
    """A streamed reply: one response per piece, the last with the finish reason and the usage."""
    words = text.split(" ")
    pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    events: list[tuple[str | None, Any]] = [
        (None, _response(p, model, None, {"promptTokenCount": use["promptTokenCount"],
                                          "totalTokenCount": use["promptTokenCount"]}))
        for p in pieces[:-1]]
    events.append((None, _response(pieces[-1], model, finish, use)))
    return events


def function_call(name: str, args: dict[str, Any], model: str, *, use: dict[str, Any]) -> Answer:
    """A reply that calls one function (a ``functionCall`` part, whole in one event when streamed, as the
    API sends it), with ``finishReason`` ``STOP``."""
    body = _response("", model, "STOP", use)
    body["candidates"][0]["content"]["parts"] = [{"functionCall": {"name": name, "args": args}}]
    return Answer(body=body, events=[(None, body)], newline="\r\n")


def error(status: int, message: str, state: str) -> Answer:
    """An error: ``{"error": {"code", "message", "status"}}`` (429 RESOURCE_EXHAUSTED, 503 UNAVAILABLE)."""
    return json_answer({"error": {"code": status, "message": message, "status": state}}, status)
