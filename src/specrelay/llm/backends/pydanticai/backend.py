"""The backend that answers a call through pydantic-ai: the model built before the call is timed, the
request (whole or streamed), the reply with the usage the server reported (None when it reported none),
and the offline switch that keeps tests off the network."""

from __future__ import annotations

from typing import Any

from specrelay.config import Preset
from specrelay.errors import FailureKind
from specrelay.llm.backend import (
    Attachment,
    AttemptFailed,
    Backend,
    Message,
    OnDelta,
    Reply,
    Request,
    RunContext,
    Tool,
    ToolCall,
)
from specrelay.llm.backends.pydanticai.errors import CONTEXT_ADVICE, EMPTY_REPLY, translate_error
from specrelay.llm.backends.pydanticai.presets import ApiPreset
from specrelay.llm.network import is_loopback, offline
from specrelay.llm.pricing import Usage


class NetworkRefused(AttemptFailed):
    """A real provider request attempted where the network is off (tests)."""


def offline_guard(preset: ApiPreset) -> None:
    """With the offline switch on, refuse any request that would leave this machine."""
    if not offline():
        return
    if preset.base_url and is_loopback(preset.base_url):
        return
    raise NetworkRefused(FailureKind.REJECTED, f"refusing a real request to provider {preset.provider} "
                         f"(preset {preset.name}) while offline (under tests); use a scripted preset")


class PydanticAIBackend(Backend):
    """Calls a real model, built from the preset, or the model a test injected for the preset
    (a FunctionModel) through the run's ``models``.

    The model (pydantic-ai, the provider's SDK, its HTTP client) is imported and built in
    :meth:`prepare`, before the call is timed, and kept for the run's later calls.

    A request with ``tools`` is one model request offering them as function tools; the tool calls the
    model answers come back as the reply's ``tool_calls`` (not streamed: a turn of a tool loop)."""

    calls_tools = True

    def __init__(self, run: RunContext) -> None:
        super().__init__(run)
        self._models: dict[tuple[str, ...], Any] = {}

    def prepare(self, preset: Preset) -> None:
        assert isinstance(preset, ApiPreset)
        if self.run.models.get(preset.name) is None:
            offline_guard(preset)  # a request refused anyway builds no SDK client (a second of imports)
            try:
                self._model(preset)
            except Exception as exc:  # a model that cannot be built fails the attempt, as a call would
                raise translate_error(exc, preset) from exc
        import pydantic_ai.direct  # noqa: F401  (the request functions, loaded before the call is timed)

    def _model(self, preset: ApiPreset) -> Any:
        """The preset's model, built once per run (per endpoint, key and wire options)."""
        key = (preset.name, preset.model, preset.base_url or "", preset.api_key() or "",
               getattr(preset, "max_tokens_field", None) or "")
        if key not in self._models:
            self._models[key] = preset.wire_model(preset.api_key())
        return self._models[key]

    async def complete(self, preset: Preset, request: Request, on_delta: OnDelta | None) -> Reply:
        assert isinstance(preset, ApiPreset)
        injected = self.run.models.get(preset.name)
        if injected is None:
            offline_guard(preset)
        try:
            return await self._request(preset, request, on_delta, injected)
        except AttemptFailed:
            raise
        except Exception as exc:  # translated at the boundary; anything unknown re-raised
            raise translate_error(exc, preset) from exc

    async def _request(self, preset: ApiPreset, request: Request, on_delta: OnDelta | None,
                       injected: Any) -> Reply:
        from pydantic_ai.direct import model_request, model_request_stream
        from pydantic_ai.messages import PartDeltaEvent, PartStartEvent, TextPart, TextPartDelta

        model = injected if injected is not None else self._model(preset)
        # a text-only preset (a fallback of one that takes images) is sent the text alone
        messages = wire_messages(request.messages, request.attachments if preset.vision else ())
        settings: Any = preset.wire_settings()
        if request.tools:
            return await _tool_turn(model, messages, settings, request.tools, preset)
        if on_delta is None:
            response = await model_request(model, messages, model_settings=settings)
        else:
            async with model_request_stream(model, messages, model_settings=settings) as stream:
                async for event in stream:
                    if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                        on_delta(event.part.content)
                    elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                        on_delta(event.delta.content_delta)
                response = stream.get()
        text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
        if not text and response.finish_reason != "length":
            raise AttemptFailed(FailureKind.INVALID_OUTPUT, EMPTY_REPLY, advice=CONTEXT_ADVICE)
        return Reply(text=text, usage=reported_usage(response.usage), model=response.model_name or preset.model,
                     truncated=response.finish_reason == "length")


def reported_usage(u: Any) -> Usage | None:
    """The usage the server reported, or None when it reported none: pydantic-ai then counts 0 tokens
    (llama.cpp's server, for one, sends no usage in a stream). A server that reported one side only
    (its output, say, with 0 input) keeps what it reported: the send layer estimates the side missing."""
    if u.input_tokens <= 0 and u.output_tokens <= 0:
        return None
    return Usage(input_tokens=max(0, u.input_tokens), output_tokens=max(0, u.output_tokens),
                 cache_read_tokens=u.cache_read_tokens, cache_write_tokens=u.cache_write_tokens)


async def _tool_turn(model: Any, messages: list[Any], settings: Any, tools: tuple[Tool, ...],
                     preset: ApiPreset) -> Reply:
    """One turn of a tool loop: the model asked with ``tools`` offered, its text and tool calls."""
    from pydantic_ai.direct import model_request
    from pydantic_ai.messages import TextPart, ToolCallPart
    from pydantic_ai.models import ModelRequestParameters
    from pydantic_ai.tools import ToolDefinition

    params = ModelRequestParameters(function_tools=[
        ToolDefinition(name=t.name, description=t.description,
                       parameters_json_schema=dict(t.parameters) or {"type": "object", "properties": {}})
        for t in tools])
    response = await model_request(model, messages, model_settings=settings, model_request_parameters=params)
    text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
    calls = tuple(ToolCall(p.tool_call_id, p.tool_name, p.args_as_dict())
                  for p in response.parts if isinstance(p, ToolCallPart))
    if not text and not calls and response.finish_reason != "length":
        raise AttemptFailed(FailureKind.INVALID_OUTPUT, EMPTY_REPLY, advice=CONTEXT_ADVICE)
    return Reply(text=text, usage=reported_usage(response.usage), model=response.model_name or preset.model,
                 truncated=response.finish_reason == "length", tool_calls=calls)


def wire_messages(messages: tuple[Message, ...], attachments: tuple[Attachment, ...] = ()) -> list[Any]:
    """Our messages as pydantic-ai's: consecutive system, user and tool turns in one request, each
    assistant turn a response (its tool calls as ToolCallParts, their answers as ToolReturnParts).
    ``attachments`` go with the first user turn, as binary content after its text."""
    from pydantic_ai.messages import (
        BinaryContent,
        ModelRequest,
        ModelResponse,
        SystemPromptPart,
        TextPart,
        ToolCallPart,
        ToolReturnPart,
        UserPromptPart,
    )

    out: list[Any] = []
    parts: list[Any] = []
    for message in messages:
        if message.role == "assistant":
            if parts:
                out.append(ModelRequest(parts=parts))
                parts = []
            said: list[Any] = [TextPart(message.content)] if message.content or not message.tool_calls else []
            said += [ToolCallPart(c.name, dict(c.arguments), tool_call_id=c.id) for c in message.tool_calls]
            out.append(ModelResponse(parts=said))
        elif message.role == "tool":
            parts.append(ToolReturnPart(message.tool_name or "", message.content,
                                        tool_call_id=message.tool_call_id or ""))
        elif message.role == "system":
            parts.append(SystemPromptPart(message.content))
        elif attachments:
            parts.append(UserPromptPart([message.content, *(
                BinaryContent(a.data, media_type=a.media_type, identifier=a.name) for a in attachments)]))
            attachments = ()
        else:
            parts.append(UserPromptPart(message.content))
    if parts:
        out.append(ModelRequest(parts=parts))
    return out
