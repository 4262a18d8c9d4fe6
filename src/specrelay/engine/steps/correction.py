"""What a builder's correction carries of the reply it corrects: only what the builder needs, bounded.

A set of edits that did not apply is sent back with the failing blocks, quoted, and why each failed
(the applier's reason, with the closest candidates it quotes). The blocks that would have applied
are kept by the step (``kept.py``) and named, not quoted, with the instruction not to send them
again: the builder answers with corrected versions of the failing blocks alone. Never the whole
previous reply, which can be as long as the output cap allows. A malformed reply is quoted around
the line where it breaks. Every quote is cut to its allowance (its beginning and end, with a note of
what was left out), and the whole correction stays within ``CORRECTION_TOKENS`` (estimated at 4
characters a token): ``QUOTE_TOKENS`` for what failed (the kept blocks' names, at most
``KEPT_TOKENS`` of it, and the quoted failing blocks, each at most ``BLOCK_TOKENS``),
``MESSAGE_TOKENS`` for why. A failing block that is not quoted, or whose reason is left out, for
room, is still named where it is left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from specrelay.engine.steps.kept import Carried, Tried, render
from specrelay.errors import EditError, MalformedBlock
from specrelay.llm import estimate_tokens
from specrelay.text import excerpt, plural

#: The most one correction adds to the builder's prompt, in tokens.
CORRECTION_TOKENS = 3000
#: Of which: why it failed (each failing block's reason, with the closest candidates it quotes) ...
MESSAGE_TOKENS = 1000
#: ... and what failed: the kept blocks named, the failing blocks (or a malformed reply's lines) quoted.
QUOTE_TOKENS = CORRECTION_TOKENS - MESSAGE_TOKENS - 100  # the rest: headings and the instruction
#: Of the quote allowance, the most the kept blocks' names take.
KEPT_TOKENS = 500
#: The most one quoted block takes.
BLOCK_TOKENS = 600
#: The least a failing block's reason is cut to, however many blocks failed.
REASON_TOKENS = 40
#: Room kept for the line that names what was left out for room.
_NOTE_TOKENS = 80
#: Lines of a malformed reply quoted before and after the line where it breaks.
CONTEXT_LINES = 12

ANSWER_AGAIN = "Answer again with the complete, corrected set of SEARCH/REPLACE blocks."
ANSWER_FAILING = ("Answer with corrected versions of the failing blocks only. The kept blocks are applied "
                  "with yours, before them, so a SEARCH in a file they change must match it as they leave it; "
                  "do not send them again.")


def correction(reply: str, carried: Carried, exc: EditError) -> tuple[str, str]:
    """The correction's two parts: what failed (and what is kept), and why, with what to do.

    ``carried`` is what the step carries to its next attempt, this failure included: after a rejected
    set, its kept and failing blocks; after a reply that did not parse, those of the set before it.
    """
    from specrelay.edits import EditsRejected

    rejected = isinstance(exc, EditsRejected)
    parts: list[str] = []
    left = QUOTE_TOKENS
    if carried.kept:
        parts.append(_kept(carried.kept))
    elif rejected:
        parts.append("None of its blocks would have applied.")
    if not rejected:  # the latest reply did not parse: it is quoted, beside the blocks still to correct
        room = left - _cost(parts)
        parts.append(_unparsed(reply, exc, room // 2 if carried.failing else room))
    if carried.failing:
        heading = ("Blocks that failed, to correct:" if rejected
                   else "Blocks that failed before, still to correct:")
        parts.append(_quoted(carried.failing, left - _cost(parts) - estimate_tokens(heading) - 2, heading))
    why = _reasons(carried.failing, len(carried.kept)) if rejected else _fit(str(exc), MESSAGE_TOKENS)
    return "\n\n".join(parts), f"{why}\n\n{ANSWER_FAILING if carried.kept else ANSWER_AGAIN}"


def _kept(kept: Sequence[Tried]) -> str:
    """The kept blocks, named one a line, within ``KEPT_TOKENS``; those left out named by file."""
    out = [f"Kept: {plural(len(kept), 'block')} of your previous replies would have applied; they are "
           "applied with your corrected blocks, and you must not send them again:"]
    left = KEPT_TOKENS - estimate_tokens(out[0]) - _NOTE_TOKENS
    for n, tried in enumerate(kept):
        line = f"- {_what(tried)}"
        if estimate_tokens(line) + 1 > left:
            rest = sorted({t.placed.block.path for t in kept[n:]})
            out.append(_fit(f"- and {plural(len(kept) - n, 'more block')}, on {', '.join(rest)}", _NOTE_TOKENS))
            break
        out.append(line)
        left -= estimate_tokens(line) + 1
    return "\n".join(out)


def _what(tried: Tried) -> str:
    block, report = tried.placed.block, tried.report
    if block.creates:
        return f"{block.path}: creates it ({plural(len(block.replace.splitlines()), 'line')})"
    first = next((line.strip() for line in block.search.splitlines() if line.strip()), "")
    first = first if len(first) <= 60 else first[:57] + "..."
    where = f"lines {report.first_line}-{report.last_line}" if report.first_line else "an edit"
    return f"{block.path}: {where}, the SEARCH that begins `{first}`"


def _quoted(failing: Sequence[Tried], left: int, heading: str) -> str:
    """The failing blocks quoted within ``left`` tokens; those left out for room named."""
    out = [heading]
    left -= _NOTE_TOKENS
    for n, tried in enumerate(failing):
        quoted = (f"Failing block {n + 1} ({_origin(tried)}):\n\n"
                  f"~~~~\n{_fit(render(tried.placed.block), min(BLOCK_TOKENS, max(left - 30, 0)))}\n~~~~")
        cost = estimate_tokens(quoted) + 1
        if left < 100 or cost > left:
            out.append(_fit(f"(Failing blocks {n + 1} to {len(failing)} are not quoted here, for room; they are "
                            f"on {', '.join(sorted({t.placed.block.path for t in failing[n:]}))}.)", _NOTE_TOKENS))
            break
        out.append(quoted)
        left -= cost
    return "\n\n".join(out)


def _reasons(failing: Sequence[Tried], kept: int) -> str:
    """Why each failing block failed, within ``MESSAGE_TOKENS``: every block's heading, then its reason
    cut to its share; when even the headings do not fit, the ones left out are named by number."""
    out = [f"{len(failing)} of the {len(failing) + kept} blocks could not be applied, so none was "
           "(no file changed):"]
    left = MESSAGE_TOKENS - estimate_tokens(out[0]) - _NOTE_TOKENS
    share = max(REASON_TOKENS, left // max(len(failing), 1) - 20)
    for n, tried in enumerate(failing):
        line = f"Failing block {n + 1} ({_origin(tried)}): {_fit(tried.report.message, share)}"
        cost = estimate_tokens(line) + 1
        if cost > left:
            out.append(f"(The reasons of failing blocks {n + 1} to {len(failing)} are left out here, for room.)")
            break
        out.append(line)
        left -= cost
    return "\n".join(out)


def _origin(tried: Tried) -> str:
    path = tried.placed.block.path
    return path if tried.placed.in_reply else f"{path}, one of the kept blocks"


def _unparsed(reply: str, exc: EditError, tokens: int) -> str:
    if isinstance(exc, MalformedBlock) and exc.line:
        return _around(reply, exc.line, tokens)
    return f"Your last reply began:\n\n~~~~\n{_fit(reply, min(tokens, QUOTE_TOKENS // 4) - 10)}\n~~~~"


def _around(reply: str, line: int, tokens: int) -> str:
    """The reply's lines around ``line`` (1-based), numbered, within ``tokens``."""
    lines = reply.splitlines()
    first, last = max(1, line - CONTEXT_LINES), min(len(lines), line + CONTEXT_LINES // 2)
    numbered = "\n".join(f"{n:>5}| {lines[n - 1]}" for n in range(first, last + 1))
    heading = f"Lines {first}-{last} of your last reply (of {len(lines)}), around line {line} where it breaks:"
    return f"{heading}\n\n~~~~\n{_fit(numbered, tokens - estimate_tokens(heading) - 5)}\n~~~~"


def _fit(text: str, tokens: int) -> str:
    """``text`` cut so that its estimate, the note of what was left out included, is at most ``tokens``."""
    return text if estimate_tokens(text) <= tokens else excerpt(text, max(tokens - 12, 1))


def _cost(parts: Sequence[str]) -> int:
    return sum(estimate_tokens(p) + 1 for p in parts)
