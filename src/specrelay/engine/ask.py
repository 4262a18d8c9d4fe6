"""One prompt through one preset, outside any task, checked before anything is paid.

An empty prompt, an attachment that is missing, a folder or binary, a prompt too large for the
preset's context window, a missing key, a bad replies file, or a budget that is not a positive
amount or cannot pay for a short answer is refused before the ledger is opened or a model is
called. A budget (``--budget``, else ``[budget] ask_usd``) caps the call's output to what it can
pay for, as a task's budget does (``engine/budget.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from specrelay import paths
from specrelay.config import Config, Preset, check_price_as, missing_keys_error
from specrelay.engine.budget import Budget
from specrelay.errors import UserError
from specrelay.fsutil import read_user_text
from specrelay.ledger import Ledger
from specrelay.llm import CallResult, Client, estimate_tokens
from specrelay.llm.backend import Attachment

ASK_SYSTEM = (
    "You are a senior software engineer answering a quick question from a colleague. "
    "Answer directly and concisely; use code blocks for code. If files are attached, ground your answer in them."
)


def check_prompt(prompt: str) -> None:
    """Refuse a prompt that is empty or only whitespace."""
    if not prompt.strip():
        raise UserError("ask: the prompt is empty; say what to ask, e.g. "
                        "`specrelay ask \"What does calc.add do?\"`.")


def check_budget(budget_usd: float | None) -> None:
    """Refuse a ``--budget`` that is not a positive, finite amount."""
    if budget_usd is not None and not (math.isfinite(budget_usd) and budget_usd > 0):
        raise UserError(f"--budget {budget_usd:g}: must be a positive amount in USD, e.g. --budget 0.10.")


def read_attachments(files: list[Path]) -> list[tuple[Path, str]]:
    """Each ``--file`` as text; one clear error for a missing file, a folder, or a binary file."""
    return [(path, read_user_text(path, "--file", "attach text files, one --file each")) for path in files]


def build_prompt(prompt: str, attachments: list[tuple[Path, str]]) -> str:
    """The user message: the prompt, then each attached file, fenced and named."""
    parts = [prompt] + [f"File: {path}\n```\n{text}\n```" for path, text in attachments]
    return "\n\n".join(parts)


def oracle_system() -> str:
    """The system prompt of ``ask --oracle``: the second opinion's, with the JSON it answers."""
    from specrelay.engine.opinion import OPINION_JSON_SHAPE

    text = (paths.data_dir() / "prompts" / "second_opinion.md").read_text(encoding="utf-8")
    return text + "\n" + OPINION_JSON_SHAPE


def prompt_parts(prompt: str, attachments: list[tuple[Path, str]], system: str = ASK_SYSTEM) -> dict[str, int]:
    """The ask's parts and their estimated tokens, as the ledger records a step's context (and as a
    prompt over the context window is told part by part)."""
    parts = {"system": estimate_tokens(system), "prompt": estimate_tokens(prompt)}
    parts.update({f"--file {path}": estimate_tokens(text) for path, text in attachments})
    return parts


def check_window(config: Config, preset: Preset, user: str, parts: dict[str, int], system: str = ASK_SYSTEM,
                 attachments: tuple[Attachment, ...] = ()) -> None:
    """Refuse, before the ledger is opened, a prompt the client's layers would refuse: too large for the
    context window of the preset and of each of its fallbacks that has a key (the window layer's rule,
    :func:`specrelay.llm.layers.window.check_window`, applied sooner)."""
    from specrelay.llm import Request
    from specrelay.llm.layers.fallback import first_that_fits

    first_that_fits(config, preset, Request.of(system, user, attachments=attachments), "ask", parts)


def ask_budget(limit_usd: float | None) -> Budget | None:
    """The budget of one ask (None: no limit)."""
    if limit_usd is None:
        return None
    return Budget(limit_usd, stopped="ask not sent",
                  more="pass a larger --budget, e.g. --budget {usd} (or raise [budget] ask_usd)")


#: What to do about a missing key, in ask's words.
ASK_KEY_FIX = "pick a preset you have a key for with --preset (`specrelay presets` shows which keys are present)"


def check_call(preset: Preset, user: str, budget_usd: float | None, system: str = ASK_SYSTEM,
               attachments: tuple[Attachment, ...] = ()) -> None:
    """Refuse, before the ledger is opened, an ask that could not be sent: the preset's key is not
    set, its replies file is bad (scripted), or the budget cannot pay for even a short answer."""
    from specrelay.llm import Request
    from specrelay.llm.backend import preflight
    from specrelay.llm.layers.budget import default_cap, request_tokens

    if preset.key_present is False:
        raise missing_keys_error({preset.name: " or ".join(preset.key_envs)}, ASK_KEY_FIX)
    preflight([preset], called=[preset.name])
    check_price_as([preset])
    budget = ask_budget(budget_usd)
    if budget is not None:  # the client reserves the same way; here nothing is held
        counted = request_tokens(preset, Request.of(system, user, attachments=attachments))
        budget.reserve(preset, counted, default_cap(preset, counted), "ask")


def ask(config: Config, ledger: Ledger, preset: Preset, user: str, *, budget_usd: float | None,
        on_delta: Callable[[str], None] | None, parts: dict[str, int] | None = None,
        on_broken: Callable[[str], None] | None = None, attachments: tuple[Attachment, ...] = ()) -> CallResult:
    """Send one checked prompt; returns the answer with what it cost (``truncated`` when it stopped at
    its output cap: :func:`specrelay.llm.cutoff.cut_off_note` says so). ``parts`` are recorded as the
    call's context. ``attachments`` (images, PDFs) go with it to a preset that takes images."""
    client = Client(config, ledger, budget=ask_budget(budget_usd), attachments=attachments)
    return client.call_sync(preset.name, ASK_SYSTEM, user, phase="ask", on_delta=on_delta, context=parts,
                            on_broken=on_broken)


def oracle(config: Config, ledger: Ledger, preset: Preset, user: str, *, budget_usd: float | None,
           parts: dict[str, int] | None = None, attachments: tuple[Attachment, ...] = ()) -> CallResult:
    """``ask --oracle``: a second opinion on what ``user`` holds (a question, a plan, attached files), as
    schema-checked JSON with one repair request; its ``value`` is the :class:`~specrelay.engine.opinion.Opinion`.
    A reply invalid twice raises :class:`~specrelay.errors.InvalidReply`."""
    import asyncio

    from specrelay.engine.opinion import Opinion

    client = Client(config, ledger, budget=ask_budget(budget_usd), attachments=attachments)
    return asyncio.run(client.call_json(preset.name, oracle_system(), user, Opinion, phase="ask", context=parts))
