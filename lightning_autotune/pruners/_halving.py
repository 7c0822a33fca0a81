"""`SuccessiveHalvingPruner`: asynchronous successive halving with rungs read from the steps."""

from __future__ import annotations

from collections.abc import Sequence

from lightning_autotune._validation import check_int
from lightning_autotune.pruners._base import Pruner
from lightning_autotune.pruners._common import (
    best_up_to,
    finished,
    previous_step,
    score_curve,
)
from lightning_autotune.trial import Direction, TrialRecord, TrialState

__all__ = ["SuccessiveHalvingPruner", "rung_steps"]


def rung_steps(
    min_resource: int, reduction_factor: int, min_early_stopping_rate: int, up_to: int
) -> list[int]:
    """The steps at which a trial is judged: `min_resource * reduction_factor**(rate + k)`.

    Args:
        min_resource: Step of the base rung.
        reduction_factor: Growth of the rung steps (and 1/fraction of trials promoted).
        min_early_stopping_rate: Rungs skipped before the first judgement.
        up_to: Largest step to list.

    Returns:
        The rung steps `<= up_to`, increasing.

    Example:
        >>> rung_steps(1, 3, 0, 30)
        [1, 3, 9, 27]
    """
    out = []
    step = min_resource * reduction_factor**min_early_stopping_rate
    while step <= up_to:
        out.append(step)
        step *= reduction_factor
    return out


def promotable(mine: float, competitors: Sequence[float], reduction_factor: int) -> bool:
    """Whether `mine` ranks among the best `max(1, n // reduction_factor)` of `competitors`.

    `competitors` includes `mine`; scores are lower-is-better. While fewer than
    `reduction_factor` trials reached the rung, only a trial at least as good as the best goes on.
    """
    ranked = sorted(competitors)
    keep = max(1, len(ranked) // reduction_factor)
    return mine <= ranked[keep - 1]


class SuccessiveHalvingPruner(Pruner):
    """Asynchronous successive halving (ASHA): keep the best `1/reduction_factor` at each rung.

    Rungs are the steps `min_resource * reduction_factor**(min_early_stopping_rate + k)`,
    k = 0, 1, .... A trial is judged once per rung, at its first report at or after the rung
    step (the rung is crossed between the trial's previous and last reported step). Its score at
    the rung is its best score over the steps `<= rung`; the competitors are every trial (any
    state but FAILED) whose own reports reach that rung, scored the same way. The trial goes on if
    it ranks among the best `max(1, n // reduction_factor)` of those `n` scores (itself
    included), otherwise it is pruned. Nothing is written to the store: rungs and ranks are
    recomputed from the reported steps on every call, so a restarted study behaves the same.

    Steps are whatever the trial reports (the callback reports the global step), so
    `min_resource` is in those units.

    Args:
        min_resource: Step of the base rung (>= 1).
        reduction_factor: Rung growth and 1/fraction promoted (>= 2).
        min_early_stopping_rate: Base rungs skipped; 0 judges at `min_resource` already.
        n_startup_trials: No pruning until this many trials have finished.

    Raises:
        ConfigError: An argument is out of range (the message names it).

    Example:
        >>> SuccessiveHalvingPruner(min_resource=10, reduction_factor=3)
        SuccessiveHalvingPruner(min_resource=10, reduction_factor=3, min_early_stopping_rate=0, n_startup_trials=0)
    """  # noqa: E501

    def __init__(
        self,
        min_resource: int = 1,
        reduction_factor: int = 3,
        min_early_stopping_rate: int = 0,
        n_startup_trials: int = 0,
    ) -> None:
        name = type(self).__name__
        self.min_resource = check_int(min_resource, f"{name}: min_resource", low=1)
        self.reduction_factor = check_int(reduction_factor, f"{name}: reduction_factor", low=2)
        self.min_early_stopping_rate = check_int(
            min_early_stopping_rate, f"{name}: min_early_stopping_rate", low=0
        )
        self.n_startup_trials = check_int(n_startup_trials, f"{name}: n_startup_trials", low=0)

    def __repr__(self) -> str:
        return (
            f"SuccessiveHalvingPruner(min_resource={self.min_resource}, "
            f"reduction_factor={self.reduction_factor}, "
            f"min_early_stopping_rate={self.min_early_stopping_rate}, "
            f"n_startup_trials={self.n_startup_trials})"
        )

    def prune(
        self, trial: TrialRecord, history: Sequence[TrialRecord], direction: Direction
    ) -> bool:
        if len(finished(history)) < self.n_startup_trials:
            return False
        return judge(
            trial,
            history,
            direction,
            self.min_resource,
            self.reduction_factor,
            self.min_early_stopping_rate,
        )


def judge(
    trial: TrialRecord,
    competitors: Sequence[TrialRecord],
    direction: Direction,
    min_resource: int,
    reduction_factor: int,
    min_early_stopping_rate: int,
) -> bool:
    """The successive-halving decision for `trial` against `competitors` (see the class)."""
    step = trial.last_step
    if step is None:
        return False
    rungs = rung_steps(min_resource, reduction_factor, min_early_stopping_rate, step)
    if not rungs:
        return False
    rung = rungs[-1]
    before = previous_step(trial)
    if before is not None and before >= rung:
        return False  # this rung was already judged at an earlier report
    curve = score_curve(trial, direction)
    mine = best_up_to(curve, rung)
    if mine is None:
        return False
    scores = [mine]
    for other in competitors:
        if other.number == trial.number or other.state is TrialState.FAILED:
            continue
        if other.last_step is None or other.last_step < rung:
            continue
        value = other.best_up_to(rung, direction)
        if value is not None:
            scores.append(value)
    return not promotable(mine, scores, reduction_factor)
