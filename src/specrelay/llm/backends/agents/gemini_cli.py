"""Gemini CLI (``gemini``), run as ``gemini --output-format json``.

Permissions: ``--approval-mode auto_edit`` when the step writes (its file tools are allowed, shell
commands are not), ``--approval-mode default`` when it only reads (headless, it is then offered read-only
tools only). Its JSON object gives the answer (``response``), the tokens per model
(``stats.models.M.tokens``), the requests made and the tools called (``stats.tools.byName``); it reports
no cost, so its tokens are priced for the model that answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from specrelay.errors import FailureKind
from specrelay.llm.backend import AgentReport, AttemptFailed, Reply
from specrelay.llm.backends.agents.base import AgentBackend, AgentPreset, count, json_objects, last_words, one_line
from specrelay.llm.pricing import Usage


class GeminiCliPreset(AgentPreset):
    provider: Literal["gemini-cli"]

    binary: ClassVar[str] = "gemini"
    install: ClassVar[str] = "npm install -g @google/gemini-cli"
    agent_key_envs: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    price_provider: ClassVar[str | None] = "google"


class GeminiCliBackend(AgentBackend):
    def argv(self, preset: AgentPreset, writable: bool) -> list[str]:
        model = ["-m", preset.chosen_model] if preset.chosen_model else []
        return ["--output-format", "json", "--approval-mode", "auto_edit" if writable else "default", *model]

    def prompt_argv(self, prompt: str) -> list[str]:
        return ["-p", prompt]

    def extra_env(self, preset: AgentPreset, writable: bool, cwd: Path) -> Mapping[str, str]:
        return {"GEMINI_CLI_TRUST_WORKSPACE": "true"}  # the worktree is the user's own checkout

    def parse(self, preset: AgentPreset, output: str) -> Reply:
        return parse_gemini(preset, output)


def parse_gemini(preset: AgentPreset, output: str) -> Reply:
    """The reply in ``gemini --output-format json``'s object."""
    found = [o for o in json_objects(output) if "response" in o or "stats" in o or "error" in o]
    if not found:
        raise AttemptFailed(FailureKind.INVALID_OUTPUT, "gemini printed no JSON result: " + last_words(output),
                            model=preset.model)
    result = found[-1]
    stats = _dict(result.get("stats"))
    models = {m: s for m, s in _dict(stats.get("models")).items() if isinstance(s, dict)}
    tokens = [_dict(s.get("tokens")) for s in models.values()]
    prompt = sum(count(t.get("prompt")) for t in tokens)  # cached input included
    cached = sum(count(t.get("cached")) for t in tokens)
    out = sum(count(t.get("candidates")) + count(t.get("thoughts")) for t in tokens)
    requests = sum(count(_dict(s.get("api")).get("totalRequests")) for s in models.values())
    model = max(models, key=lambda m: _output(models[m])) if models else preset.model
    text = result.get("response")
    reply = Reply(text=text if isinstance(text, str) else "", model=model,
                  usage=Usage(input_tokens=prompt, output_tokens=out, cache_read_tokens=cached) if models else None,
                  agent=AgentReport(turns=requests or None, tools=_tools(stats)))
    error = result.get("error")
    if isinstance(error, dict) and error:  # what it had used by then is on record all the same
        raise AttemptFailed(FailureKind.ERROR, f"gemini failed: {one_line(str(error.get('message') or error))}",
                            model=preset.model, spent=reply)
    if not isinstance(text, str):
        raise AttemptFailed(FailureKind.INVALID_OUTPUT, "gemini's result holds no response", model=preset.model,
                            spent=reply)
    return reply


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _output(stats: dict[str, Any]) -> int:
    tokens = stats.get("tokens")
    return count(tokens.get("candidates")) if isinstance(tokens, dict) else 0


def _tools(stats: dict[str, Any]) -> tuple[str, ...]:
    by_name = _dict(_dict(stats.get("tools")).get("byName"))
    return tuple(name for name, s in by_name.items() for _ in range(count(_dict(s).get("count"))))
