"""Real providers through pydantic-ai: Anthropic, OpenAI, Google Gemini, any OpenAI-compatible server.

pydantic-ai and the provider SDKs are imported here, inside functions, and nowhere else, so that
the CLI starts fast. SDK retries are turned off (``max_retries=0``): the client owns retrying.
Errors are translated into :class:`~specrelay.llm.backend.AttemptFailed` at this boundary.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import urlparse

from specrelay.config import Preset
from specrelay.errors import FailureKind
from specrelay.llm.backend import AttemptFailed, OnDelta, Reply
from specrelay.llm.pricing import Usage


class NetworkRefused(AttemptFailed):
    """A real provider request attempted where the network is off (tests)."""


def offline() -> bool:
    """True when the offline switch is on: ``SPECRELAY_OFFLINE`` set to anything but empty or ``0``
    (the test suite sets it for the whole session, its subprocesses included)."""
    return os.environ.get("SPECRELAY_OFFLINE", "") not in ("", "0")


def offline_guard(preset: Preset) -> None:
    """With the offline switch on, refuse any request that would leave this machine."""
    if not offline():
        return
    host = urlparse(preset.base_url or "").hostname
    if host and _is_loopback(host):
        return
    raise NetworkRefused(FailureKind.REJECTED, f"refusing a real request to provider {preset.provider} "
                         f"(preset {preset.name}) while offline (under tests); use a scripted preset")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_model(preset: Preset, api_key: str | None) -> Any:
    """A pydantic-ai Model for a preset."""
    if preset.provider == "anthropic":
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        return AnthropicModel(preset.model, provider=AnthropicProvider(api_key=api_key, base_url=preset.base_url))
    if preset.provider == "google":
        from pydantic_ai.models.google import GoogleModel
        from pydantic_ai.providers.google import GoogleProvider

        return GoogleModel(preset.model, provider=GoogleProvider(api_key=api_key, base_url=preset.base_url))
    if preset.provider in ("openai", "openai-compatible"):
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        # Local servers (Ollama, llama.cpp) accept any key; the SDK insists on one being set.
        key = api_key or ("not-needed" if preset.provider == "openai-compatible" else None)
        return OpenAIChatModel(preset.model, provider=OpenAIProvider(base_url=preset.base_url, api_key=key))
    raise AttemptFailed(FailureKind.REJECTED, f"provider {preset.provider} is not served by pydantic-ai")


def model_settings(preset: Preset) -> dict[str, Any]:
    settings: dict[str, Any] = {"max_retries": 0, "request_timeout": preset.timeout_s}
    if preset.max_tokens is not None:
        settings["max_tokens"] = preset.max_tokens
    if preset.temperature is not None:
        settings["temperature"] = preset.temperature
    if preset.reasoning_effort is not None:
        settings["thinking"] = preset.reasoning_effort
    return settings


class PydanticAIBackend:
    """Calls a real model. ``model`` may be given (tests pass a FunctionModel); otherwise built from the preset."""

    def __init__(self, api_key: str | None = None, model: Any = None) -> None:
        self.api_key = api_key
        self.model = model

    async def complete(self, preset: Preset, system: str, user: str, on_delta: OnDelta | None) -> Reply:
        if self.model is None:
            offline_guard(preset)
        try:
            return await self._request(preset, system, user, on_delta)
        except AttemptFailed:
            raise
        except Exception as exc:  # translated at the boundary; anything unknown re-raised
            raise translate_error(exc, preset) from exc

    async def _request(self, preset: Preset, system: str, user: str, on_delta: OnDelta | None) -> Reply:
        from pydantic_ai.direct import model_request, model_request_stream
        from pydantic_ai.messages import (
            ModelRequest,
            PartDeltaEvent,
            PartStartEvent,
            SystemPromptPart,
            TextPart,
            TextPartDelta,
            UserPromptPart,
        )

        model = self.model if self.model is not None else build_model(preset, self.api_key)
        messages = [ModelRequest(parts=[SystemPromptPart(system), UserPromptPart(user)])]
        settings: Any = model_settings(preset)
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
        u = response.usage
        usage = Usage(input_tokens=u.input_tokens, output_tokens=u.output_tokens,
                      cache_read_tokens=u.cache_read_tokens, cache_write_tokens=u.cache_write_tokens)
        return Reply(text=text, usage=usage, model=response.model_name or preset.model,
                     truncated=response.finish_reason == "length")


def translate_error(exc: Exception, preset: Preset) -> Exception:
    """Map pydantic-ai / SDK / socket errors to AttemptFailed; return anything else unchanged."""
    from pydantic_ai.exceptions import (
        ModelAPIError,
        ModelConnectionError,
        ModelHTTPError,
        ModelRequestTimeout,
        ModelTimeoutError,
        UnexpectedModelBehavior,
    )

    if isinstance(exc, ModelHTTPError):
        status = exc.status_code
        return AttemptFailed(FailureKind.of_status(status), _short(exc.body or exc), status=status,
                             retry_after=exc.retry_after)
    if isinstance(exc, ModelTimeoutError | ModelRequestTimeout | TimeoutError):
        return AttemptFailed(FailureKind.TIMEOUT, f"no answer within the time limit ({preset.timeout_s:g} s)")
    if isinstance(exc, ModelConnectionError | ConnectionError):
        return AttemptFailed(FailureKind.CONNECTION, _short(exc.__cause__ or exc))
    if isinstance(exc, ModelAPIError):
        return AttemptFailed(FailureKind.ERROR, _short(exc), retry_after=exc.retry_after)
    if isinstance(exc, UnexpectedModelBehavior):
        return AttemptFailed(FailureKind.INVALID_OUTPUT, _short(exc))
    return exc


def _short(value: object, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
