"""Ctrl-C and stop signals: raised as `KeyboardInterrupt` once, and remembered.

A process notes that it received a signal, so that a `SystemExit` raised while handling it
(Lightning turns Ctrl-C into `sys.exit(1)`) is told apart from an objective that calls
`sys.exit` itself. Later signals are ignored while the first one is handled, so that recording
the interrupted trials and stopping the trial processes is not cut short by a second Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType

__all__ = ["install", "interrupt_handler", "received", "report_if_uncaught", "watch_interrupts"]

_received = threading.Event()


def received() -> bool:
    """Whether this process received Ctrl-C or a stop signal (since `watch_interrupts` began)."""
    return _received.is_set()


def interrupt_handler(signum: int, frame: FrameType | None) -> None:
    """Raise `KeyboardInterrupt` for the first signal; note and ignore the ones that follow."""
    if _received.is_set():
        return
    _received.set()
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def install(*signums: signal.Signals) -> None:
    """Handle `signums` with `interrupt_handler` in this process (a trial process)."""
    _received.clear()
    for signum in signums:
        signal.signal(signum, interrupt_handler)


@contextmanager
def watch_interrupts() -> Iterator[None]:
    """Handle Ctrl-C with `interrupt_handler` while the block runs, then restore the handler.

    Only the main thread can set handlers, and a handler the user installed is left alone: in
    either case Ctrl-C keeps its usual effect.
    """
    previous = signal.getsignal(signal.SIGINT)
    own = (
        threading.current_thread() is threading.main_thread()
        and previous is signal.default_int_handler
    )
    if own:
        _received.clear()
        signal.signal(signal.SIGINT, interrupt_handler)
    try:
        yield
    finally:
        if own:
            signal.signal(signal.SIGINT, previous)


def report_if_uncaught() -> None:
    """Let a `StudyInterrupted` that reaches the top of a script print its one line, not a stack.

    A script that calls `fit` or `optimize` and does not catch the Ctrl-C would otherwise end with
    Python's traceback. The hook only changes how that one exception is shown; Python still
    ends the process as it ends one stopped by Ctrl-C (exit status 130 in a shell). Installed
    once, and only when a study was interrupted.
    """
    import sys

    from lightning_autotune.exceptions import StudyInterrupted

    previous = sys.excepthook
    if getattr(previous, "_shows_study_interrupted", False):
        return

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, StudyInterrupted):
            print(exc, file=sys.stderr)
        else:
            previous(exc_type, exc, tb)

    hook._shows_study_interrupted = True  # type: ignore[attr-defined]
    sys.excepthook = hook
