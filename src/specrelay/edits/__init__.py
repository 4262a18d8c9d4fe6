"""SEARCH/REPLACE edits: parse a builder's reply, apply its blocks, confined to a worktree.

::

    parse_blocks(reply)            -> [EditBlock]       (parse.py)
    apply_edit(text, search, rep)  -> new text          (edit.py: match.py ladder, merge.py)
    apply_blocks(worktree, blocks) -> ApplyResult       (apply.py: all or nothing, paths confined)

Refusals are :class:`~specrelay.errors.EditError` subclasses whose messages are
written for the model that made the edit: where SEARCH nearly matched, or every
place it matched.
"""

from specrelay.edits.edit import AppliedEdit, apply_edit, apply_edit_detailed
from specrelay.edits.match import LADDER, Level

__all__ = [
    "LADDER",
    "AppliedEdit",
    "Level",
    "apply_edit",
    "apply_edit_detailed",
]
