"""The context-window layer: a prompt that does not fit the preset's context window is refused before
anything is sent or recorded, with its parts and their sizes.

One rule for every call (a task's steps, a review, ``ask``), checked for each preset tried (a fallback
may have another window): the request's input, counted as the budget counts it
(:func:`~specrelay.llm.layers.budget.input_tokens`: the 4-characters-a-token estimate, raised by half
for a backend whose tokenizer counts, as code runs nearer 3), plus the output it needs room for must
be at most the preset's context window (its ``context_window``, else genai-prices'
figure for the model it is priced as; unknown: not checked). The room is the preset's ``max_tokens``
when it sets one, since a server refuses, or cuts short, a request whose input and cap overflow its
window; otherwise the phase's floor (``output_floor``: room for a short answer), as the provider then
picks the cap, and a budgeted call is sent ``DEFAULT_MAX_OUTPUT`` lowered to what the window leaves
(:func:`~specrelay.llm.layers.budget.default_cap`).
"""

from __future__ import annotations

from collections.abc import Mapping

from specrelay.config import Preset
from specrelay.errors import ContextOverflow
from specrelay.llm.backend import Request, estimate_tokens
from specrelay.llm.layers.base import Call, CallHandler, CallResult
from specrelay.llm.layers.budget import counted, output_floor, request_tokens
from specrelay.llm.pricing import Usage, context_window, cost_of
from specrelay.text import plural

#: How many of a prompt's parts the message lists, largest first.
SHOWN_PARTS = 6


def check_window(preset: Preset, request: Request, phase: str, parts: Mapping[str, int]) -> None:
    """Raise :class:`ContextOverflow` when ``request``, with room for its output, does not fit ``preset``'s
    context window. ``parts`` are the prompt's parts with their estimated tokens (``Call.context``),
    told counted as the whole is, so that they add up to it."""
    window = context_window(preset)
    if window is None:
        return
    needed = request_tokens(preset, request)
    if preset.max_tokens is not None:
        room, room_said = preset.max_tokens, f"its output cap of {preset.max_tokens:,} tokens (max_tokens)"
    else:
        room = output_floor(preset, phase)
        room_said = f"room for a {room:,}-token answer"
    if needed + room <= window:
        return
    sized = _parts(preset, request, parts)
    listed = ", ".join(f"{name} about {plural(tokens, 'token')}" for name, tokens in sized[:SHOWN_PARTS])
    listed += f", and {len(sized) - SHOWN_PARTS} smaller" if len(sized) > SHOWN_PARTS else ""
    cost = cost_of(preset, Usage(input_tokens=needed))
    price = f"; its input alone would have cost about ${cost:.4f}" if cost is not None else ""
    largest = f"the largest part ({sized[0][0]})" if sized else "the prompt"
    lower = f", or lower {preset.setting('max_tokens')} (now {preset.max_tokens:,})" if preset.max_tokens else ""
    plain = estimate_tokens(request.text) + request.attachment_tokens
    how = ", counted as a tokenizer may count code" if needed != plain else ""
    raise ContextOverflow(
        f"preset {preset.name}: the {phase} prompt is about {needed:,} tokens{how} ({listed or 'one part'}); with "
        f"{room_said} it needs {needed + room:,}, more than the preset's context window of {window:,} tokens, "
        f"so it was not sent{price}. Shorten {largest}, raise {preset.setting('context_window')} if the model "
        f"takes more{lower}.", preset=preset.name, window=window, parts=tuple(sized))


def _parts(preset: Preset, request: Request, parts: Mapping[str, int]) -> list[tuple[str, int]]:
    """The prompt's parts, largest first, counted as the whole prompt is, with the system prompt among
    them even when the caller did not count it."""
    sized = {name: tokens for name, tokens in parts.items() if tokens > 0}
    if "system" not in sized:
        system = sum(estimate_tokens(m.content) for m in request.messages if m.role == "system")
        if system:
            sized["system"] = system
    return sorted(((name, counted(preset, tokens)) for name, tokens in sized.items()), key=lambda item: -item[1])


class Window:
    """Checks each preset tried against its context window before the call goes on down."""

    def __init__(self, inner: CallHandler) -> None:
        self.inner = inner

    async def __call__(self, call: Call) -> CallResult:
        check_window(call.tried, call.request, call.phase, call.context)
        return await self.inner(call)
