"""Codex (``codex``), run as ``codex exec --json``.

Permissions: its sandbox, ``-s workspace-write`` when the step writes (commands may change files in the
working directory only), ``-s read-only`` when it only reads. Its JSONL events give the final message
(the last ``agent_message`` item), the commands it ran (``command_execution`` items) and the tokens of
each turn (``turn.completed``); it reports no cost, so its tokens are priced for the model asked for.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from specrelay.errors import FailureKind
from specrelay.llm.backend import AgentReport, AttemptFailed, Reply
from specrelay.llm.backends.agents.base import AgentBackend, AgentPreset, count, json_objects, one_line
from specrelay.llm.pricing import Usage


class CodexPreset(AgentPreset):
    provider: Literal["codex"]

    binary: ClassVar[str] = "codex"
    install: ClassVar[str] = "npm install -g @openai/codex"
    agent_key_envs: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY", "CODEX_API_KEY")
    price_provider: ClassVar[str | None] = "openai"


class CodexBackend(AgentBackend):
    def argv(self, preset: AgentPreset, writable: bool) -> list[str]:
        model = ["-m", preset.chosen_model] if preset.chosen_model else []
        return ["exec", "--json", "--skip-git-repo-check", "-s", "workspace-write" if writable else "read-only",
                *model]

    def parse(self, preset: AgentPreset, output: str) -> Reply:
        return parse_codex(preset, output)


def parse_codex(preset: AgentPreset, output: str) -> Reply:
    """The reply in ``codex exec --json``'s events."""
    events = list(json_objects(output))
    failed = next((e for e in events if e.get("type") == "turn.failed"), None)
    if failed is not None:
        error = failed.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        raise AttemptFailed(FailureKind.ERROR, f"codex failed: {one_line(str(message or 'turn failed'))}",
                            model=preset.model)
    turns = [e for e in events if e.get("type") == "turn.completed"]
    items = [e["item"] for e in events if e.get("type") == "item.completed" and isinstance(e.get("item"), dict)]
    messages = [str(i.get("text") or "") for i in items if i.get("type") == "agent_message"]
    if not turns or not messages:
        raise AttemptFailed(FailureKind.INVALID_OUTPUT, "codex printed no final message: "
                            + _said(output), model=preset.model)
    used = [t["usage"] for t in turns if isinstance(t.get("usage"), dict)]
    fresh = sum(count(u.get("input_tokens")) for u in used)  # cached input included, as OpenAI counts it
    cached = sum(count(u.get("cached_input_tokens")) for u in used)
    out = sum(count(u.get("output_tokens")) for u in used)
    tools = tuple(str(i.get("type")) for i in items if i.get("type") not in ("agent_message", "reasoning", "error"))
    thread = next((e.get("thread_id") for e in events if e.get("type") == "thread.started"), None)
    return Reply(text=messages[-1], usage=Usage(input_tokens=fresh, output_tokens=out, cache_read_tokens=cached),
                 model=preset.model,
                 agent=AgentReport(turns=len(turns), tools=tools, session=thread if isinstance(thread, str) else None))


def _said(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return one_line(" ".join(lines[-3:])) if lines else "it printed nothing"
