"""``specrelay eval run demo``: the built-in suite, offline, no keys: a sample repository whose history makes
the cases (:mod:`specrelay.engine.evaldemo`), then run and reported as any suite is.

Used when the current repository has no suite named ``demo`` of its own, or outside any repository.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from specrelay.app.eval import Made, make_from_history
from specrelay.app.workspace import root_or_none
from specrelay.engine import evalcases
from specrelay.engine.evaldemo import SUITE, WORKFLOWS, prepare_eval_demo
from specrelay.errors import UserError


@dataclass(frozen=True)
class EvalDemo:
    """The sample repository, the cases made from its history, and the workflows to run them under."""

    root: Path
    made: Made
    workflows: list[str]


def is_builtin(suite: str, start: Path | None = None) -> bool:
    """Whether ``eval run SUITE`` means the built-in suite: ``demo``, where no repository (from ``start``, the
    current folder by default) has a suite of that name."""
    if suite != SUITE:
        return False
    root = root_or_none(start)
    return root is None or not evalcases.suites(root).get(SUITE)


def start_eval_demo(folder: Path | None = None, *, workflows: Sequence[str] = (),
                    progress: Callable[[str], None] | None = None,
                    on_ready: Callable[[Path], None] | None = None) -> EvalDemo:
    """Create the sample repository (in ``folder``, new or empty; default: a new temporary one) and make the
    suite from its history (each case validated; ``progress`` is told of each), ready for
    :func:`specrelay.app.eval.run_eval` under ``workflows`` (default: all three it is scripted for).
    ``on_ready`` is told where the sample repository is as soon as it exists."""
    chosen = list(workflows) or list(WORKFLOWS)
    unknown = [w for w in chosen if w not in WORKFLOWS]
    if unknown:
        raise UserError(f"--workflows {','.join(unknown)}: the built-in demo suite is scripted for "
                        f"{', '.join(WORKFLOWS)} only; name some of those (or leave --workflows out).")
    root = prepare_eval_demo(folder)
    if on_ready is not None:
        on_ready(root)
    return EvalDemo(root, make_from_history(root, SUITE, progress=progress), chosen)
