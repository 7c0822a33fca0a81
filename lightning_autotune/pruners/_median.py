"""`MedianPruner`: stop a trial that is worse than the median of earlier trials at the same step."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lightning_autotune.exceptions import ConfigError
from lightning_autotune.pruners._base import Pruner
from lightning_autotune.trial import Direction, TrialRecord, TrialState

__all__ = ["MedianPruner"]


class MedianPruner(Pruner):
    """Prune when the trial's best value so far is worse than the median of the other trials'
    best values up to the same step.

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
        for field, value, low in (
            ("n_startup_trials", n_startup_trials, 0),
            ("n_warmup_steps", n_warmup_steps, 0),
            ("interval_steps", interval_steps, 1),
            ("n_min_trials", n_min_trials, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(
                    f"MedianPruner: {field} must be an integer >= {low}, got {value!r}"
                )
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps
        self.interval_steps = interval_steps
        self.n_min_trials = n_min_trials

    def __repr__(self) -> str:
        return (
            f"MedianPruner(n_startup_trials={self.n_startup_trials}, "
            f"n_warmup_steps={self.n_warmup_steps}, interval_steps={self.interval_steps}, "
            f"n_min_trials={self.n_min_trials})"
        )

    def prune(
        self, trial: TrialRecord, history: Sequence[TrialRecord], direction: Direction
    ) -> bool:
        step = trial.last_step
        if step is None or step <= self.n_warmup_steps:
            return False
        if (step - self.n_warmup_steps) % self.interval_steps != 0:
            return False
        finished = [t for t in history if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        if len(finished) < self.n_startup_trials:
            return False
        # NaN values are ignored here (a NaN latest value is pruned by the trial itself); min()
        # over a list holding NaN would depend on where the NaN sits.
        mine_values = [v for v in trial.curve(direction).values() if not math.isnan(v)]
        if not mine_values:
            return False
        mine = min(mine_values)
        others = []
        for t in finished:
            upto = [v for s, v in t.curve(direction).items() if s <= step and not math.isnan(v)]
            if upto:
                others.append(min(upto))
        if len(others) < self.n_min_trials:
            return False
        return bool(mine > float(np.median(others)))
