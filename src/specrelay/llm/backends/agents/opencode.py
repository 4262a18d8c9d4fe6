"""OpenCode (``opencode``), run as ``opencode run --pure --format json``.

Permissions: its ``build`` agent when the step writes (its file tools edit the working directory), its
``plan`` agent when it only reads (edits denied). Its JSONL events give the answer (``text`` parts), the
tools it called (``tool_use``), and per step the tokens (``step_finish.part.tokens``, input without the
cached part) and the cost OpenCode computed, recorded as the agent's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from specrelay.errors import FailureKind
from specrelay.llm.backend import AgentReport, AttemptFailed, Reply
from specrelay.llm.backends.agents.base import (
    AgentBackend,
    AgentPreset,
    count,
    every_provider_key,
    json_objects,
    last_words,
    one_line,
    provider_keys,
)
from specrelay.llm.pricing import Usage


class OpenCodePreset(AgentPreset):
    provider: Literal["opencode"]

    binary: ClassVar[str] = "opencode"
    install: ClassVar[str] = "npm install -g opencode-ai"
    # OpenCode serves many providers: the keys it may read are those of the provider its model names.
    agent_key_envs: ClassVar[tuple[str, ...]] = ()

    def keys_kept(self) -> set[str]:
        # With no model named, OpenCode picks one from its own config: any of the usual keys may be it.
        own = every_provider_key() if self.chosen_model is None else provider_keys(self.model)
        return {*own, *super().keys_kept()}


class OpenCodeBackend(AgentBackend):
    def argv(self, preset: AgentPreset, writable: bool) -> list[str]:
        model = ["-m", preset.chosen_model] if preset.chosen_model else []
        return ["run", "--pure", "--format", "json", "--agent", "build" if writable else "plan", *model]

    def extra_env(self, preset: AgentPreset, writable: bool, cwd: Path) -> Mapping[str, str]:
        # A task's worktree lives inside the repository's .specrelay/ folder, which OpenCode takes for a
        # directory outside the project and refuses headless: the worktree (and only it) is allowed.
        folder = str(cwd.resolve())
        permission = {"external_directory": {folder: "allow", f"{folder}/*": "allow"}}
        return {"OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_SHARE": "1",
                "OPENCODE_CONFIG_CONTENT": json.dumps({"permission": permission})}

    def parse(self, preset: AgentPreset, output: str) -> Reply:
        return parse_opencode(preset, output)


def parse_opencode(preset: AgentPreset, output: str) -> Reply:
    """The reply in ``opencode run --format json``'s events (a failure carries what the steps before it used)."""
    events = list(json_objects(output))
    parts = [(e.get("type"), e["part"]) for e in events if isinstance(e.get("part"), dict)]
    steps = [p for kind, p in parts if kind == "step_finish"]
    texts = [str(p.get("text") or "") for kind, p in parts if kind == "text"]
    tokens = [p.get("tokens") if isinstance(p.get("tokens"), dict) else {} for p in steps]
    read = sum(count(_cache(t).get("read")) for t in tokens)
    write = sum(count(_cache(t).get("write")) for t in tokens)
    fresh = sum(count(t.get("input")) for t in tokens)
    out = sum(count(t.get("output")) + count(t.get("reasoning")) for t in tokens)
    costs = [p.get("cost") for p in steps if isinstance(p.get("cost"), int | float)]
    tools = tuple(str(p.get("tool")) for kind, p in parts if kind == "tool_use")
    session = next((p.get("sessionID") for _, p in parts if isinstance(p.get("sessionID"), str)), None)
    reply = Reply(text=texts[-1] if texts else "", model=preset.model,
                  usage=Usage(input_tokens=fresh + read + write, output_tokens=out, cache_read_tokens=read,
                              cache_write_tokens=write) if steps else None,
                  cost_usd=float(sum(costs)) if costs else None, cost_source="agent",
                  agent=AgentReport(turns=len(steps), tools=tools, session=session))
    errors = [e for e in events if e.get("type") == "error"]
    if errors:
        error = errors[-1].get("error")
        data = error.get("data") if isinstance(error, dict) else None
        message = (data.get("message") if isinstance(data, dict) else None) or (
            error.get("message") if isinstance(error, dict) else None) or error
        raise AttemptFailed(FailureKind.ERROR, f"opencode failed: {one_line(str(message))}", model=preset.model,
                            spent=reply)
    if not steps or not texts:
        raise AttemptFailed(FailureKind.INVALID_OUTPUT, "opencode printed no answer: " + last_words(output),
                            model=preset.model, spent=reply)
    return reply


def _cache(tokens: dict[str, Any]) -> dict[str, Any]:
    cache = tokens.get("cache")
    return cache if isinstance(cache, dict) else {}
