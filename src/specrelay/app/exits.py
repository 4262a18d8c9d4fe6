"""The one rule of a command's exit code for an error (a run's own policy is in :mod:`specrelay.app.run`)."""

from __future__ import annotations

from specrelay.errors import Interrupted


def exit_code(error: BaseException) -> int:
    """The exit code for an error: 128 + the signal for an interrupted run (130 Ctrl-C, 143 SIGTERM),
    else the error's own (a usage error 2, a run error...), else 2."""
    if isinstance(error, Interrupted):
        from specrelay.engine.runner import interrupt_signal  # the engine only for a run that was paused

        return 128 + interrupt_signal()
    return int(getattr(error, "exit_code", 2))
