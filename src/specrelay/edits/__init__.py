"""SEARCH/REPLACE edits: parse a builder's reply, apply its blocks, confined to a worktree.

::

    parse_blocks(reply)            -> [EditBlock]       parse.py
    apply_edit(text, search, rep)  -> new text          edit.py  (ladder: match.py, merge.py)
    apply_blocks(worktree, blocks) -> ApplyResult       apply.py (all or nothing; confine.py)

Refusals are :class:`~specrelay.errors.EditError` subclasses whose messages are
written for the model that made the edit: where SEARCH nearly matched, every
place it matched, or which line made the result uncertain.
"""

from specrelay.edits.apply import ApplyResult, BlockReport, EditsRejected, apply_blocks
from specrelay.edits.confine import resolve_in_worktree
from specrelay.edits.edit import AppliedEdit, apply_edit, apply_edit_detailed
from specrelay.edits.match import LADDER, Level
from specrelay.edits.parse import EditBlock, parse_blocks

__all__ = [
    "LADDER",
    "AppliedEdit",
    "ApplyResult",
    "BlockReport",
    "EditBlock",
    "EditsRejected",
    "Level",
    "apply_blocks",
    "apply_edit",
    "apply_edit_detailed",
    "parse_blocks",
    "resolve_in_worktree",
]
