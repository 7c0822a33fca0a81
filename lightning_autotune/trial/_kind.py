"""`FailureKind`: why a trial ended without a result, as the code that decides reads it."""

from __future__ import annotations

from enum import Enum

__all__ = ["FailureKind"]


class FailureKind(str, Enum):
    """Why a trial ended FAILED or PRUNED, stored beside its human-readable reason.

    Decisions (retry a trial, avoid a configuration, stop the study) read the kind, never the
    reason's text. A COMPLETE, RUNNING or WAITING trial has no kind.
    """

    EXCEPTION = "exception"
    """The objective raised an exception (not one of the kinds below)."""
    OOM = "oom"
    """CPU or GPU memory ran out; the configuration is not proposed again."""
    SETUP_ERROR = "setup_error"
    """An error that would fail every trial alike (a wrong monitor, a malformed argument or
    return value); the study stops, and the trial does not count against `max_trials`."""
    DIVERGED = "diverged"
    """The objective (final or intermediate) was NaN or infinite."""
    TIMEOUT = "timeout"
    """The trial ran longer than `trial_timeout`."""
    TIME_BUDGET = "time_budget"
    """The study's time budget ended while the trial ran."""
    INTERRUPTED = "interrupted"
    """The user interrupted the study (Ctrl-C, SIGTERM); the trial is retried on resume."""
    PROCESS_DIED = "process_died"
    """The trial's process ended without recording a result (killed, crashed)."""
    HEARTBEAT_LOST = "heartbeat_lost"
    """The trial stopped sending heartbeats (its machine or process is gone)."""
    COORDINATOR_LOST = "coordinator_lost"
    """The process that started the trial disappeared while it ran."""
    FORK_SERVER_DIED = "fork_server_died"
    """The fork server that started the trial's process died (the OOM killer, a stray kill)
    while the trial ran; the coordinator stops the trial, starts a new server and goes on."""
    PRUNED = "pruned"
    """A pruner (or the objective, raising `TrialPruned`) stopped an unpromising trial."""

    @property
    def retryable(self) -> bool:
        """Whether the trial failed through no fault of its configuration, so it is run again."""
        return self in _RETRYABLE

    @classmethod
    def from_reason(cls, state: str, reason: str | None) -> FailureKind | None:
        """The kind of a trial recorded before kinds were stored, recognised from its reason.

        Used once, when an old store is upgraded; the running code never parses reasons.

        Args:
            state: The trial's state value ('FAILED', 'PRUNED', ...).
            reason: Its recorded reason.

        Returns:
            The kind, or None for a trial that is not FAILED or PRUNED.
        """
        text = reason or ""
        if state == "PRUNED":
            return cls.DIVERGED if text.startswith("objective was ") else cls.PRUNED
        if state != "FAILED":
            return None
        for prefix, kind in _OLD_PREFIXES:
            if text.startswith(prefix):
                return kind
        return cls.EXCEPTION


_RETRYABLE = frozenset(
    {
        FailureKind.INTERRUPTED,
        FailureKind.PROCESS_DIED,
        FailureKind.HEARTBEAT_LOST,
        FailureKind.COORDINATOR_LOST,
        FailureKind.FORK_SERVER_DIED,
    }
)

# How the reasons written by schema version 1 began, for the upgrade of an old store only.
_OLD_PREFIXES = (
    ("oom", FailureKind.OOM),
    ("interrupted", FailureKind.INTERRUPTED),
    ("process died", FailureKind.PROCESS_DIED),
    ("heartbeat lost", FailureKind.HEARTBEAT_LOST),
    ("coordinator lost", FailureKind.COORDINATOR_LOST),
    ("timeout:", FailureKind.TIMEOUT),
    ("stopped: time budget", FailureKind.TIME_BUDGET),
    ("objective value was", FailureKind.DIVERGED),
    ("ConfigError:", FailureKind.SETUP_ERROR),
    ("MetricNotFoundError:", FailureKind.SETUP_ERROR),
    ("SearchSpaceError:", FailureKind.SETUP_ERROR),
)
