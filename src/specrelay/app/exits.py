"""The one rule of a command's exit code for an error (a run's own policy is in :mod:`specrelay.app.run`)."""

from __future__ import annotations

from specrelay.errors import Interrupted


def interrupted_code() -> int:
    """The exit code of a run or command that was interrupted: 128 + the signal (130 Ctrl-C, 143 SIGTERM)."""
    from specrelay.engine.signals import interrupt_signal

    return 128 + interrupt_signal()


def exit_code(error: BaseException) -> int:
    """The exit code for an error: :func:`interrupted_code` for an interrupted run or command, else the
    error's own (a usage error 2, a run error...), else 2."""
    if isinstance(error, (Interrupted, KeyboardInterrupt)):
        return interrupted_code()
    return int(getattr(error, "exit_code", 2))
