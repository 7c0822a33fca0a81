"""`Trial`: the live handle an objective (or `AutoTuneCallback`) uses while a trial runs."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lightning_autotune.trial._kind import FailureKind
from lightning_autotune.trial._record import TrialRecord

if TYPE_CHECKING:
    from lightning_autotune.study import Study

__all__ = ["Trial"]

log = logging.getLogger("lightning_autotune")

# Most seconds between two heartbeats that `should_prune` sends for a trial (a quarter of the
# study's `stale_after` when that is shorter), so a trial that only checks keeps its lease.
_LEASE_REFRESH = 5.0


class Trial:
    """One running trial: its parameters, and the way to report progress and ask about pruning.

    Trials are made by `Study.ask()`; users rarely build one themselves.

    Example:
        >>> from lightning_autotune import create_study
        >>> study = create_study(space={"x": {"type": "continuous", "min": 0, "max": 1}}, seed=0)
        >>> trial = study.ask()
        >>> trial.report(1, 0.3)
        >>> study.tell(trial, 0.25).value
        0.25
    """

    def __init__(self, study: Study, record: TrialRecord) -> None:
        self.study = study
        self.trial_id = record.trial_id
        self.number = record.number
        self.params: dict[str, Any] = dict(record.params)
        self.prune_reason: str | None = None
        self.prune_kind: FailureKind | None = None
        self._alive_at = time.monotonic()  # when this handle last told the store it is alive

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self.params})"

    def report(self, step: int, value: float, metrics: Mapping[str, float] | None = None) -> None:
        """Record the objective value (raw, in the study's direction) and any metrics at a step.

        It also renews the trial's lease (its heartbeat), like `heartbeat`.
        """
        self.study.storage.report(self.trial_id, int(step), float(value), metrics)
        self._alive_at = time.monotonic()

    def should_prune(self) -> bool:
        """Ask the study's pruner whether this trial should stop now.

        A NaN or infinite latest value always prunes (kind DIVERGED). The reason is kept in
        `prune_reason`, its kind in `prune_kind` (None: PRUNED), and both are recorded when the
        trial is told.

        A trial that checks often keeps its lease: the heartbeat is renewed here when the last
        one this handle sent is older than a quarter of the study's `stale_after` (at most 5 s).
        """
        self._renew_lease()
        # One read of the study serves both this trial and the history (incremental on a SQL
        # store: only trials that changed since the last check are fetched).
        read = self.study.storage.read_trials(self.study.study_id)
        trials = read.trials
        # A running trial is among the few live ones; a pass over all trials only if not.
        record = (
            next((t for t in read.unfinished() if t.trial_id == self.trial_id), None)
            or next((t for t in trials if t.trial_id == self.trial_id), None)
            or self.snapshot()
        )
        last = record.last_step
        if last is not None and not math.isfinite(record.intermediate[last]):
            self.prune_reason = f"objective was {record.intermediate[last]} at step {last}"
            self.prune_kind = FailureKind.DIVERGED
            return True
        pruner = self.study.pruner
        if pruner is None or last is None:
            return False
        history = [t for t in trials if t.number != self.number]
        if pruner.prune(record, history, self.study.direction):
            who = pruner.describe(record, history, self.study.direction)
            self.prune_reason = f"{who} at step {last} (value {record.intermediate[last]:.6g})"
            return True
        return False

    def snapshot(self) -> TrialRecord:
        """The trial as the store holds it now."""
        return self.study.storage.get_trial(self.trial_id)

    def heartbeat(self) -> None:
        """Tell the store this trial is still alive."""
        self.study.storage.heartbeat(self.trial_id)
        self._alive_at = time.monotonic()

    def _renew_lease(self) -> None:
        stale_after = self.study.stale_after
        every = _LEASE_REFRESH if not stale_after else min(_LEASE_REFRESH, stale_after / 4)
        if time.monotonic() - self._alive_at < every:
            return
        try:
            self.heartbeat()
        except Exception as err:  # a busy store, or a trial already stopped: the check goes on
            log.debug("trial %d: could not renew its lease: %s", self.number, err)

    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON-serializable annotation to the trial."""
        self.study.storage.set_trial_attr(self.trial_id, key, value)
