"""`Storage`: the interface every trial store implements, and the study description it returns.

The store is the single source of truth of a study. Finished trials are immutable: a result that
arrives for a trial already finished in another state is refused (`TrialStateError`), while the
same result recorded twice is harmless.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from lightning_autotune._validation import check_number
from lightning_autotune.exceptions import ConfigError, TrialStateError
from lightning_autotune.storage._problems import MalformedRow, StudyTrials
from lightning_autotune.trial import Direction, FailureKind, TrialRecord, TrialState

__all__ = [
    "Storage",
    "StudyInfo",
    "check_finish",
    "check_grace",
    "check_study_name",
    "finish_kind",
    "stale_reason",
    "summarize",
]


@dataclass(frozen=True)
class StudyInfo:
    """What the store knows about a study.

    Attributes:
        study_id: The store's id.
        name: Unique study name.
        space: The search space in `SearchSpace.to_dict()` form.
        directions: One direction per objective.
        created_at: Creation time (UTC).
        user_attrs: Free JSON-serializable annotations (objective names, seeds, ...).
    """

    study_id: int
    name: str
    space: Mapping[str, Any]
    directions: tuple[Direction, ...]
    created_at: datetime
    user_attrs: Mapping[str, Any] = field(default_factory=dict)


class Storage(ABC):
    """Where studies and trials are recorded. Every method is safe to call from several threads.

    Implementations: `InMemoryStorage` (one process), `SQLStorage` (SQLite file or PostgreSQL).
    """

    def close(self) -> None:  # noqa: B027 - optional hook: a store without connections has none
        """Release the store's connections (a closed store reconnects if used again)."""

    # Studies
    @abstractmethod
    def create_study(
        self,
        name: str,
        space: Mapping[str, Any],
        directions: Sequence[Direction],
        user_attrs: Mapping[str, Any] | None = None,
    ) -> StudyInfo:
        """Create a study. Raises `DuplicateStudyError` if the name is taken."""

    @abstractmethod
    def get_study(self, name: str) -> StudyInfo:
        """The study of that name. Raises `StudyNotFoundError` listing the existing names."""

    @abstractmethod
    def list_studies(self) -> list[StudyInfo]:
        """Every study in the store, oldest first."""

    @abstractmethod
    def delete_study(self, name: str) -> None:
        """Delete a study and all of its trials. Raises `StudyNotFoundError`."""

    @abstractmethod
    def set_study_attr(self, study_id: int, key: str, value: Any) -> None:
        """Set a JSON-serializable annotation on a study."""

    # Trials
    @abstractmethod
    def create_trial(
        self,
        study_id: int,
        params: Mapping[str, Any],
        *,
        state: TrialState = TrialState.RUNNING,
        worker: str | None = None,
        retry_of: int | None = None,
    ) -> TrialRecord:
        """Record a new trial with the next free number (atomically) and return it."""

    @abstractmethod
    def create_trial_if_next(
        self,
        study_id: int,
        number: int | None,
        params: Mapping[str, Any],
        *,
        worker: str | None = None,
        max_proposals: int | None = None,
    ) -> TrialRecord | None:
        """Record a new RUNNING trial as number `number` if that is the study's next free number.

        Returns None, recording nothing, when another trial took that number first. A proposer
        that read the study when `number` was next learns this way, atomically, whether it saw
        every other trial, and proposes again from a fresh read when it did not. `number=None`
        takes whatever number is next.

        With `max_proposals`, None is also returned when the study already holds that many
        proposal trials (`is_proposal`: retries and setup errors not counted). The count and
        the insert are one transaction, so workers racing for the last trials of a `max_trials`
        budget never overshoot it.
        """

    @abstractmethod
    def claim_waiting(self, study_id: int, worker: str) -> TrialRecord | None:
        """Atomically move the oldest WAITING trial to RUNNING for `worker`; None if none."""

    @abstractmethod
    def report(
        self,
        trial_id: int,
        step: int,
        value: float | None,
        metrics: Mapping[str, float] | None = None,
    ) -> None:
        """Record the objective (and other metrics) at a step. Refused once the trial finished."""

    @abstractmethod
    def heartbeat(self, trial_id: int) -> None:
        """Mark a running trial as alive now."""

    @abstractmethod
    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        values: Sequence[float] | None = None,
        reason: str | None = None,
        kind: FailureKind | None = None,
    ) -> TrialRecord:
        """Move a trial to a finished state (see `check_finish` for what is refused).

        `kind` is stored beside `reason`; see `finish_kind` for its default.
        """

    @abstractmethod
    def set_trial_attr(self, trial_id: int, key: str, value: Any) -> None:
        """Set a JSON-serializable annotation on a trial."""

    @abstractmethod
    def get_trial(self, trial_id: int) -> TrialRecord:
        """A snapshot of one trial."""

    @abstractmethod
    def get_trials(
        self, study_id: int, states: Iterable[TrialState] | None = None
    ) -> list[TrialRecord]:
        """Snapshots of a study's trials (optionally only some states), by number."""

    def get_trial_summaries(
        self, study_id: int, states: Iterable[TrialState] | None = None
    ) -> list[TrialRecord]:
        """`get_trials` without the curves: each trial's `intermediate` holds only its last
        report and `metrics` is empty (see `summarize`).

        What a table of trials shows (values, last step, last value, duration) without reading
        every report of every trial: a SQL store reads one report per trial.
        """
        return [summarize(t) for t in self.get_trials(study_id, states)]

    def read_trials(self, study_id: int) -> StudyTrials:
        """Every trial of the study, by number, with the number the next trial gets.

        This is the read the optimization loop makes before each proposal and pruning check.
        A store may serve it incrementally: `SQLStorage` fetches only what changed since its
        last read in this process. Trial rows that do not decode are skipped (with a warning)
        and listed in `malformed`; `next_number` stays above them.
        """
        found = self.get_trials(study_id)
        return StudyTrials(found, found[-1].number + 1 if found else 0)

    def find_malformed(self, name: str | None = None) -> list[MalformedRow]:
        """The stored rows of one study (all studies when None) that do not decode.

        A store that holds Python objects rather than rows has none.

        Raises:
            StudyNotFoundError: No study is named `name`.
        """
        if name is not None:
            self.get_study(name)
        return []

    @abstractmethod
    def close_waiting_retries(self, study_id: int, reason: str) -> list[TrialRecord]:
        """Atomically mark FAILED the study's WAITING retries (`retry_of` set); return them.

        The kind is INTERRUPTED, so the next run queues each again (`plan_retries`) without
        spending a retry. Trials queued by the user (`Study.enqueue`) stay WAITING, and a retry
        that a worker claimed meanwhile is left to it.
        """

    # Heartbeats
    @abstractmethod
    def get_stale_trials(self, study_id: int, grace_seconds: float) -> list[TrialRecord]:
        """RUNNING trials whose last heartbeat (or start) is more than `grace_seconds` ago.

        Raises:
            ConfigError: `grace_seconds` is not a finite number >= 0.
        """

    @abstractmethod
    def fail_stale_trials(self, study_id: int, grace_seconds: float) -> list[TrialRecord]:
        """Atomically mark the stale RUNNING trials FAILED and return them as now recorded.

        The reason reads 'heartbeat lost: no heartbeat for N s', the kind is HEARTBEAT_LOST.
        When two coordinators call this at once, each stale trial is failed (and returned) by
        exactly one of them.

        Raises:
            ConfigError: `grace_seconds` is not a finite number >= 0.
        """


def summarize(trial: TrialRecord) -> TrialRecord:
    """`trial` with its last report as its only intermediate value, and no metrics."""
    last = trial.last_step
    if last is None:
        return replace(trial, metrics=MappingProxyType({}))
    return replace(
        trial,
        intermediate=MappingProxyType({last: trial.intermediate[last]}),
        metrics=MappingProxyType({}),
    )


MAX_NAME_LENGTH = 512
"""Longest study name, in characters (the SQL stores' `studies.name` column)."""


def check_study_name(name: object) -> str:
    """The study-name rule of every store: a string of 1 to 512 characters, with no NUL and
    no lone surrogate (the name must encode as UTF-8).

    Raises:
        ConfigError: The name breaks the rule; the message names it.
    """
    hint = "pick a plain name such as 'resnet-lr-sweep'"
    if not isinstance(name, str) or not name:
        raise ConfigError(f"study name must be a non-empty string, got {name!r}; {hint}")
    if len(name) > MAX_NAME_LENGTH:
        raise ConfigError(
            f"study name must be at most {MAX_NAME_LENGTH} characters, got {len(name)} "
            f"({name[:40]!r}...); {hint}"
        )
    if "\x00" in name:
        raise ConfigError(f"study name must not contain a NUL character, got {name!r}; {hint}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(
            f"study name must be valid Unicode text (no lone surrogate), got {name!r}; {hint}"
        ) from None
    return name


def check_finish(current: TrialRecord, state: TrialState, values: Sequence[float] | None) -> bool:
    """Decide whether finishing `current` as `state` is new, a harmless repeat, or refused.

    Returns:
        True if the transition should be written, False if it repeats what is recorded.

    Raises:
        TrialStateError: The trial already finished differently, or the target is not final.
    """
    if not state.is_finished:
        raise TrialStateError(
            f"trial {current.number}: finish_trial needs COMPLETE, PRUNED or FAILED, got {state}"
        )
    if not current.state.is_finished:
        return True
    same_values = (values is None and current.values is None) or (
        values is not None
        and current.values is not None
        and len(values) == len(current.values)
        and all(
            a == b or (math.isnan(a) and math.isnan(b))
            for a, b in zip(values, current.values, strict=True)
        )
    )
    if current.state is state and (same_values or state is not TrialState.COMPLETE):
        return False
    raise TrialStateError(
        f"trial {current.number} already finished as {current.state.value}"
        f"{f' ({current.reason})' if current.reason else ''}; a late {state.value} result is "
        "refused so the recorded outcome stays as it was"
    )


def finish_kind(state: TrialState, kind: FailureKind | None) -> FailureKind | None:
    """The kind recorded for a trial finished as `state`: none when COMPLETE, else `kind`.

    A FAILED trial told without a kind is an EXCEPTION, a PRUNED one is PRUNED.

    Raises:
        ConfigError: `kind` is not a `FailureKind`.
    """
    if kind is not None and not isinstance(kind, FailureKind):
        raise ConfigError(f"kind must be a FailureKind or None, got {kind!r}")
    if state is TrialState.COMPLETE:
        return None
    if kind is None:
        return FailureKind.PRUNED if state is TrialState.PRUNED else FailureKind.EXCEPTION
    return kind


def check_grace(grace_seconds: float) -> float:
    """Validate a heartbeat grace period in seconds.

    Raises:
        ConfigError: Not a finite number >= 0.
    """
    return check_number(grace_seconds, "grace_seconds", low=0.0, hint="seconds, e.g. 60")


def stale_reason(last_sign_of_life: datetime | None, now: datetime) -> str:
    """The failure reason of a trial whose heartbeats stopped."""
    silent = 0 if last_sign_of_life is None else (now - last_sign_of_life).total_seconds()
    return f"heartbeat lost: no heartbeat for {math.floor(max(silent, 0.0))} s"
