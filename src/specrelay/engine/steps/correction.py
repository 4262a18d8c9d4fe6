"""What a builder's correction carries of the reply it corrects: only what the builder needs, bounded.

A reply whose edits did not apply is sent back with the applier's message and the failing blocks,
quoted; the blocks that applied (or would have, since nothing is applied unless all are) are named, not
quoted; never the whole previous reply, which can be as long as the output cap allows. A malformed
reply is quoted around the line where it breaks. Every quote is cut to its allowance (its beginning and
end, with a note of what was left out), and the whole correction stays within ``CORRECTION_TOKENS``
(estimated at 4 characters a token): ``QUOTE_TOKENS`` for the quoted blocks, ``MESSAGE_TOKENS`` for the
applier's message, each block at most ``BLOCK_TOKENS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from specrelay.errors import EditError, MalformedBlock
from specrelay.llm import estimate_tokens
from specrelay.text import excerpt

if TYPE_CHECKING:  # the edits package is loaded by the step that applies them, when it runs
    from specrelay.edits import EditBlock, EditsRejected

#: The most one correction adds to the builder's prompt, in tokens.
CORRECTION_TOKENS = 3000
#: Of which: the applier's message (the failing blocks' reasons, with the closest candidates it quotes) ...
MESSAGE_TOKENS = 1000
#: ... and the quoted failing blocks (or the lines of a malformed reply around its break).
QUOTE_TOKENS = CORRECTION_TOKENS - MESSAGE_TOKENS - 100  # the rest: headings and the instruction
#: The most one quoted block takes.
BLOCK_TOKENS = 600
#: Lines of a malformed reply quoted before and after the line where it breaks.
CONTEXT_LINES = 12

ANSWER_AGAIN = "Answer again with the complete, corrected set of SEARCH/REPLACE blocks."


def correction(reply: str, blocks: Sequence[EditBlock], exc: EditError) -> tuple[str, str]:
    """The correction's two parts: what failed in the previous reply, and why (with what to do)."""
    from specrelay.edits import EditsRejected

    problem = f"{excerpt(str(exc), MESSAGE_TOKENS)}\n\n{ANSWER_AGAIN}"
    if isinstance(exc, EditsRejected):
        return _failed_blocks(blocks, exc), problem
    if isinstance(exc, MalformedBlock) and exc.line:
        return _around(reply, exc.line), problem
    return f"It began:\n\n~~~~\n{excerpt(reply, QUOTE_TOKENS // 4)}\n~~~~", problem


def _failed_blocks(blocks: Sequence[EditBlock], exc: EditsRejected) -> str:
    reports = exc.result.reports
    fine = [f"block {r.index + 1} ({r.path})" for r in reports if r.status != "failed"]
    out = [f"These blocks would have applied; send them again too: {', '.join(fine)}." if fine
           else "None of its blocks applied."]
    left = QUOTE_TOKENS
    failed = [r for r in reports if r.status == "failed"]
    for n, report in enumerate(failed):
        block = blocks[report.index] if report.index < len(blocks) else None
        if block is None:
            continue
        quoted = (f"Block {report.index + 1} ({report.path}, reply line {report.reply_line}), which failed:\n\n"
                  f"~~~~\n{excerpt(_render(block), min(BLOCK_TOKENS, left))}\n~~~~")
        cost = estimate_tokens(quoted)
        if cost > left:
            out.append(f"({len(failed) - n} more failing blocks are not quoted here; the message below names them.)")
            break
        out.append(quoted)
        left -= cost
    return "\n\n".join(out)


def _render(block: EditBlock) -> str:
    return (f"{block.path}\n<<<<<<< SEARCH\n{block.search}{_nl(block.search)}=======\n"
            f"{block.replace}{_nl(block.replace)}>>>>>>> REPLACE")


def _nl(text: str) -> str:
    return "" if not text or text.endswith("\n") else "\n"


def _around(reply: str, line: int) -> str:
    """The reply's lines around ``line`` (1-based), numbered, within the quote allowance."""
    lines = reply.splitlines()
    first, last = max(1, line - CONTEXT_LINES), min(len(lines), line + CONTEXT_LINES // 2)
    numbered = "\n".join(f"{n:>5}| {lines[n - 1]}" for n in range(first, last + 1))
    return (f"Lines {first}-{last} of it (of {len(lines)}), around line {line} where it breaks:\n\n"
            f"~~~~\n{excerpt(numbered, QUOTE_TOKENS)}\n~~~~")
