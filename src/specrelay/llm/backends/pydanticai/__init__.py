"""Real providers through pydantic-ai: Anthropic, OpenAI, Google Gemini, any OpenAI-compatible server.

pydantic-ai and the provider SDKs are imported in this package, inside functions, and nowhere else, so
that the CLI starts fast. SDK retries are turned off (``max_retries=0``): the retry layer owns retrying.
Errors are translated into :class:`~specrelay.llm.backend.AttemptFailed` at this boundary.

- ``presets``: a preset type per provider, and what it sends in that provider's form;
- ``backend``: :class:`PydanticAIBackend`, which serves them all, and the offline guard;
- ``errors``: the translation of errors.
"""

from __future__ import annotations

from specrelay.llm.backends.pydanticai.backend import NetworkRefused, PydanticAIBackend, offline_guard
from specrelay.llm.backends.pydanticai.presets import (
    AnthropicPreset,
    ApiPreset,
    GooglePreset,
    OpenAICompatiblePreset,
    OpenAIPreset,
)
from specrelay.registry import register_backend

__all__ = ["AnthropicPreset", "ApiPreset", "GooglePreset", "NetworkRefused", "OpenAICompatiblePreset",
           "OpenAIPreset", "PydanticAIBackend", "offline_guard"]

register_backend(PydanticAIBackend, AnthropicPreset, OpenAIPreset, GooglePreset, OpenAICompatiblePreset)
