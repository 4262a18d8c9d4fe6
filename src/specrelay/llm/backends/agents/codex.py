"""Codex (``codex``), run as ``codex exec --json``.

Permissions: its sandbox, ``-s workspace-write`` when the step writes (commands may change files in the
working directory only), ``-s read-only`` when it only reads. Its JSONL events give the final message
(the last ``agent_message`` item), the commands it ran (``command_execution`` items) and the tokens of
each turn (``turn.completed``); it reports no cost, and its events do not name the model, so its tokens
are priced for the model it was asked for, or else the one its own config names.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from specrelay.errors import FailureKind
from specrelay.llm.backend import AgentReport, AttemptFailed, Reply
from specrelay.llm.backends.agents.base import AgentBackend, AgentPreset, count, json_objects, last_words, one_line
from specrelay.llm.pricing import Usage


class CodexPreset(AgentPreset):
    provider: Literal["codex"]

    binary: ClassVar[str] = "codex"
    install: ClassVar[str] = "npm install -g @openai/codex"
    agent_key_envs: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY", "CODEX_API_KEY")
    price_provider: ClassVar[str | None] = "openai"

    def keys_kept(self) -> set[str]:
        """Its own keys, and the one its config's model provider reads (``env_key``)."""
        own = provider_key(os.environ)
        return {*super().keys_kept(), *([own] if own else [])}


class CodexBackend(AgentBackend):
    def argv(self, preset: AgentPreset, writable: bool) -> list[str]:
        model = ["-m", preset.chosen_model] if preset.chosen_model else []
        return ["exec", "--json", "--skip-git-repo-check", "-s", "workspace-write" if writable else "read-only",
                *model]

    def parse(self, preset: AgentPreset, output: str) -> Reply:
        return parse_codex(preset, output, configured_model(preset, os.environ))


def parse_codex(preset: AgentPreset, output: str, model: str | None = None) -> Reply:
    """The reply in ``codex exec --json``'s events; ``model``: the model Codex ran (its events do not
    name it), to price its tokens by."""
    events = list(json_objects(output))
    turns = [e for e in events if e.get("type") == "turn.completed"]
    items = [e["item"] for e in events if e.get("type") == "item.completed" and isinstance(e.get("item"), dict)]
    messages = [str(i.get("text") or "") for i in items if i.get("type") == "agent_message"]
    used = [t["usage"] for t in turns if isinstance(t.get("usage"), dict)]
    fresh = sum(count(u.get("input_tokens")) for u in used)  # cached input included, as OpenAI counts it
    cached = sum(count(u.get("cached_input_tokens")) for u in used)
    out = sum(count(u.get("output_tokens")) for u in used)
    tools = tuple(str(i.get("type")) for i in items if i.get("type") not in ("agent_message", "reasoning", "error"))
    thread = next((e.get("thread_id") for e in events if e.get("type") == "thread.started"), None)
    reply = Reply(text=messages[-1] if messages else "", model=model or preset.model,
                  usage=Usage(input_tokens=fresh, output_tokens=out, cache_read_tokens=cached) if used else None,
                  agent=AgentReport(turns=len(turns), tools=tools,
                                    session=thread if isinstance(thread, str) else None))
    failed = next((e for e in events if e.get("type") == "turn.failed"), None)
    if failed is not None:
        error = failed.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        raise AttemptFailed(FailureKind.ERROR, f"codex failed: {one_line(str(message or 'turn failed'))}",
                            model=reply.model, spent=reply)
    if not turns or not messages:
        raise AttemptFailed(FailureKind.INVALID_OUTPUT, "codex printed no final message: "
                            + last_words(output), model=reply.model, spent=reply)
    return reply


def configured_model(preset: AgentPreset, env: Mapping[str, str]) -> str | None:
    """The model a Codex run uses: the preset's, else ``-m``/``--model`` or ``-c model=...`` in its
    ``args``, else the ``model`` of Codex's own config (``$CODEX_HOME/config.toml``, by default
    ``~/.codex/config.toml``); None when none names one."""
    if preset.chosen_model:
        return preset.chosen_model
    args = list(preset.args)
    for i, arg in enumerate(args):
        if arg in ("-m", "--model") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--model="):
            return arg.split("=", 1)[1]
        if arg in ("-c", "--config") and i + 1 < len(args) and args[i + 1].replace(" ", "").startswith("model="):
            return args[i + 1].split("=", 1)[1].strip().strip("\"'")
    value = codex_config(env).get("model")
    return value if isinstance(value, str) and value.strip() else None


def codex_config(env: Mapping[str, str]) -> dict[str, Any]:
    """Codex's own ``config.toml`` (``$CODEX_HOME``, by default ``~/.codex``); empty when there is none."""
    home = Path(env["CODEX_HOME"]) if env.get("CODEX_HOME") else Path(env.get("HOME", "~")).expanduser() / ".codex"
    try:
        with (home / "config.toml").open("rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def provider_key(env: Mapping[str, str]) -> str | None:
    """The key variable of the model provider Codex's config chooses (``env_key`` of
    ``[model_providers.NAME]``, for a gateway or a server of the user's), or None."""
    config = codex_config(env)
    providers = config.get("model_providers")
    chosen = providers.get(config.get("model_provider")) if isinstance(providers, dict) else None
    key = chosen.get("env_key") if isinstance(chosen, dict) else None
    return key if isinstance(key, str) and key.strip() else None
