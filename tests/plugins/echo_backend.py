"""A backend from outside specrelay, as a plugin package would ship one: one module, one registration.

It answers with its preset's ``prefix`` and the last user message, and counts a token a word. A test
installs it through the ``specrelay.backends`` entry points; nothing in ``src/`` names it.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from specrelay.config import Preset
from specrelay.llm import Backend, Reply, Request, Usage
from specrelay.llm.backend import OnDelta
from specrelay.registry import register_backend


class EchoPreset(Preset):
    """``[presets.NAME] provider = "echo"``, with the field this backend brings."""

    provider: Literal["echo"]
    prefix: str = "echo: "


class EchoBackend(Backend):
    reports_usage: ClassVar[bool] = True

    async def complete(self, preset: Preset, request: Request, on_delta: OnDelta | None) -> Reply:
        assert isinstance(preset, EchoPreset)
        last = next(m.content for m in reversed(request.messages) if m.role == "user")
        text = preset.prefix + last.splitlines()[-1]
        if on_delta is not None:
            on_delta(text)
        usage = Usage(input_tokens=len(request.text.split()), output_tokens=len(text.split()))
        return Reply(text=text, usage=usage, model=f"{preset.model}-echo")


register_backend(EchoBackend, EchoPreset)
