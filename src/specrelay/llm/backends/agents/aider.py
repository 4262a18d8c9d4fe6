"""Aider (``aider``), run as ``aider --message PROMPT --yes-always --no-auto-commits``.

Permissions: it writes the files its reply lists when the step writes; ``--dry-run`` when it only reads
(it answers, and changes nothing). It prints no machine-readable output: the answer is its text, and
the only usage is its own count (``Tokens: N sent, M received.``, and a cost when it knows the model's
price), recorded as estimated. Its history files go to ``/dev/null``; its tags cache
(``.aider.tags.cache.v4``), which it leaves in the working directory, is removed when it was not there
before, so that it is never committed.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import ClassVar, Literal

from specrelay.config import Preset
from specrelay.errors import FailureKind
from specrelay.llm.backend import AgentReport, AttemptFailed, OnDelta, Reply, Request
from specrelay.llm.backends.agents.base import AgentBackend, AgentPreset, provider_keys
from specrelay.llm.pricing import Usage

TAGS_CACHE = ".aider.tags.cache.v4"
_TOKENS = re.compile(r"Tokens: ([\d.,]+k?) sent, ([\d.,]+k?) received\.(?:\s*Cost: \$([\d.]+) message)?")


class AiderPreset(AgentPreset):
    provider: Literal["aider"]

    binary: ClassVar[str] = "aider"
    install: ClassVar[str] = "python -m pip install aider-install && aider-install"
    #: With no model named, Aider picks one by the keys it finds, so it may read each of these.
    agent_key_envs: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY")

    def keys_kept(self) -> set[str]:
        """With a model named, only its provider's key (``anthropic/...``, ``gemini/...``, or Aider's
        short names ``sonnet``, ``opus``, ``haiku``, ``gemini``, ``flash``, ``deepseek``, ``r1``; any other:
        OpenAI's, which an OpenAI-compatible server reads too; ``pass_env`` adds more); with none, every key
        Aider may pick a model by."""
        if self.chosen_model is None:
            return super().keys_kept()
        own = provider_keys(self.model)
        if not own:
            name = self.model.lower()
            own = (("ANTHROPIC_API_KEY",) if name.startswith(("claude", "sonnet", "opus", "haiku"))
                   else ("GEMINI_API_KEY",) if name.startswith(("gemini", "flash"))
                   else ("DEEPSEEK_API_KEY",) if name.startswith("deepseek") or name == "r1"
                   else ("OPENAI_API_KEY",))
        return {*own, *self.pass_env, *([self.api_key_env] if self.api_key_env else [])}


class AiderBackend(AgentBackend):
    reports_usage: ClassVar[bool] = False
    own_files: ClassVar[tuple[str, ...]] = (TAGS_CACHE,)

    def argv(self, preset: AgentPreset, writable: bool) -> list[str]:
        model = ["--model", preset.chosen_model] if preset.chosen_model else []
        return [*model, "--yes-always", "--no-auto-commits", "--no-check-update", "--no-show-release-notes",
                "--analytics-disable", "--no-show-model-warnings", "--no-gitignore", "--no-pretty",
                "--no-stream", "--input-history-file", os.devnull, "--chat-history-file", os.devnull,
                *([] if writable else ["--dry-run"])]

    def prompt_argv(self, prompt: str) -> list[str]:
        return ["--message", prompt]

    async def complete(self, preset: Preset, request: Request, on_delta: OnDelta | None) -> Reply:
        cache = (request.cwd or Path.cwd()) / TAGS_CACHE
        had = cache.exists()
        try:
            return await super().complete(preset, request, on_delta)
        finally:
            if not had and cache.is_dir():
                shutil.rmtree(cache, ignore_errors=True)

    def parse(self, preset: AgentPreset, output: str) -> Reply:
        return parse_aider(preset, output)


def parse_aider(preset: AgentPreset, output: str) -> Reply:
    """The reply in Aider's text: what it said, and its own count of the tokens."""
    counts = _TOKENS.findall(output)
    if not counts:
        raise AttemptFailed(FailureKind.INVALID_OUTPUT, "aider printed no token count, so no answer: "
                            + " ".join(output.split())[-300:], model=preset.model)
    sent = sum(_count(s) for s, _, _ in counts)
    received = sum(_count(r) for _, r, _ in counts)
    costs = [float(c) for _, _, c in counts if c]
    edits = tuple(f"edit {m}" for m in re.findall(r"^Applied edit to (.+)$", output, re.MULTILINE))
    text = _answer(output)
    return Reply(text=text, usage=Usage(input_tokens=sent, output_tokens=received), model=preset.model,
                 estimated=True, cost_usd=sum(costs) if costs else None, cost_source="agent-estimate",
                 agent=AgentReport(turns=len(counts), tools=edits))


def _count(text: str) -> int:
    """Aider's counts: ``950``, ``1.2k``, ``12k``."""
    text = text.replace(",", "")
    return round(float(text[:-1]) * 1000) if text.endswith("k") else int(float(text))


def _answer(output: str) -> str:
    """What the model said: the text before Aider's last token count, without its own banner lines."""
    head = output[:output.rfind("Tokens:")]
    lines = [line for line in head.splitlines()
             if not re.match(r"^(Aider v|Model:|Git repo:|Repo-map:|Main model:|Weak model:|Applied edit to|"
                             r"Added .* to the chat|Cost estimates|https://aider.chat)", line)]
    return "\n".join(lines).strip()
