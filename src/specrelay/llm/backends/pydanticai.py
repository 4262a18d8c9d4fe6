"""Real providers through pydantic-ai: Anthropic, OpenAI, Google Gemini, any OpenAI-compatible server.

pydantic-ai and the provider SDKs are imported here, inside functions, and nowhere else, so that
the CLI starts fast. SDK retries are turned off (``max_retries=0``): the retry layer owns retrying.
Errors are translated into :class:`~specrelay.llm.backend.AttemptFailed` at this boundary.

Each provider is a preset type of its own (its key variables, its endpoint), all served by
:class:`PydanticAIBackend`; they share the fields of :class:`ApiPreset`.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any, ClassVar, Literal
from urllib.parse import urlparse

from specrelay.config import Preset, Text, is_http_url
from specrelay.errors import ConfigError, FailureKind
from specrelay.llm.backend import AttemptFailed, Backend, Message, OnDelta, Reply, Request, RunContext
from specrelay.llm.pricing import Usage
from specrelay.registry import register_backend


class ApiPreset(Preset):
    """A model served over a provider's HTTP API."""

    base_url: Text | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high", "xhigh", "max"] | None = None

    @property
    def endpoint(self) -> str | None:
        return self.base_url

    def wire_model(self, api_key: str | None) -> Any:
        """The pydantic-ai Model for this preset."""
        raise NotImplementedError(f"{type(self).__name__} has no pydantic-ai model")

    def wire_settings(self) -> dict[str, Any]:
        """pydantic-ai's model settings for this preset's calls: the output cap, the temperature, the
        reasoning effort (in pydantic-ai's unified ``thinking``, which each model class turns into its
        provider's own form)."""
        settings: dict[str, Any] = {"max_retries": 0, "request_timeout": self.timeout_s}
        if self.max_tokens is not None:
            settings["max_tokens"] = self.max_tokens
        if self.temperature is not None:
            settings["temperature"] = self.temperature
        if self.reasoning_effort is not None:
            settings["thinking"] = self.reasoning_effort
        return settings

    def check(self) -> None:
        if self.base_url is not None and not is_http_url(self.base_url):
            raise ConfigError(f"{self.where('base_url')}: [presets.{self.name}] base_url "
                              f"{self.base_url!r} is not an http:// or https:// URL; write it in full, e.g. "
                              "base_url = \"http://localhost:11434/v1\".")


#: The least ``budget_tokens`` Anthropic's extended thinking accepts.
ANTHROPIC_MIN_THINKING_BUDGET = 1024


class AnthropicPreset(ApiPreset):
    provider: Literal["anthropic"]
    default_key_envs: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY",)

    def wire_model(self, api_key: str | None) -> Any:
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        return AnthropicModel(self.model, provider=AnthropicProvider(api_key=api_key, base_url=self.base_url))

    def wire_settings(self) -> dict[str, Any]:
        settings = super().wire_settings()
        if self.reasoning_effort is None:
            return settings
        from pydantic_ai.profiles.anthropic import ANTHROPIC_THINKING_BUDGET_MAP, anthropic_model_profile

        # With thinking on, the API refuses any temperature but 1 (a built-in temperature may be inherited).
        settings.pop("temperature", None)
        if (anthropic_model_profile(self.model) or {}).get("anthropic_supports_adaptive_thinking", False):
            return settings  # adaptive thinking: the effort is sent as output_config.effort, no budget
        # Extended thinking: the budget counts toward max_tokens and must stay below it (the API refuses
        # the request otherwise), with room left for the answer; under 1,024 tokens it cannot think.
        budget = ANTHROPIC_THINKING_BUDGET_MAP[self.reasoning_effort]
        if self.max_tokens is not None:
            budget = min(budget, self.max_tokens // 2)
        del settings["thinking"]
        if budget >= ANTHROPIC_MIN_THINKING_BUDGET:
            settings["anthropic_thinking"] = {"type": "enabled", "budget_tokens": budget}
        return settings


class _ChatPreset(ApiPreset):
    """A preset served through OpenAI's chat completions API (OpenAI itself, or a server speaking it)."""

    #: The request field the output cap is sent in: OpenAI honours ``max_completion_tokens``, most
    #: OpenAI-compatible servers (llama.cpp, vLLM, Ollama, OpenRouter) only ``max_tokens``.
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] | None = None
    #: The field used when the preset names none.
    default_max_tokens_field: ClassVar[str] = "max_completion_tokens"

    def chat_model(self, api_key: str | None) -> Any:
        """pydantic-ai's chat model for this preset, sending the cap in the field the server honours."""
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.profiles.openai import OpenAIModelProfile
        from pydantic_ai.providers.openai import OpenAIProvider

        field = self.max_tokens_field or self.default_max_tokens_field
        profile = OpenAIModelProfile(openai_chat_supports_max_completion_tokens=field == "max_completion_tokens")
        return OpenAIChatModel(self.model, provider=OpenAIProvider(base_url=self.base_url, api_key=api_key),
                               profile=profile)

    def wire_settings(self) -> dict[str, Any]:
        settings = super().wire_settings()
        if "temperature" in settings and self.reasons():
            # OpenAI refuses sampling parameters while a model reasons; pydantic-ai would drop it too, with
            # a Python warning on the user's terminal.
            del settings["temperature"]
        return settings

    def reasons(self) -> bool:
        """Whether this preset's calls make the model reason: OpenAI's reasoning models do when asked
        for an effort, and some by default."""
        from pydantic_ai.profiles.openai import openai_model_profile

        profile = openai_model_profile(self.model)
        return bool(profile.get("openai_supports_reasoning", False)) and (
            self.reasoning_effort is not None or bool(profile.get("thinking_enabled_by_default", False)))


class OpenAIPreset(_ChatPreset):
    provider: Literal["openai"]
    default_key_envs: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)

    def wire_model(self, api_key: str | None) -> Any:
        return self.chat_model(api_key)


#: Gemini 2.5's thinking budget per effort (pydantic-ai's own figures), and the least it takes (2.5 Pro).
GEMINI_THINKING_BUDGETS = {"minimal": 128, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 24576,
                           "max": 24576}
GEMINI_MIN_THINKING_BUDGET = 128


class GooglePreset(ApiPreset):
    provider: Literal["google"]
    default_key_envs: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

    def wire_model(self, api_key: str | None) -> Any:
        from pydantic_ai.models.google import GoogleModel
        from pydantic_ai.providers.google import GoogleProvider

        return GoogleModel(self.model, provider=GoogleProvider(api_key=api_key, base_url=self.base_url))

    def wire_settings(self) -> dict[str, Any]:
        settings = super().wire_settings()
        if self.reasoning_effort is None or self.max_tokens is None:
            return settings
        from pydantic_ai.profiles.google import google_model_profile

        if (google_model_profile(self.model) or {}).get("google_supports_thinking_level", True):
            return settings  # Gemini 3 and later: a thinking level, which no budget arithmetic applies to
        # Gemini 2.5: its thinking tokens count toward maxOutputTokens; a budget above the cap would leave
        # no room for the answer (an empty reply cut at MAX_TOKENS), so it is kept to half the cap.
        budget = min(GEMINI_THINKING_BUDGETS[self.reasoning_effort], self.max_tokens // 2)
        del settings["thinking"]
        settings["google_thinking_config"] = {"include_thoughts": True,
                                              "thinking_budget": max(budget, GEMINI_MIN_THINKING_BUDGET)}
        return settings


class OpenAICompatiblePreset(_ChatPreset):
    """Any server speaking OpenAI's chat API (Ollama, vLLM, llama.cpp server, OpenRouter)."""

    provider: Literal["openai-compatible"]
    default_max_tokens_field: ClassVar[str] = "max_tokens"

    @property
    def concurrency_key(self) -> str:
        return f"openai-compatible:{self.base_url}"

    def wire_settings(self) -> dict[str, Any]:
        settings = super().wire_settings()
        if self.reasoning_effort is not None:
            # pydantic-ai sends the unified setting only to models it knows reason, and a served model's
            # name tells it nothing: the preset says so, so the effort is sent as OpenAI's field.
            from pydantic_ai.profiles.openai import OPENAI_REASONING_EFFORT_MAP

            del settings["thinking"]
            settings["openai_reasoning_effort"] = OPENAI_REASONING_EFFORT_MAP[self.reasoning_effort]
        return settings

    def price_model(self) -> tuple[str, str | None] | None:
        return self.model, None  # whoever serves it, the model's own price, if the table knows it

    def wire_model(self, api_key: str | None) -> Any:
        # Local servers (Ollama, llama.cpp) accept any key; the SDK insists on one being set.
        return self.chat_model(api_key or "not-needed")

    def check(self) -> None:
        if not self.base_url:
            raise ConfigError(f"{self.where('provider')}: [presets.{self.name}] needs a base_url for "
                              "provider openai-compatible, e.g. base_url = \"http://localhost:11434/v1\".")
        super().check()


class NetworkRefused(AttemptFailed):
    """A real provider request attempted where the network is off (tests)."""


def offline() -> bool:
    """True when the offline switch is on: ``SPECRELAY_OFFLINE`` set to anything but empty or ``0``
    (the test suite sets it for the whole session, its subprocesses included)."""
    return os.environ.get("SPECRELAY_OFFLINE", "") not in ("", "0")


def offline_guard(preset: ApiPreset) -> None:
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


class PydanticAIBackend(Backend):
    """Calls a real model, built from the preset, or the model a test injected for the preset
    (a FunctionModel) through the run's ``models``.

    The model (pydantic-ai, the provider's SDK, its HTTP client) is imported and built in
    :meth:`prepare`, before the call is timed, and kept for the run's later calls."""

    def __init__(self, run: RunContext) -> None:
        super().__init__(run)
        self._models: dict[tuple[str, ...], Any] = {}

    def prepare(self, preset: Preset) -> None:
        assert isinstance(preset, ApiPreset)
        if self.run.models.get(preset.name) is None:
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
        messages = wire_messages(request.messages)
        settings: Any = preset.wire_settings()
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
    (llama.cpp's server, for one, sends no usage in a stream), and a prompt is never 0 tokens."""
    if u.input_tokens <= 0:
        return None
    return Usage(input_tokens=u.input_tokens, output_tokens=u.output_tokens,
                 cache_read_tokens=u.cache_read_tokens, cache_write_tokens=u.cache_write_tokens)


def wire_messages(messages: tuple[Message, ...]) -> list[Any]:
    """Our messages as pydantic-ai's: consecutive system and user turns in one request, each
    assistant turn a response."""
    from pydantic_ai.messages import ModelRequest, ModelResponse, SystemPromptPart, TextPart, UserPromptPart

    out: list[Any] = []
    parts: list[Any] = []
    for message in messages:
        if message.role == "assistant":
            if parts:
                out.append(ModelRequest(parts=parts))
                parts = []
            out.append(ModelResponse(parts=[TextPart(message.content)]))
        else:
            parts.append((SystemPromptPart if message.role == "system" else UserPromptPart)(message.content))
    if parts:
        out.append(ModelRequest(parts=parts))
    return out


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
        message = server_message(exc.body) or str(exc)
        return AttemptFailed(FailureKind.of_status(status), _short(message), status=status,
                             retry_after=exc.retry_after,
                             advice=CONTEXT_ADVICE if is_context_overflow(exc.body) else None)
    if isinstance(exc, ModelTimeoutError | ModelRequestTimeout | TimeoutError):
        return AttemptFailed(FailureKind.TIMEOUT, f"no answer within the time limit ({preset.timeout_s:g} s)")
    if isinstance(exc, ModelConnectionError | ConnectionError):
        return AttemptFailed(FailureKind.CONNECTION, _short(exc.__cause__ or exc))
    if isinstance(exc, ModelAPIError):
        return AttemptFailed(FailureKind.ERROR, _short(exc), retry_after=exc.retry_after)
    if isinstance(exc, UnexpectedModelBehavior):
        if "ended without content" in str(exc):  # pydantic-ai's words for a stream that sent nothing
            return AttemptFailed(FailureKind.INVALID_OUTPUT, EMPTY_REPLY, advice=CONTEXT_ADVICE)
        return AttemptFailed(FailureKind.INVALID_OUTPUT, _short(exc))
    return exc


#: A reply with no text and no error: what a local server sends when the prompt overflows its context.
EMPTY_REPLY = ("the server answered but sent no text and no error (an empty reply); a local server does "
               "this when the prompt does not fit its context size")
CONTEXT_ADVICE = ("make the prompt fit the model's context: raise the server's context size (llama.cpp "
                  "--ctx-size / n_ctx, Ollama num_ctx, vLLM --max-model-len), lower the preset's max_tokens, "
                  "or send less")


def server_message(body: object) -> str | None:
    """The message an error body carries (``{"error": {"message": ...}}``, ``{"message": ...}``, or
    text), without the rest of the JSON."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else None
        if isinstance(message, str):
            return message
        if isinstance(inner, str):
            return inner
    if isinstance(body, str) and body.strip():
        return body
    return None


def is_context_overflow(body: object) -> bool:
    """Whether an error body says the prompt did not fit the model's context (llama.cpp, vLLM, OpenAI,
    Anthropic and Gemini each word it their own way)."""
    text = str(body).lower()
    return any(sign in text for sign in ("context size", "context length", "context window",
                                         "context_length_exceeded", "exceed_context", "prompt is too long",
                                         "maximum context", "input token count"))

def _short(value: object, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


register_backend(PydanticAIBackend, AnthropicPreset, OpenAIPreset, GooglePreset, OpenAICompatiblePreset)
