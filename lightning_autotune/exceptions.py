"""One family of errors, so callers can catch everything from this package at once.

Every error raised on bad input names the field, the rule it broke, the value it got and the fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lightning_autotune.trial import FailureKind

__all__ = [
    "AutotuneError",
    "ConfigError",
    "ConstraintError",
    "DuplicateStudyError",
    "MetricNotFoundError",
    "SearchSpaceError",
    "StorageError",
    "StudyFailedError",
    "StudyInterrupted",
    "StudyMismatchError",
    "StudyNotFoundError",
    "TrialPruned",
    "TrialStateError",
]


class AutotuneError(Exception):
    """Base class of every error raised by lightning_autotune."""


class SearchSpaceError(AutotuneError, ValueError):
    """A search space, a parameter or a configuration is malformed."""


class ConstraintError(AutotuneError, ValueError):
    """A constraint or rule expression is malformed or uses something that is not allowed."""


class ConfigError(AutotuneError, ValueError):
    """An argument or configuration value is invalid (wrong type, out of range, conflicting)."""


class MetricNotFoundError(AutotuneError, KeyError):
    """A monitored metric was never logged. The message lists the metrics that were."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class StorageError(AutotuneError):
    """The trial store could not be read or written, or holds an incompatible schema."""


class StudyNotFoundError(StorageError, KeyError):
    """No study of that name exists in the store."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DuplicateStudyError(StorageError):
    """A study of that name already exists and was not expected to."""


class StudyMismatchError(StorageError):
    """A study was re-opened with a different search space or direction."""


class StudyFailedError(AutotuneError):
    """Too many trials failed (see `failure_threshold`); the message counts the reasons."""


class TrialStateError(StorageError):
    """A trial was moved to a state that its current state does not allow (e.g. a late result)."""


class TrialPruned(AutotuneError):
    """Raised by an objective to end its trial as PRUNED (the study catches it).

    Lightning callbacks never raise it inside a hook; they set `trainer.should_stop` instead.

    Args:
        reason: Why, shown to the user (empty: the pruner's own reason).
        kind: What stopped it, stored beside the reason (None: the pruner's decision).
    """

    def __init__(self, reason: str = "", kind: FailureKind | None = None) -> None:
        super().__init__(reason)
        self.kind = kind

    def __reduce__(self) -> tuple[type[TrialPruned], tuple[str, FailureKind | None]]:
        # Trial processes send it to their parent: keep the kind through pickling.
        return type(self), (str(self), self.kind)


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGINT) stopped `Study.optimize`; its running trials are recorded as interrupted.

    Running the same command again resumes the study and runs those trials again. It derives
    from `KeyboardInterrupt`, not from `AutotuneError`, so that `except Exception` never
    swallows a Ctrl-C; a command line catches it, prints its one-line message and exits 130.
    """

    MESSAGE = "interrupted; run the same command again to resume"

    def __init__(self, message: str = MESSAGE) -> None:
        super().__init__(message)
