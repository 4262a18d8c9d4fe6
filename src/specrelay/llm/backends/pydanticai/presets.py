"""The preset types of the providers pydantic-ai serves, and what each sends: its model (the SDK
client), and its settings in that provider's own form (the output cap, temperature, reasoning effort).

Each provider is a preset type of its own (its key variables, its endpoint); they share the fields of
:class:`ApiPreset`. pydantic-ai and the SDKs are imported inside the methods, when a call is prepared.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from specrelay import family
from specrelay.config import Preset, Text, is_http_url
from specrelay.errors import ConfigError


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

    def guessed_family(self) -> str:
        # A server of any model: the family its model id names, else the model itself (only the same
        # model counts as the same family until the preset says `family`).
        return family.from_model(self.model) or f"{self.provider}:{self.model}"

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
