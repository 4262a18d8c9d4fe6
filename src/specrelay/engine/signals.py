"""Signals as interruptions: Ctrl-C and SIGTERM pause a task (:func:`signals_pause`), or interrupt a
command that runs none as Ctrl-C does (:func:`sigterm_as_ctrl_c`); the exit code follows the signal."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

#: The signals turned into a pause or an interruption, in order (the exit code follows the last).
_received: list[int] = []


def interrupt_signal() -> int:
    """The signal that paused the run (SIGTERM or SIGINT); SIGINT when none was caught (a KeyboardInterrupt)."""
    return _received[-1] if _received else int(signal.SIGINT)


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """While inside, SIGTERM interrupts as Ctrl-C does, for a command that runs no task (``ask``, an
    on-demand review): inside ``asyncio.run`` its main task is cancelled (the call in flight is then
    recorded as interrupted), elsewhere a KeyboardInterrupt is raised. The exit code still says SIGTERM
    (:func:`interrupt_signal`). An ignored SIGTERM stays ignored; outside the main thread nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN:
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        _received.append(signum)
        ctrl_c = signal.getsignal(signal.SIGINT)  # asyncio.run's own while a call runs
        if callable(ctrl_c) and ctrl_c is not signal.default_int_handler:
            ctrl_c(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def signals_pause(pause: Callable[[], None]) -> Iterator[None]:
    """While inside, Ctrl-C and SIGTERM call ``pause`` (which must not block) instead of raising.

    A signal the process inherited as ignored (a background job's Ctrl-C) stays ignored. Outside
    the main thread signals cannot be handled, and nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        _received.append(signum)
        with contextlib.suppress(Exception):  # a handler raising would land at an arbitrary point
            pause()

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig, old in previous.items():
        if old is not signal.SIG_IGN:
            signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            if old is not signal.SIG_IGN:
                signal.signal(sig, old)
