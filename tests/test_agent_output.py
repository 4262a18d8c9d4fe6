"""Each agent's machine-readable output, as its CLI prints it, read into a reply (no binary needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specrelay.config import load_config
from specrelay.llm.backend import AttemptFailed
from specrelay.llm.backends.agents.base import AgentPreset, json_objects
from specrelay.llm.backends.agents.claude_code import parse_claude


def _preset(name: str) -> AgentPreset:
    preset = load_config(None).presets[name]
    assert isinstance(preset, AgentPreset)
    return preset


CLAUDE_RESULT = {
    "type": "result", "subtype": "success", "is_error": False, "num_turns": 2, "result": "Done.",
    "session_id": "s-1", "total_cost_usd": 0.0031,
    "usage": {"input_tokens": 200, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 14,
              "output_tokens": 40},
    "modelUsage": {"claude-sonnet-4-5": {"inputTokens": 300, "outputTokens": 60, "cacheReadInputTokens": 21,
                                         "cacheCreationInputTokens": 15, "costUSD": 0.003},
                   "claude-haiku-4-5": {"inputTokens": 50, "outputTokens": 5, "cacheReadInputTokens": 0,
                                        "cacheCreationInputTokens": 0, "costUSD": 0.0001}},
    "permission_denials": [{"tool_name": "Write", "tool_use_id": "t1",
                            "tool_input": {"file_path": "/w/app.py", "content": "x"}}],
}
CLAUDE_STREAM = "\n".join([
    json.dumps({"type": "system", "subtype": "init", "model": "claude-sonnet-4-5", "session_id": "s-1"}),
    "a warning on stderr, between the events",
    json.dumps({"type": "assistant", "message": {"content": [
        {"type": "tool_use", "id": "t1", "name": "Write", "input": {"file_path": "/w/app.py"}}]}}),
    json.dumps({"type": "user", "message": {"content": [{"type": "tool_result", "tool_use_id": "t1"}]}}),
    json.dumps({"type": "assistant", "message": {"content": [{"type": "text", "text": "Done."}]}}),
    json.dumps(CLAUDE_RESULT),
]) + "\n"


def test_claude_stream_json() -> None:
    reply = parse_claude(_preset("claude-code"), CLAUDE_STREAM)
    assert reply.text == "Done."
    assert reply.model == "claude-sonnet-4-5"  # the model that wrote most
    assert reply.usage is not None
    # Every model's tokens; input includes the cached part (Anthropic reports it apart).
    assert reply.usage.input_tokens == 300 + 21 + 15 + 50
    assert reply.usage.output_tokens == 65
    assert (reply.usage.cache_read_tokens, reply.usage.cache_write_tokens) == (21, 15)
    assert reply.cost_usd == 0.0031 and reply.cost_source == "agent"
    assert reply.agent is not None
    assert reply.agent.turns == 2 and reply.agent.tools == ("Write",) and reply.agent.session == "s-1"
    assert reply.agent.denials == ("Write /w/app.py",)


def test_claude_error_result_is_a_failed_attempt_in_one_line() -> None:
    out = json.dumps({**CLAUDE_RESULT, "is_error": True, "subtype": "error_max_turns",
                      "result": "Reached max turns\n(3)"})
    with pytest.raises(AttemptFailed, match=r"claude failed \(error_max_turns\): Reached max turns \(3\)$"):
        parse_claude(_preset("claude-code"), out)


def test_claude_without_a_result_is_unparsable() -> None:
    with pytest.raises(AttemptFailed) as caught:
        parse_claude(_preset("claude-code"), "Error: something broke\n")
    assert caught.value.kind == "invalid_output" and "something broke" in str(caught.value)


def test_json_objects_skips_noise_and_reads_pretty_printed_objects() -> None:
    text = 'noise {not json}\n{\n  "a": 1,\n  "b": {"c": 2}\n}\n{"d": 3}\ntrailing\n'
    assert list(json_objects(text)) == [{"a": 1, "b": {"c": 2}}, {"d": 3}]


def test_agent_preset_fields_are_strict(tmp_path: Path) -> None:
    from conftest import run_cli, write_user_config

    write_user_config('[presets.claude-code]\nargs = "--verbose"\n')
    proc = run_cli("presets", cwd=tmp_path)
    assert proc.returncode != 0 and "args" in proc.stderr and "config.toml" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_failed_run_carries_what_it_had_used() -> None:
    """OpenCode's steps before its error, and Gemini CLI's stats beside its error, are paid for: the
    failure carries them, to be recorded and counted."""
    from specrelay.llm.backends.agents.gemini_cli import parse_gemini
    from specrelay.llm.backends.agents.opencode import parse_opencode

    opencode = "\n".join(json.dumps(e) for e in [
        {"type": "step_finish", "part": {"tokens": {"input": 900, "output": 70, "cache": {"read": 100}},
                                         "cost": 0.004}},
        {"type": "error", "error": {"data": {"message": "rate limited"}}}])
    with pytest.raises(AttemptFailed, match="rate limited") as failed:
        parse_opencode(_preset("opencode"), opencode)
    spent = failed.value.spent
    assert spent is not None and spent.cost_usd == 0.004 and spent.usage is not None
    assert spent.usage.input_tokens == 1000 and spent.usage.output_tokens == 70
    gemini = json.dumps({"error": {"message": "quota exceeded"}, "stats": {"models": {"gemini-2.5-pro": {
        "tokens": {"prompt": 5000, "cached": 0, "candidates": 300, "thoughts": 20}, "api": {"totalRequests": 2}}}}})
    with pytest.raises(AttemptFailed, match="quota exceeded") as failed:
        parse_gemini(_preset("gemini-cli"), gemini)
    spent = failed.value.spent
    assert spent is not None and spent.model == "gemini-2.5-pro" and spent.usage is not None
    assert spent.usage.input_tokens == 5000 and spent.usage.output_tokens == 320
