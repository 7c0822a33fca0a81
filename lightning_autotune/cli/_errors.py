"""How a command ends when something goes wrong: one `error:` line and an exit code.

A user who runs `lightning-autotune` (or a script built on `AutoTuneCLI`) reads the message, not
the stack: errors print `error: <message>` on stderr, Ctrl-C prints how to resume, and a reader
that closes the pipe early (`... | head`) ends the command quietly. `--debug` (or the
environment variable `LIGHTNING_AUTOTUNE_DEBUG=1`) adds the full traceback.
"""

from __future__ import annotations

import contextvars
import os
import sys
import traceback
from contextlib import ContextDecorator
from enum import IntEnum
from types import TracebackType
from typing import IO, Literal

from lightning_autotune.exceptions import (
    AutotuneError,
    ConfigError,
    ConstraintError,
    MetricNotFoundError,
    SearchSpaceError,
    StudyMismatchError,
)

__all__ = ["DEBUG_ENV", "INTERRUPTED", "USAGE_ERRORS", "ExitCode", "cli_errors", "present_error"]


class ExitCode(IntEnum):
    """Exit status of a command."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a process that Ctrl-C stopped
    BROKEN_PIPE = 141  # 128 + SIGPIPE, as `yes | head` ends


USAGE_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError,
    SearchSpaceError,
    ConstraintError,
    MetricNotFoundError,
    StudyMismatchError,
)
"""Errors the user fixes in the command or its config; they exit with `ExitCode.USAGE`."""

INTERRUPTED = "interrupted; run the same command again to resume"
DEBUG_ENV = "LIGHTNING_AUTOTUNE_DEBUG"

# Handlers entered and not yet left in this context: only the outermost one reports, so that a
# command run from `main` (which has its own handler) reports once.
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("cli_errors_depth", default=0)


def present_error(exc: BaseException, *, debug: bool = False, err: IO[str] | None = None) -> int:
    """Tell the user about `exc` on `err` and return the exit code for it.

    Args:
        exc: What stopped the command.
        debug: Also write the full traceback.
        err: Where to write (default `sys.stderr`).

    Returns:
        `ExitCode.USAGE` for errors in the command or its config (`USAGE_ERRORS`),
        `ExitCode.INTERRUPTED` for Ctrl-C, `ExitCode.BROKEN_PIPE` when stdout's reader left,
        `ExitCode.FAILURE` otherwise.

    Example:
        >>> import io
        >>> int(present_error(ConfigError("n_trials must be >= 0"), err=io.StringIO()))
        2
    """
    err = err if err is not None else sys.stderr
    if isinstance(exc, BrokenPipeError) and _stdout_is_closed():
        return ExitCode.BROKEN_PIPE
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=err)
    if isinstance(exc, KeyboardInterrupt):
        err.write(f"{INTERRUPTED}\n")
        return ExitCode.INTERRUPTED
    if isinstance(exc, AutotuneError):
        message = str(exc)
    else:
        # An error from outside the package (the user's module, a library): its type helps.
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    err.write(f"error: {message}\n")
    if not debug and not isinstance(exc, AutotuneError):
        err.write("(run again with --debug to see where it was raised)\n")
    err.flush()
    return ExitCode.USAGE if isinstance(exc, USAGE_ERRORS) else ExitCode.FAILURE


class cli_errors(ContextDecorator):
    """Turn an exception that ends a command into `present_error`'s output and `SystemExit`.

    Use it around the body of a command-line entry point, as a context manager or a decorator.
    `SystemExit` passes through untouched. Nested handlers report once: only the outermost
    acts, so a command that `lightning-autotune` runs inside its own handler is not reported
    twice.

    Args:
        debug: Also write the traceback (None: when `LIGHTNING_AUTOTUNE_DEBUG` is set to 1).
        err: Where to write (default `sys.stderr`).
        enabled: False lets every exception through (e.g. when called from Python, not a shell).

    Example:
        >>> @cli_errors()
        ... def main() -> None:
        ...     raise ConfigError("--limit must be an integer >= 1, got 0")
        >>> main()  # doctest: +SKIP
        error: --limit must be an integer >= 1, got 0
    """

    def __init__(
        self, *, debug: bool | None = None, err: IO[str] | None = None, enabled: bool = True
    ) -> None:
        self.debug = debug
        self.err = err
        self.enabled = enabled
        self._tokens: list[contextvars.Token[int]] = []

    def __enter__(self) -> cli_errors:
        self._tokens.append(_depth.set(_depth.get() + 1))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        _depth.reset(self._tokens.pop())
        if exc is None or isinstance(exc, SystemExit) or not self.enabled or _depth.get() > 0:
            return False
        debug = self.debug if self.debug is not None else debug_from_env()
        code = present_error(exc, debug=debug, err=self.err)
        if code is ExitCode.BROKEN_PIPE:
            _silence_stdout()
        raise SystemExit(int(code)) from None


def debug_from_env() -> bool:
    """Whether `LIGHTNING_AUTOTUNE_DEBUG` asks for tracebacks (1, true, yes)."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes")


def flush_stdout() -> None:
    """Flush stdout now, so that a reader who left shows up here and not at interpreter exit."""
    sys.stdout.flush()


def _stdout_is_closed() -> bool:
    """Whether stdout's reader has gone (a BrokenPipeError may also come from another pipe)."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):
        return True  # not a file descriptor (captured output): the error came from writing it
    try:
        import select

        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        # The write end of a pipe whose reader closed reports POLLERR.
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    except (OSError, AttributeError):  # no poll() (Windows): trust the error
        return True


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's final flush does not fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (captured in tests): nothing will be flushed to a pipe
