"""Model families: whose models a preset runs, for steps that want a model of another family.

A debate's challenger must be of another family than its proposer ("disagreement exposes hidden
assumptions" only between models that do not share them). A preset's family is its ``family`` field
when set; otherwise its backend guesses it (:meth:`specrelay.config.Preset.guessed_family`): an API
provider is its own family, an agent CLI the family of the models it is made for, and a server of many
families (OpenAI-compatible, OpenCode, Aider) the family its model id names, through the data below.
"""

from __future__ import annotations

import re

#: The first word of a model id and the family it names (``claude-sonnet-5`` → anthropic).
MODEL_PREFIXES: dict[str, str] = {
    "claude": "anthropic",
    "gpt": "openai",
    "o1": "openai",
    "o3": "openai",
    "o4": "openai",
    "codex": "openai",
    "gemini": "google",
    "gemma": "google",
    "llama": "meta",
    "qwen": "qwen",
    "qwq": "qwen",
    "mistral": "mistral",
    "mixtral": "mistral",
    "codestral": "mistral",
    "devstral": "mistral",
    "deepseek": "deepseek",
    "grok": "xai",
    "phi": "microsoft",
    "smollm": "huggingface",
    "kimi": "moonshot",
    "glm": "zhipu",
}

#: The vendor part of ``vendor/model`` ids (OpenRouter, OpenCode, Aider) and the family it names.
VENDORS: dict[str, str] = {"anthropic": "anthropic", "openai": "openai", "google": "google",
                           "gemini": "google", "meta-llama": "meta", "mistralai": "mistral",
                           "deepseek": "deepseek", "x-ai": "xai", "qwen": "qwen"}


def from_model(model: str) -> str | None:
    """The family a model id names (``anthropic/claude-x``, ``qwen2.5-coder:7b``, ``o3-mini``), or None when
    it names none this table knows."""
    vendor, _, name = model.lower().rpartition("/")
    vendor = vendor.rpartition("/")[2]
    for word in (name, vendor):
        found = _WORD.match(word)
        if found is None:
            continue
        for head in (found.group(0), found.group(1)):  # "o3" as it is, "qwen2" as "qwen"
            if head in MODEL_PREFIXES:
                return MODEL_PREFIXES[head]
    return VENDORS.get(vendor)


_WORD = re.compile(r"([a-z]+)\d*")
