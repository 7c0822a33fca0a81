"""`AdaptiveThresholdPruner`: trail the best curve by at most a gap that shrinks with trials."""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import median

from lightning_autotune._validation import check_int, check_number
from lightning_autotune.pruners._base import Pruner
from lightning_autotune.pruners._common import (
    finished,
    score_curve,
)
from lightning_autotune.trial import Direction, TrialRecord, TrialState

__all__ = ["AdaptiveThresholdPruner"]


class AdaptiveThresholdPruner(Pruner):
    """Prune a trial that trails the best finished trial's curve by more than an adaptive gap.

    Scores are lower-is-better; `m(s)` is a trial's best score over the steps `<= s` (NaN is
    +inf). At the trial's last step `s`, with `n` finished (COMPLETE or PRUNED) trials:

    - the reference `ref(s) = m_best(s)`, where *best* is the COMPLETE trial with the best final
      score (the incumbent), read on its own curve at the same step;
    - the spread `d(s) = median_F(m(s)) - min_F(m(s))` over the finished trials `F` that reported
      at or before `s` (how far a typical trial is from the front at this step; in the
      objective's own units, so the rule is invariant to shifting and scaling the metric);
    - the gap multiplier
      `w(n) = final_gap + (initial_gap - final_gap) * 0.5 ** ((n - n_startup_trials) / half_life)`
      starts at `initial_gap` and halves its excess over `final_gap` every `half_life` finished
      trials.

    The trial is pruned when `m_trial(s) > ref(s) + w(n) * d(s)`. With the default
    `initial_gap=1` a young study tolerates a trial a whole spread behind the incumbent (about
    the median trial), so a slow starter survives until the study has seen enough; as trials
    finish the gap tightens towards `final_gap` (0.1: only trials near the front go on).

    No decision is made before `n_startup_trials` have finished,
    before a COMPLETE trial exists, at steps `<= n_warmup_steps`, or when `d(s) == 0`.

    Args:
        initial_gap: w at `n_startup_trials` finished trials (>= final_gap).
        final_gap: Limit of w as the study grows (>= 0).
        half_life: Finished trials over which the excess of w halves (> 0).
        n_startup_trials: No pruning until this many trials have finished (>= 1).
        n_warmup_steps: No pruning at steps `<=` this.

    Raises:
        ConfigError: An argument is out of range (the message names it).

    Example:
        >>> p = AdaptiveThresholdPruner(3.0, final_gap=0.25, half_life=4.0, n_startup_trials=5)
        >>> round(p.gap(5), 3), round(p.gap(9), 3)
        (3.0, 1.625)
    """

    def __init__(
        self,
        initial_gap: float = 1.0,
        final_gap: float = 0.1,
        half_life: float = 2.0,
        n_startup_trials: int = 3,
        n_warmup_steps: int = 0,
    ) -> None:
        name = type(self).__name__
        self.final_gap = check_number(final_gap, f"{name}: final_gap", low=0.0)
        self.initial_gap = check_number(initial_gap, f"{name}: initial_gap", low=0.0)
        if self.initial_gap < self.final_gap:
            hint = f"the gap starts at initial_gap and shrinks to final_gap={self.final_gap:g}"
            check_number(initial_gap, f"{name}: initial_gap", low=self.final_gap, hint=hint)
        self.half_life = check_number(half_life, f"{name}: half_life", low=0.0, strict_low=True)
        self.n_startup_trials = check_int(n_startup_trials, f"{name}: n_startup_trials", low=1)
        self.n_warmup_steps = check_int(n_warmup_steps, f"{name}: n_warmup_steps", low=0)

    def __repr__(self) -> str:
        return (
            f"AdaptiveThresholdPruner(initial_gap={self.initial_gap}, "
            f"final_gap={self.final_gap}, half_life={self.half_life}, "
            f"n_startup_trials={self.n_startup_trials}, n_warmup_steps={self.n_warmup_steps})"
        )

    def gap(self, n_finished: int) -> float:
        """The gap multiplier w(n) for `n_finished` finished trials (see the class)."""
        extra = max(0, n_finished - self.n_startup_trials)
        excess = (self.initial_gap - self.final_gap) * 0.5 ** (extra / self.half_life)
        return self.final_gap + excess

    def prune(
        self, trial: TrialRecord, history: Sequence[TrialRecord], direction: Direction
    ) -> bool:
        step = trial.last_step
        if step is None or step <= self.n_warmup_steps:
            return False
        done = finished(history)
        if len(done) < self.n_startup_trials:
            return False
        complete = [
            t
            for t in done
            if t.state is TrialState.COMPLETE and t.values and not math.isnan(t.values[0])
        ]
        if not complete:
            return False
        incumbent = min(complete, key=lambda t: direction.sign * t.values[0])  # type: ignore[index]
        ref = incumbent.best_up_to(step, direction)
        if ref is None or not math.isfinite(ref):
            return False
        front = [t.best_up_to(step, direction) for t in done]
        values = [v for v in front if v is not None and math.isfinite(v)]
        if not values:
            return False
        spread = median(values) - min(values)
        if spread <= 0.0:
            return False
        mine = min(score_curve(trial, direction).values())
        return mine > ref + self.gap(len(done)) * spread
