"""Review replies that could not be used, kept where the user can read them.

A reviewer whose reply is not the JSON review asked for (even after one repair request), or whose
reply stopped at its output cap, gives no review; its reply is written to a ``rejected_review*.md``
beside the reviews (a task's folder, or an on-demand review's ``.specrelay/reviews/<id>/``), and the
error that reports it names that file.
"""

from __future__ import annotations

import re
from pathlib import Path

from specrelay.errors import InvalidReply, ReplyCutOff
from specrelay.fsutil import atomic_write_text

#: The errors whose reply is worth keeping: the reviewer answered, but not with a usable review.
UNUSABLE = (InvalidReply, ReplyCutOff)


def rejected_name(round_no: int | None, preset: str | None = None) -> str:
    """``rejected_review_r{round}[_{preset}].md``: one per reviewer of a panel, no round outside a task."""
    parts = ["rejected_review"]
    if round_no is not None:
        parts.append(f"r{round_no}")
    if preset is not None:
        parts.append(re.sub(r"[^A-Za-z0-9._-]", "_", preset))
    return "_".join(parts) + ".md"


def keep_rejected(path: Path, exc: InvalidReply | ReplyCutOff, *, round_no: int | None = None) -> Path:
    """Write the reply ``exc`` carries, with why it was not used, to ``path``; returns ``path``."""
    when = f" · round {round_no}" if round_no is not None else ""
    atomic_write_text(path, f"# A review reply that could not be used\n\nPreset {exc.preset}{when}.\n\n{exc}\n\n"
                            f"## The reply\n\n{exc.reply}\n")
    return path


def kept_message(exc: InvalidReply | ReplyCutOff, path: Path) -> str:
    """The error's message, saying where the reply is kept."""
    return f"{str(exc).rstrip('.')}; the reply is kept in {path}"
