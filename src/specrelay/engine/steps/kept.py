"""The blocks a builder's correction does not resend: those of a rejected set that would have applied.

The applier is all or nothing: one failing block and no file changes. It checks the blocks in turn
against each file as the blocks before them leave it, and a failing block leaves the file as it was;
so the blocks that did not fail, applied alone and in their order, apply exactly as they were
checked. They are kept here, in code, since the builder's next call starts from a fresh context
and could only rewrite them from nothing. The correction asks for corrected versions of the failing
blocks alone, and the next set applied is the kept blocks, in their order, then the corrected
reply's: a block of that reply with a kept block's path and SEARCH takes the kept block's place
rather than applying twice. That set too applies whole or not at all, and when it fails the next
correction is built the same way from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the edits package is loaded by the step that applies them, when it runs
    from specrelay.edits import ApplyResult, BlockReport, EditBlock


@dataclass(frozen=True, slots=True)
class Placed:
    """One block of a set being applied, and where it came from."""

    block: EditBlock
    #: 1-based position in the latest reply; 0 for a block kept from an earlier reply.
    in_reply: int

    def label(self) -> str:
        """The block named for the user: which reply, which line of it, which file."""
        if self.in_reply:
            return f"block {self.in_reply} of the last reply ({self.block.path}, line {self.block.line})"
        return f"the kept block on {self.block.path} (line {self.block.line} of an earlier reply)"


@dataclass(frozen=True, slots=True)
class Tried:
    """A block of a rejected set, with what the applier said of it."""

    placed: Placed
    report: BlockReport


@dataclass(slots=True)
class Carried:
    """What a builder's corrections carry from one attempt to the next."""

    #: The blocks that would have applied, in their order: applied before the corrected reply's.
    kept: list[Tried] = field(default_factory=list)
    #: The blocks of the last rejected set that failed, for the builder to correct.
    failing: list[Tried] = field(default_factory=list)

    def with_reply(self, reply: Sequence[EditBlock]) -> list[Placed]:
        """The set to apply: the kept blocks, then the reply's; a reply block repeating a kept one
        (same path, same SEARCH) stands in the kept one's place instead."""
        own = [Placed(block, n) for n, block in enumerate(reply, 1)]
        by_key = {_key(p.block): p for p in own}
        placed, used = [], set()
        for tried in self.kept:
            key = _key(tried.placed.block)
            again = by_key.get(key) if key not in used else None
            used.add(key)
            placed.append(again or Placed(tried.placed.block, 0))
        return placed + [p for p in own if _key(p.block) not in used]

    def rejected(self, placed: Sequence[Placed], result: ApplyResult) -> None:
        """Keep what would have applied of a rejected set; its failing blocks are the ones to correct."""
        tried = [Tried(placed[r.index], r) for r in result.reports if r.index < len(placed)]
        # from now on the kept blocks are an earlier reply's, whichever reply they came from
        self.kept = [Tried(Placed(t.placed.block, 0), t.report) for t in tried if t.report.status != "failed"]
        self.failing = [t for t in tried if t.report.status == "failed"]

    @property
    def earlier(self) -> list[EditBlock]:
        """The kept blocks, which a reply that does not apply is refused with."""
        return [t.placed.block for t in self.kept]


def _key(block: EditBlock) -> tuple[str, str]:
    return PurePosixPath(block.path.removeprefix("./")).as_posix(), block.search


def render(block: EditBlock) -> str:
    """A block written back in the form the builder writes it."""
    return (f"{block.path}\n<<<<<<< SEARCH\n{block.search}{_nl(block.search)}=======\n"
            f"{block.replace}{_nl(block.replace)}>>>>>>> REPLACE")


def _nl(text: str) -> str:
    return "" if not text or text.endswith("\n") else "\n"
