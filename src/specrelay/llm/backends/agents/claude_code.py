"""Claude Code (``claude``), run as ``claude -p --output-format stream-json --verbose``.

Permissions: ``--permission-mode acceptEdits`` when the step writes (edits in the working directory are
allowed, anything else asks, and headless asking is a refusal), ``--permission-mode plan`` when it only
reads. A refused action is listed in the result's ``permission_denials`` while the exit code stays 0: it
is reported in the reply's :class:`~specrelay.llm.backend.AgentReport`, never dropped.

Its final ``result`` event holds the answer, ``num_turns``, ``total_cost_usd`` (Claude Code's own
figure, recorded as the agent's), and the tokens per model (``modelUsage``); the ``assistant`` events
name the tools it called. Under a budget it is told what it may spend (``--max-budget-usd``, its share of
what is left), and a step's ``max-turns:`` (or the preset's ``max_turns``) bounds its turns (``--max-turns``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from specrelay.errors import FailureKind
from specrelay.llm.backend import AgentReport, AttemptFailed, Reply, Request
from specrelay.llm.backends.agents.base import AgentBackend, AgentPreset, count, json_objects, last_words, one_line
from specrelay.llm.pricing import Usage


class ClaudeCodePreset(AgentPreset):
    provider: Literal["claude-code"]

    binary: ClassVar[str] = "claude"
    install: ClassVar[str] = "npm install -g @anthropic-ai/claude-code"
    agent_key_envs: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN",
                                                 "CLAUDE_CODE_OAUTH_TOKEN")
    price_provider: ClassVar[str | None] = "anthropic"


class ClaudeCodeBackend(AgentBackend):
    def argv(self, preset: AgentPreset, writable: bool) -> list[str]:
        mode = "acceptEdits" if writable else "plan"
        model = ["--model", preset.chosen_model] if preset.chosen_model else []
        return ["-p", "--output-format", "stream-json", "--verbose", "--permission-mode", mode, *model]

    def limits_argv(self, preset: AgentPreset, request: Request) -> list[str]:
        turns = request.max_turns or preset.turns_bound
        return [*(["--max-turns", str(turns)] if turns else []),
                *(["--max-budget-usd", f"{request.budget_usd:.4f}"] if request.budget_usd is not None else [])]

    def extra_env(self, preset: AgentPreset, writable: bool, cwd: Path) -> Mapping[str, str]:
        return {"DISABLE_AUTOUPDATER": "1"}

    def parse(self, preset: AgentPreset, output: str) -> Reply:
        return parse_claude(preset, output)


def parse_claude(preset: AgentPreset, output: str) -> Reply:
    """The reply in Claude Code's ``stream-json`` (or ``json``) output."""
    events = list(json_objects(output))
    result = next((e for e in reversed(events) if e.get("type") == "result"), None)
    if result is None:
        raise AttemptFailed(FailureKind.INVALID_OUTPUT, "claude printed no result: "
                            + last_words(output), model=preset.model)
    text = result.get("result")
    tools = tuple(str(block.get("name")) for e in events if e.get("type") == "assistant"
                  for block in _content(e) if block.get("type") == "tool_use")
    denials = tuple(_denial(d) for d in result.get("permission_denials") or () if isinstance(d, dict))
    usage, model = _usage(result, events, preset)
    cost = result.get("total_cost_usd")
    reply = Reply(text=text if isinstance(text, str) else "", usage=usage, model=model,
                  cost_usd=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
                  cost_source="agent",
                  agent=AgentReport(turns=count(result.get("num_turns")) or None, tools=tools, denials=denials,
                                    session=result.get("session_id") if isinstance(result.get("session_id"), str)
                                    else None))
    if result.get("is_error") or not isinstance(text, str):
        subtype = str(result.get("subtype") or "error")
        said, advice = _SUBTYPES.get(subtype, (subtype, None))
        why = text if isinstance(text, str) and text.strip() else said
        raise AttemptFailed(FailureKind.ERROR, f"claude failed ({subtype}): {one_line(why)}", model=model,
                            spent=reply, advice=advice and advice.format(name=preset.name))
    return reply


#: What Claude Code's result subtypes for a run it stopped itself mean, and what the user can do.
_SUBTYPES: dict[str, tuple[str, str | None]] = {
    "error_max_turns": ("it reached its --max-turns", "raise max_turns of [presets.{name}], or the step's "
                        "'<!-- max-turns: N -->'"),
    "error_max_budget_usd": ("it reached its --max-budget-usd, its share of what is left of the budget",
                             "resume the task with a larger --budget"),
    "error_during_execution": ("it stopped on an error", None),
}


def _content(event: dict[str, Any]) -> list[dict[str, Any]]:
    message = event.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _denial(denial: dict[str, Any]) -> str:
    """One refused action in words: the tool and what it was asked to touch."""
    tool = str(denial.get("tool_name") or "a tool")
    args = denial.get("tool_input")
    target = ""
    if isinstance(args, dict):
        target = str(args.get("file_path") or args.get("path") or args.get("command") or "")
    return f"{tool} {one_line(target, 120)}".strip()


def _usage(result: dict[str, Any], events: list[dict[str, Any]], preset: AgentPreset) -> tuple[Usage, str]:
    """The tokens of the whole run (every model it called, from ``modelUsage``, else ``usage``) and the
    model that wrote most of them. Anthropic counts input without the cached part; specrelay's input
    includes it."""
    per_model = result.get("modelUsage")
    if isinstance(per_model, dict) and per_model:
        used = {name: u for name, u in per_model.items() if isinstance(u, dict)}
        fresh = sum(count(u.get("inputTokens")) for u in used.values())
        read = sum(count(u.get("cacheReadInputTokens")) for u in used.values())
        write = sum(count(u.get("cacheCreationInputTokens")) for u in used.values())
        out = sum(count(u.get("outputTokens")) for u in used.values())
        model = max(used, key=lambda name: count(used[name].get("outputTokens")))
    else:
        given = result.get("usage")
        u: dict[str, Any] = given if isinstance(given, dict) else {}
        fresh, out = count(u.get("input_tokens")), count(u.get("output_tokens"))
        read, write = count(u.get("cache_read_input_tokens")), count(u.get("cache_creation_input_tokens"))
        init = next((e for e in events if e.get("type") == "system" and e.get("subtype") == "init"), {})
        model = str(init.get("model") or preset.model)
    return Usage(input_tokens=fresh + read + write, output_tokens=out, cache_read_tokens=read,
                 cache_write_tokens=write), model
