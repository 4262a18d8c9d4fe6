"""External coding agents as backends: Claude Code, Codex, Gemini CLI, OpenCode and Aider, each run
headless in the request's working directory (``base``: what they share; one module per agent)."""

from __future__ import annotations

from specrelay.llm.backends.agents.aider import AiderBackend, AiderPreset
from specrelay.llm.backends.agents.base import AgentBackend, AgentPreset, binary_version, find_binary
from specrelay.llm.backends.agents.claude_code import ClaudeCodeBackend, ClaudeCodePreset
from specrelay.llm.backends.agents.codex import CodexBackend, CodexPreset
from specrelay.llm.backends.agents.gemini_cli import GeminiCliBackend, GeminiCliPreset
from specrelay.llm.backends.agents.opencode import OpenCodeBackend, OpenCodePreset
from specrelay.registry import register_backend

__all__ = ["AgentBackend", "AgentPreset", "AiderBackend", "AiderPreset", "ClaudeCodeBackend", "ClaudeCodePreset",
           "CodexBackend", "CodexPreset", "GeminiCliBackend", "GeminiCliPreset", "OpenCodeBackend", "OpenCodePreset",
           "binary_version", "find_binary"]

register_backend(ClaudeCodeBackend, ClaudeCodePreset)
register_backend(CodexBackend, CodexPreset)
register_backend(GeminiCliBackend, GeminiCliPreset)
register_backend(OpenCodeBackend, OpenCodePreset)
register_backend(AiderBackend, AiderPreset)
