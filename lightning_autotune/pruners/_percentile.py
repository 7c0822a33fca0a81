"""`PercentilePruner` and `MedianPruner`: stop a trial that trails the field at the same step."""

from __future__ import annotations

import math
from collections.abc import Sequence

from lightning_autotune._validation import check_int, check_number
from lightning_autotune.pruners._base import Pruner
from lightning_autotune.pruners._common import (
    finished,
    score_curve,
)
from lightning_autotune.trial import Direction, TrialRecord

__all__ = ["MedianPruner", "PercentilePruner"]


class PercentilePruner(Pruner):
    """Prune when the trial's best score so far is worse than a percentile of the other trials.

    At the trial's last reported step `s`, each finished (COMPLETE or PRUNED) trial contributes
    its best score over the steps `<= s` (so trials that report on different step grids still
    compare). With scores lower-is-better, the trial is pruned when its own best score so far is
    strictly above the `percentile`-th percentile of those values. `percentile=25` keeps only
    trials in the best quarter; `percentile=50` is the median rule. NaN counts as the worst value.

    Args:
        percentile: In (0, 100]; lower prunes more.
        n_startup_trials: No pruning until this many trials have finished (COMPLETE or PRUNED).
        n_warmup_steps: No pruning of a trial before it reports a step greater than this.
        interval_steps: Only decide on steps `s` with `(s - n_warmup_steps) % interval_steps == 0`.
        n_min_trials: Least number of finished trials with a value at or before `s`.

    Raises:
        ConfigError: An argument is out of range (the message names it).

    Example:
        >>> PercentilePruner(25.0, n_startup_trials=3)
        PercentilePruner(percentile=25.0, n_startup_trials=3, n_warmup_steps=0, interval_steps=1, n_min_trials=1)
    """  # noqa: E501

    def __init__(
        self,
        percentile: float,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
    ) -> None:
        name = type(self).__name__
        self.percentile = check_number(
            percentile, f"{name}: percentile", low=0.0, high=100.0, strict_low=True
        )
        self.n_startup_trials = check_int(n_startup_trials, f"{name}: n_startup_trials", low=0)
        self.n_warmup_steps = check_int(n_warmup_steps, f"{name}: n_warmup_steps", low=0)
        self.interval_steps = check_int(interval_steps, f"{name}: interval_steps", low=1)
        self.n_min_trials = check_int(n_min_trials, f"{name}: n_min_trials", low=1)

    def __repr__(self) -> str:
        return (
            f"PercentilePruner(percentile={self.percentile}, "
            f"n_startup_trials={self.n_startup_trials}, n_warmup_steps={self.n_warmup_steps}, "
            f"interval_steps={self.interval_steps}, n_min_trials={self.n_min_trials})"
        )

    def prune(
        self, trial: TrialRecord, history: Sequence[TrialRecord], direction: Direction
    ) -> bool:
        step = trial.last_step
        if step is None or step <= self.n_warmup_steps:
            return False
        if (step - self.n_warmup_steps) % self.interval_steps != 0:
            return False
        done = finished(history)
        if len(done) < self.n_startup_trials:
            return False
        mine = min(score_curve(trial, direction).values())
        others = [t.best_up_to(step, direction) for t in done]
        values = [v for v in others if v is not None]
        if len(values) < self.n_min_trials:
            return False
        return mine > percentile(values, self.percentile)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, as `numpy.percentile`, except that
    +inf values (diverged trials) are handled without warnings: interpolating towards +inf gives
    +inf.
    """
    ranked = sorted(values)
    pos = q / 100.0 * (len(ranked) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ranked) - 1)
    frac = pos - lo
    if frac == 0.0 or ranked[lo] == ranked[hi]:
        return ranked[lo]
    if math.isinf(ranked[hi]):
        return math.inf
    return ranked[lo] + (ranked[hi] - ranked[lo]) * frac


class MedianPruner(PercentilePruner):
    """`PercentilePruner` at 50%: prune a trial whose best so far is worse than the median.

    Args:
        n_startup_trials: No pruning until this many trials have finished (COMPLETE or PRUNED).
        n_warmup_steps: No pruning of a trial before it reports a step greater than this.
        interval_steps: Only decide on steps that are multiples of this, counted after warm-up.
        n_min_trials: Least number of other trials with a value at this step to compare with.

    Example:
        >>> MedianPruner(n_startup_trials=3, n_warmup_steps=10)
        MedianPruner(n_startup_trials=3, n_warmup_steps=10, interval_steps=1, n_min_trials=1)
    """

    def __init__(
        self,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
    ) -> None:
        super().__init__(50.0, n_startup_trials, n_warmup_steps, interval_steps, n_min_trials)

    def __repr__(self) -> str:
        return (
            f"MedianPruner(n_startup_trials={self.n_startup_trials}, "
            f"n_warmup_steps={self.n_warmup_steps}, interval_steps={self.interval_steps}, "
            f"n_min_trials={self.n_min_trials})"
        )
