"""A reply cut off at its output cap (finish reason "length"): the one message every phase gives.

A cut reply is not built on: half a set of edits, half a spec or half a JSON object would be reported
as malformed, and a correction or repair sent at the same cap would most likely be cut again. The
phase that gets one raises :func:`cut_off` at once instead: the message says at how many tokens the
reply stopped, on which preset, and which config field to raise. (A reply cut by the lower cap a
budget gave the call is the budget's stop, ``layers/budget.py``, and never reaches a phase.)
"""

from __future__ import annotations

from specrelay.config import Config
from specrelay.errors import ReplyCutOff
from specrelay.llm.layers.base import CallResult

#: A reply cut off with fewer output tokens than this share of its cap stopped at a limit of the server's
#: own, not at the cap: counted by the server, or estimated from its text (4 characters a token, which
#: can be far from a tokenizer's count).
COUNTED_SHORT = 0.9
ESTIMATED_SHORT = 0.5


def cut_off_note(config: Config, result: CallResult) -> str:
    """Where the reply stopped and what to raise, as one clause: ``was cut off at its output cap of 16
    tokens (finish reason "length"); raise max_tokens in [presets.P] of FILE (now 16)``."""
    preset = config.presets.get(result.preset)
    field = preset.setting("max_tokens") if preset is not None else f"max_tokens of preset {result.preset}"
    cap, wrote = result.max_tokens, result.usage.output_tokens
    if cap is None:
        return (f"was cut off at the provider's default output cap, after {wrote:,} tokens (finish reason "
                f"\"length\"); set {field} to allow more")
    # A server may stop at a limit of its own (the end of its context) well before the cap it was sent.
    # An estimated count (a server that reported none) is only near the real one: it must fall further short.
    short_of = cap * (ESTIMATED_SHORT if result.estimated else COUNTED_SHORT)
    short = (f"; it wrote only {'about ' if result.estimated else ''}{wrote:,}, so the server may have a lower "
             "limit of its own, such as its context size" if 0 < wrote < short_of else "")
    if preset is not None and preset.max_tokens is None:  # the cap a budgeted call is sent with by default
        return (f"was cut off at its output cap of {cap:,} tokens, the default sent with a budget when the "
                f"preset sets none (finish reason \"length\"{short}); set {field} above {cap:,}")
    return (f"was cut off at its output cap of {cap:,} tokens (finish reason \"length\"{short}); "
            f"raise {field} (now {cap:,})")


def cut_off(config: Config, result: CallResult, what: str, *, kept: str | None = None) -> ReplyCutOff:
    """The error for a reply that stopped at its cap: ``what`` names it, in the singular (``the builder's reply``),
    ``kept`` says where its text was kept, if it was."""
    where = f"; it is kept in {kept}" if kept else ""
    return ReplyCutOff(f"{what} from preset {result.preset} {cut_off_note(config, result)}. The reply was not "
                       f"used{where}.", reply=result.text, preset=result.preset, cap=result.max_tokens)
